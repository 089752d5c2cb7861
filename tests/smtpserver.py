"""A real SMTP server on 127.0.0.1 (aiosmtpd) that records messages and can misbehave."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Recorder:
    """aiosmtpd handler: keeps every accepted message; answers 451/550 on demand."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.temp_failures = 0  # answer 451 to this many DATA commands first
        self.permanent = False  # answer 550 to every DATA
        self.sessions = 0
        self.lock = threading.Lock()

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.permanent:
                return "550 5.7.1 Message rejected as spam"
            if self.temp_failures > 0:
                self.temp_failures -= 1
                return "451 4.3.0 Try again later"
            raw = envelope.original_content or envelope.content
            self.raw.append(raw)
            self.messages.append(
                email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[arg-type]
            )
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 2.0.0 OK queued"


class SMTPServer:
    """Start/stop at will: stopped, the port refuses connections (an SMTP outage)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.handler = Recorder()
        self._controller: Controller | None = None

    def start(self) -> SMTPServer:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SMTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
