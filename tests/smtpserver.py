"""A real SMTP server on 127.0.0.1 (aiosmtpd) that records messages and can misbehave."""

from __future__ import annotations

import base64
import email
import email.policy
import socket
import ssl
import threading
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


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
        self.encrypted: list[bool] = []  # per accepted message: did it come over TLS?
        self.logins: list[tuple[str, str]] = []  # (user, password) of every AUTH attempt
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
            tls = server.transport.get_extra_info("ssl_object") is not None
            self.encrypted.append(tls or session.ssl is not None)
        return "250 2.0.0 OK queued"


class SMTPServer:
    """Start/stop at will: stopped, the port refuses connections (an SMTP outage).

    ``starttls`` offers (and requires) STARTTLS with that server context; ``implicit_tls``
    speaks TLS from the first byte (port 465 style); ``users`` requires AUTH with one of
    these user/password pairs.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        users: dict[str, str] | None = None,
        exclude_mechanisms: tuple[str, ...] = (),
        echo_failed_login: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.handler = Recorder()
        self._controller: Controller | None = None
        self._starttls = starttls
        self._implicit_tls = implicit_tls
        self._users = users
        self._exclude = exclude_mechanisms
        # A careless server: a refused login's 535 quotes what it got (AUTH PLAIN's base64
        # and the password), as some do in their logs and answers.
        self._echo = echo_failed_login

    def start(self) -> SMTPServer:
        params: dict[str, Any] = {}
        if self._starttls is not None:
            params.update(tls_context=self._starttls, require_starttls=True)
        if self._users is not None:
            # Over implicit TLS aiosmtpd does not see a STARTTLS, so it must not insist.
            params.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self._implicit_tls is None,
                auth_exclude_mechanism=list(self._exclude),
            )
        self._controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            ssl_context=self._implicit_tls,
            server_hostname="127.0.0.1",
            **params,
        )
        self._controller.start()
        return self

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        with self.handler.lock:
            self.handler.logins.append((user, password))
        ok = self._users is not None and self._users.get(user) == password
        if not ok and self._echo:
            plain = base64.b64encode(b"\0" + auth_data.login + b"\0" + auth_data.password)
            return AuthResult(
                success=False,
                handled=False,
                message=f"535 5.7.8 Authentication failed for {plain.decode()} ({password})",
            )
        return AuthResult(success=ok, handled=False)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SMTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
