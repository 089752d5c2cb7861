"""SMTP delivery: one connection per batch, multipart plain text + HTML, stable Message-IDs.

smtplib is blocking, so each batch runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from ..config import EmailChannel
from ..models import Alert, SendResult
from . import digest_key
from .render import clean_header, render_html, render_text, subject


def build_message(ch: EmailChannel, alerts: list[Alert], key: str) -> EmailMessage:
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
    return SendResult(ok=False, detail=detail, permanent=500 <= code < 600)


class EmailNotifier:
    """Sends alerts through one SMTP server."""

    def __init__(self, name: str, ch: EmailChannel) -> None:
        self.name = name
        self.ch = ch

    async def send(self, alerts: list[Alert], digest: bool) -> list[SendResult]:
        if digest:
            msg = build_message(self.ch, alerts, digest_key(alerts))
            (result,) = await asyncio.to_thread(self._send_sync, [msg])
            return [result] * len(alerts)
        messages = [build_message(self.ch, [a], a.key) for a in alerts]
        return await asyncio.to_thread(self._send_sync, messages)

    async def aclose(self) -> None:
        return None

    def _connect(self) -> smtplib.SMTP:
        ch = self.ch
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if ch.security == "tls":
            smtp = smtplib.SMTP_SSL(ch.host, ch.effective_port, timeout=ch.timeout, context=context)
        else:
            smtp = smtplib.SMTP(ch.host, ch.effective_port, timeout=ch.timeout)
            if ch.security == "starttls":
                smtp.starttls(context=context)
        if ch.username:
            password = ch.password.get_secret_value() if ch.password else ""
            smtp.login(ch.username, password)
        return smtp

    def _send_sync(self, messages: list[EmailMessage]) -> list[SendResult]:
        try:
            smtp = self._connect()
        except smtplib.SMTPResponseException as exc:
            # A refusal at connect or login holds for the whole batch; 5xx here is usually
            # configuration (bad password), which an admin can fix: retry, don't dead-letter.
            detail = _code_result(exc.smtp_code, exc.smtp_error).detail
            return [SendResult(ok=False, detail=detail)] * len(messages)
        except (OSError, smtplib.SMTPException) as exc:
            detail = f"SMTP connection failed: {type(exc).__name__}: {exc}"
            return [SendResult(ok=False, detail=detail)] * len(messages)
        results: list[SendResult] = []
        try:
            for i, msg in enumerate(messages):
                try:
                    refused = smtp.send_message(msg)
                except smtplib.SMTPRecipientsRefused as exc:
                    codes = [code for code, _ in exc.recipients.values()]
                    text = "; ".join(f"{r}: {c} {m!r}" for r, (c, m) in exc.recipients.items())
                    results.append(
                        SendResult(
                            ok=False,
                            detail=f"recipients refused: {text}",
                            permanent=all(c >= 500 for c in codes),
                        )
                    )
                    continue
                except smtplib.SMTPResponseException as exc:
                    results.append(_code_result(exc.smtp_code, exc.smtp_error))
                    continue
                except (OSError, smtplib.SMTPServerDisconnected) as exc:
                    lost = SendResult(ok=False, detail=f"SMTP connection lost: {exc}")
                    results += [lost] * (len(messages) - i)
                    break
                note = f"; refused: {', '.join(refused)}" if refused else ""
                results.append(SendResult(ok=True, detail=f"accepted{note}"))
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        return results
