"""SMTP delivery: one connection per batch, multipart plain text + HTML, stable Message-IDs.

smtplib is blocking, so each batch runs in a worker thread.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from collections.abc import AsyncGenerator
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formatdate, parseaddr
from typing import assert_never

from tracker.delivery.channels import digest_key, register
from tracker.delivery.channels.blocking import run_blocking
from tracker.delivery.channels.render import clean_header, render_html, render_text, subject
from tracker.models import Alert, SendKind, SendResult
from tracker.settings import EmailSettings, SmtpSecurity
from tracker.text import fold


class _Policy(EmailPolicy):
    """The default policy, but Subject folded by ``fold_subject`` (see there why)."""

    def fold(self, name: str, value: str) -> str:
        if name.lower() == "subject":
            return fold_subject(str(value), self.linesep, self.max_line_length or 78)
        folded: str = super().fold(name, value)
        return folded

    def fold_binary(self, name: str, value: str) -> bytes:
        if name.lower() == "subject":
            folded = fold_subject(str(value), self.linesep, self.max_line_length or 78)
            return folded.encode("ascii")
        return super().fold_binary(name, value)


_POLICY = _Policy(max_line_length=78)
_ENCODED_WORD_MAX = 75  # RFC 2047: an encoded word is at most 75 characters


def _encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 Q encoded words, each at most 75 characters, split between chars."""
    words: list[str] = []
    current = ""
    for ch in text:
        if ch == " ":
            piece = "_"
        elif ch.isascii() and (ch.isalnum() or ch in "!*+-/"):
            piece = ch
        else:
            piece = "".join(f"={b:02X}" for b in ch.encode("utf-8"))
        if len("=?utf-8?q?" + current + piece + "?=") > _ENCODED_WORD_MAX:
            words.append(f"=?utf-8?q?{current}?=")
            current = ""
        current += piece
    if current:
        words.append(f"=?utf-8?q?{current}?=")
    return words


def fold_subject(subject: str, linesep: str = "\n", width: int = 78) -> str:
    """``Subject: …`` folded at spaces to ``width`` columns, the first words on the first line.

    Python's folder moves a first word that does not fit (a long ``subject_prefix`` or
    topic) to a line of its own, leaving ``Subject:`` bare. Here ASCII words stay as they
    are, runs of non-ASCII words become Q encoded words (the space before a run goes inside
    it, as whitespace between encoded words is not text), and a line breaks only between
    tokens, never before the first.
    """
    # Between two encoded words whitespace (a space or a fold) is not text, so any two
    # tokens may be joined by either; the space of the text sits inside the encoded word.
    tokens: list[str] = []
    previous_encoded = False
    for word in subject.split(" "):
        if not word:
            continue
        if word.isascii() and not word.startswith("=?"):
            tokens.append(word)
            previous_encoded = False
        else:
            tokens.extend(_encoded_words((" " if previous_encoded else "") + word))
            previous_encoded = True
    lines = ["Subject:"]
    for token in tokens:
        if lines[-1] == "Subject:" or len(lines[-1]) + 1 + len(token) <= width:
            lines[-1] += " " + token
        else:
            lines.append(" " + token)
    return linesep.join(lines) + linesep


def mail_domain(ch: EmailSettings) -> str:
    """The Message-ID and List-Id domain: configured, else the From address's, IDNA-encoded."""
    if ch.message_id_domain:
        return ch.message_id_domain.lower()
    domain = parseaddr(ch.sender)[1].rpartition("@")[2].strip().rstrip(".")
    try:
        domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return "tracker.invalid"
    return domain if _DOMAIN.fullmatch(domain) else "tracker.invalid"


_DOMAIN = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


def list_label(topic: str) -> str:
    """A topic as a List-Id label (RFC 2919 dot-atom): lower-case letters, digits, dashes."""
    label = re.sub(r"[^a-z0-9]+", "-", fold(topic)).strip("-")[:50].strip("-")
    if label:
        return label
    return "t" + hashlib.sha256(topic.encode()).hexdigest()[:12]


def list_id(alerts: list[Alert], domain: str) -> str:
    """RFC 2919 ``List-Id``: one per topic, so a mail rule can file each topic."""
    topics = list(dict.fromkeys(a.topic for a in alerts))
    if any(a.notice is not None for a in alerts):
        return f"tracker notices <notices.tracker.{domain}>"
    if len(topics) == 1:
        name = clean_header(topics[0], 80).replace("\\", "").replace('"', "'")
        return f'"tracker: {name}" <{list_label(topics[0])}.topic.tracker.{domain}>'
    return f"tracker digest <digest.tracker.{domain}>"


