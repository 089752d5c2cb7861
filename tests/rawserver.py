"""Raw TCP servers on 127.0.0.1 for protocol-level misbehaviour the ready-made servers
(feedserver, smtpserver, webhookserver) cannot produce."""

from __future__ import annotations

import socket
import threading
from types import TracebackType


class RawServer:
    """Runs ``session(conn)`` on a thread per connection until closed; ``stop`` is set then."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def session(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        with conn:
            try:
                self.session(conn)
            except OSError:
                return  # the client went away

    def close(self) -> None:
        self.stop.set()
        self._server.close()

    def __enter__(self) -> RawServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class DripServer(RawServer):
    """Answers 200, then one byte at a time for ever: every read comes within any per-read
    timeout, but the answer never ends."""

    def session(self, conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n<")
        while not self.stop.wait(0.2):
            conn.sendall(b" ")


class GarbledServer(RawServer):
    """Answers with a status line that is not HTTP."""

    def session(self, conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTX/1.1 200 OK\r\n\r\n<rss/>")
