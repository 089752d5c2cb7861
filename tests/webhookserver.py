"""A webhook receiver on 127.0.0.1 (pytest-httpserver) that records requests and can fail."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

SCHEMA_PATH = Path(__file__).parent.parent / "docs" / "webhook-payload.schema.json"
VALIDATOR = jsonschema.Draft202012Validator(
    json.loads(SCHEMA_PATH.read_text()), format_checker=jsonschema.FormatChecker()
)


def schema_errors(body: Any) -> list[str]:
    """Where ``body`` breaks docs/webhook-payload.schema.json (empty: it is valid)."""
    return [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(body)]


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers the queued statuses first (e.g. five 500s), then 200."""

    http: HTTPServer
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    delay_s: float = 0.0
    # The body of every answer, instead of "ok" / "server says no" (an iterator: streamed).
    answer: bytes | Iterator[bytes] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Every payload tracker's webhook channel sent that breaks the documented schema.
    invalid: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.http.url_for("/hook")

    def stop(self) -> None:
        """Stop the server; fail if any payload broke the documented schema."""
        self.http.stop()
        assert not self.invalid, (
            f"payloads outside docs/webhook-payload.schema.json: {self.invalid}"
        )

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if 200 <= r.status < 300]

    def handle(self, request: Request) -> Response:
        if self.delay_s:
            time.sleep(self.delay_s)
        with self.lock:
            status, headers = self.script.pop(0) if self.script else (200, {})
            self.received.append(Received(request.get_data(), dict(request.headers), status))
            if request.headers.get("User-Agent", "").startswith("tracker-webhook/"):
                self.invalid.extend(schema_errors(json.loads(request.get_data())))
        body: bytes | Iterator[bytes] = b"ok" if status < 300 else b"server says no"
        if self.answer is not None:
            body = self.answer
        return Response(body, status=status, headers=headers)


def start_receiver() -> Receiver:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    http = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    receiver = Receiver(http)
    http.expect_request("/hook", method="POST").respond_with_handler(receiver.handle)
    http.start()
    return receiver
