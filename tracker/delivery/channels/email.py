"""SMTP delivery: one connection per batch, multipart plain text + HTML, stable Message-IDs.

smtplib is blocking, so each batch runs in a worker thread.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import AsyncGenerator
from email.message import EmailMessage
from email.utils import formatdate
from typing import assert_never

from tracker.delivery.channels import digest_key, register
from tracker.delivery.channels.blocking import run_blocking
from tracker.delivery.channels.render import clean_header, render_html, render_text, subject
from tracker.models import Alert, SendKind, SendResult
from tracker.settings import EmailSettings, SmtpSecurity


def build_message(ch: EmailSettings, alerts: list[Alert], key: str) -> EmailMessage:
    """One email for ``alerts`` (one alert, or a digest), identified by ``key``."""
    subj = subject(alerts, ch.subject_prefix)
    msg = EmailMessage()
    msg["Subject"] = subj
    msg["From"] = ch.sender
    msg["To"] = ", ".join(ch.to)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    # Stable per delivery: a resend after a crash carries the same Message-ID.
    msg["Message-ID"] = f"<{key}@tracker.invalid>"
    msg["X-Tracker-Idempotency-Key"] = clean_header(key)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(render_text(alerts, key, subj))
    msg.add_alternative(render_html(alerts, key, subj), subtype="html")
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