def build_message(ch: EmailSettings, alerts: list[Alert], key: str) -> EmailMessage:
    """One email for ``alerts`` (one alert, a digest, or a notice), identified by ``key``."""
    subj = subject(alerts, ch.subject_prefix)
    domain = mail_domain(ch)
    msg = EmailMessage(policy=_POLICY)
    msg["Subject"] = subj
    msg["From"] = ch.sender
    msg["To"] = ", ".join(ch.to)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    # Stable per delivery: a resend after a crash carries the same Message-ID.
    msg["Message-ID"] = f"<{key}@{domain}>"
    msg["List-Id"] = list_id(alerts, domain)
    notice = alerts[0].notice if len(alerts) == 1 else None
    if notice is not None:
        msg["X-Tracker-Notice"] = str(notice)
    else:
        topics = dict.fromkeys(a.topic for a in alerts)
        msg["X-Tracker-Topic"] = clean_header(", ".join(topics), 900)
    # X-Tracker-Story (the story's id, for threading) comes with the stories issue.
    msg["X-Tracker-Idempotency-Key"] = clean_header(key)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(render_text(alerts, key, subj, ch.timezone))
    msg.add_alternative(render_html(alerts, key, subj, ch.timezone), subtype="html")
    return msg


def _code_result(code: int, text: bytes | str) -> SendResult:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    detail = f"SMTP {code} {message}".strip()
    return SendResult(SendKind.PERMANENT if 500 <= code < 600 else SendKind.RETRY, detail)


@register(EmailSettings)
class EmailNotifier:
    """Sends alerts through one SMTP server, one connection per batch."""

    def __init__(self, name: str, ch: EmailSettings) -> None:
        self.name = name
        self.ch = ch

    async def send(self, alerts: list[Alert], digest: bool) -> AsyncGenerator[SendResult, None]:
        if digest:
            messages = [build_message(self.ch, alerts, digest_key(alerts))]
        else:
            messages = [build_message(self.ch, [a], a.key) for a in alerts]
        # Connecting may take a few round trips (EHLO, STARTTLS, AUTH): several timeouts.
        try:
            smtp = await run_blocking(self._connect, self.ch.timeout_s * 4, "smtp")
        except smtplib.SMTPResponseException as exc:
            # A refusal at connect or login holds for the whole batch; 5xx here is usually
            # configuration (bad password), which an admin can fix: retry, don't dead-letter.
            failed = SendResult(SendKind.RETRY, _code_result(exc.smtp_code, exc.smtp_error).detail)
            for _ in messages:
                yield failed
            return
        except (OSError, smtplib.SMTPException, TimeoutError) as exc:
            hint = ""
            if isinstance(exc, ssl.SSLCertVerificationError):
                hint = " (for a server with a private CA, set ca_file)"
            failed = SendResult(
                SendKind.TRANSPORT, f"SMTP connection failed: {type(exc).__name__}: {exc}{hint}"
            )
            for _ in messages:
                yield failed
            return
        try:
            for i, msg in enumerate(messages):
                result = await self._send_one(smtp, msg)
                yield result
                if result.kind is SendKind.CONNECTION_LOST:
                    for _ in messages[i + 1 :]:
                        yield result
                    return
        finally:
            await run_blocking(lambda: _quit(smtp), self.ch.timeout_s, "smtp")

    async def _send_one(self, smtp: smtplib.SMTP, msg: EmailMessage) -> SendResult:
        try:
            refused = await run_blocking(
                lambda: smtp.send_message(msg), self.ch.timeout_s * 4, "smtp"
            )
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            text = "; ".join(f"{r}: {c} {m!r}" for r, (c, m) in exc.recipients.items())
            kind = SendKind.PERMANENT if all(c >= 500 for c in codes) else SendKind.RETRY
            return SendResult(kind, f"recipients refused: {text}")
        except smtplib.SMTPResponseException as exc:
            return _code_result(exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPServerDisconnected, TimeoutError) as exc:
            return SendResult(
                SendKind.CONNECTION_LOST, f"SMTP connection lost: {type(exc).__name__} {exc}"
            )
        note = f"; refused: {', '.join(refused)}" if refused else ""
        return SendResult(SendKind.ACCEPTED, f"accepted{note}")

    async def aclose(self) -> None:
        return None

    def _connect(self) -> smtplib.SMTP:
        ch = self.ch
        # A private CA replaces the system's store; verification is never turned off.
        context = ssl.create_default_context(cafile=str(ch.ca_file) if ch.ca_file else None)
        smtp: smtplib.SMTP
        match ch.security:
            case SmtpSecurity.TLS:
                smtp = smtplib.SMTP_SSL(ch.host, ch.port, timeout=ch.timeout_s, context=context)
            case SmtpSecurity.STARTTLS:
                smtp = smtplib.SMTP(ch.host, ch.port, timeout=ch.timeout_s)
                smtp.starttls(context=context)
            case SmtpSecurity.NONE:
                smtp = smtplib.SMTP(ch.host, ch.port, timeout=ch.timeout_s)
            case _:
                assert_never(ch.security)
        if ch.username:
            smtp.login(ch.username, ch.password or "")
        return smtp


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
