"""SMTP delivery: one connection per batch, multipart plain text + HTML, stable Message-IDs.

smtplib is blocking, so each batch runs in a worker thread.
"""

from __future__ import annotations

import base64
import hashlib
import re
import smtplib
import socket
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
    story = alerts[0].story_id if len(alerts) == 1 else None
    if story is not None:
        msg["X-Tracker-Story"] = str(story)
    thread = alerts[0].thread_key if len(alerts) == 1 else None
    if thread is not None:
        # A story's follow-up: threaded under its first alert, whose Message-ID is its key.
        msg["In-Reply-To"] = f"<{thread}@{domain}>"
        msg["References"] = f"<{thread}@{domain}>"
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
        except ConnectFailed as exc:
            failed = SendResult(SendKind.TRANSPORT, str(exc))
            for _ in messages:
                yield failed
            return
        except TimeoutError:
            # The overall deadline: a server that drips its answers.
            failed = SendResult(
                SendKind.TRANSPORT,
                f"SMTP connection failed: no session within {self.ch.timeout_s * 4:g}s",
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
        """Connect, secure and log in (in a worker thread); a failure that is not a server's
        answer becomes ConnectFailed, with a hint when the situation tells what is wrong."""
        ch = self.ch
        # A private CA replaces the system's store; verification is never turned off.
        context = ssl.create_default_context(cafile=str(ch.ca_file) if ch.ca_file else None)
        smtp: smtplib.SMTP | None = None
        greeted = False  # the server's 220 arrived (over TLS, for security: tls)
        try:
            match ch.security:
                case SmtpSecurity.TLS:
                    smtp = smtplib.SMTP_SSL(ch.host, ch.port, timeout=ch.timeout_s, context=context)
                case SmtpSecurity.STARTTLS | SmtpSecurity.NONE:
                    smtp = smtplib.SMTP(ch.host, ch.port, timeout=ch.timeout_s)
                case _:
                    assert_never(ch.security)
            greeted = True
            if ch.security is SmtpSecurity.STARTTLS:
                smtp.starttls(context=context)
            if ch.username:
                login(smtp, ch.username, ch.password or "")
        except smtplib.SMTPResponseException:
            if smtp is not None:
                smtp.close()
            raise  # the server's own answer (a refused login): the caller reports its code
        except (OSError, smtplib.SMTPException) as exc:
            if smtp is not None:
                smtp.close()
            hint = self._hint(exc, greeted)
            raise ConnectFailed(
                f"SMTP connection failed: {type(exc).__name__}: {exc}"
                + (f" ({hint})" if hint else "")
            ) from exc
        return smtp

    def _hint(self, exc: BaseException, greeted: bool) -> str | None:
        """What to change, decided on the error's class and what the server does, never on
        the message text."""
        ch = self.ch
        if isinstance(exc, ssl.SSLCertVerificationError):
            if exc.verify_code == _X509_HOSTNAME_MISMATCH:
                return f"the server's certificate is not valid for the host name {ch.host}"
            if ch.ca_file is not None:
                return (
                    f"the server's certificate is not signed by the CA in ca_file {ch.ca_file}:"
                    " check that it is the CA that issued this server's certificate"
                )
            return "for a server with a private CA, set ca_file"
        if (
            ch.security is SmtpSecurity.TLS
            and isinstance(exc, ssl.SSLError)
            and _speaks_plain_smtp(ch.host, ch.port, ch.timeout_s)
        ):
            return "the server speaks plain SMTP first: use security: starttls"
        if (
            ch.security is not SmtpSecurity.TLS
            and not greeted
            and isinstance(exc, TimeoutError | smtplib.SMTPServerDisconnected | ConnectionError)
            and _speaks_tls(ch.host, ch.port, ch.timeout_s)
        ):
            return "the server expects TLS from the first byte (port 465 style): use security: tls"
        return None


class ConnectFailed(Exception):
    """No usable SMTP session: the connection, TLS or the login failed (not an SMTP answer)."""


# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH: the certificate is for another name.
_X509_HOSTNAME_MISMATCH = 62


def login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """Log in with UTF-8 credentials (smtplib encodes them as ASCII, and its error would
    carry the password): AUTH PLAIN (RFC 4616) or AUTH LOGIN, whichever the server offers,
    else smtplib's own login (CRAM-MD5) for ASCII credentials."""
    smtp.ehlo_or_helo_if_needed()
    if not smtp.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
    offered = smtp.esmtp_features["auth"].upper().split()
    if "PLAIN" in offered:
        token = _b64("\0" + user + "\0" + password)
        code, resp = smtp.docmd("AUTH", "PLAIN " + token)
    elif "LOGIN" in offered:
        code, resp = smtp.docmd("AUTH", "LOGIN")
        if code == 334:
            code, resp = smtp.docmd(_b64(user))
        if code == 334:
            code, resp = smtp.docmd(_b64(password))
    elif user.isascii() and password.isascii():
        smtp.login(user, password)
        return
    else:
        raise smtplib.SMTPException(
            f"the server offers only {', '.join(offered) or 'no'} AUTH mechanisms, which"
            " cannot carry non-ASCII credentials (PLAIN or LOGIN can)"
        )
    if code not in (235, 503):  # 503: already authenticated
        raise smtplib.SMTPAuthenticationError(code, resp)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _speaks_plain_smtp(host: str, port: int, timeout_s: float) -> bool:
    """Does the server greet in clear (``220``), as a STARTTLS or plain port does?"""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            greeting = sock.recv(4)
    except OSError:
        return False
    return len(greeting) == 4 and greeting[:3].isdigit() and greeting[3:4] in (b" ", b"-")


def _speaks_tls(host: str, port: int, timeout_s: float) -> bool:
    """Does the server answer a TLS handshake, as an implicit-TLS port does? Only the
    handshake: nothing is sent over it, so not verifying this certificate costs nothing."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=timeout_s) as sock,
            probe.wrap_socket(sock, server_hostname=host),
        ):
            return True
    except OSError:
        return False


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
