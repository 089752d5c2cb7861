"""Logging with stable keys: ``event key=value ...`` lines that grep and journald both like."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from tracker.redact import Redactor

_KEY_ORDER = ("feed", "url", "topic", "channel", "delivery", "status", "error")


def event(logger: logging.Logger, level: int, name: str, **fields: Any) -> None:
    """Log event ``name`` with fields; the formatter renders them as key=value pairs."""
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={"fields": fields})


# Control characters from feeds and servers (ESC, NUL, line breaks) must not reach a
# terminal or a log viewer raw: each becomes a visible escape, as do the bidirectional
# controls (text.UNSAFE_CONTROLS: an override would make the line read backwards).
_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)
_CONTROL = (
    {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
    | {c: f"\\u{c:04x}" for c in _BIDI}
    | {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}
)
_NEEDS_QUOTES = frozenset(' "=\\') | {chr(c) for c in _CONTROL}


def _quote(value: Any) -> str:
    text = str(value)
    if text == "" or not _NEEDS_QUOTES.isdisjoint(text):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').translate(_CONTROL) + '"'
    return text


class KeyValueFormatter(logging.Formatter):
    """``[time] level event k=v ...``; no timestamp under journald, which adds its own.

    Configured secrets are masked in every line: a password that reaches an error message
    (a server echoing it, a URL with credentials) never reaches the log.
    """

    def __init__(self, with_time: bool, redact: Redactor | None = None) -> None:
        super().__init__()
        self.with_time = with_time
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {})
        ordered = sorted(
            fields.items(),
            key=lambda kv: (_KEY_ORDER.index(kv[0]) if kv[0] in _KEY_ORDER else 99, kv[0]),
        )
        redact = self.redact
        # Each part masked once, on its own: a value cut short (an answer kept to 300
        # characters) may end in the head of a secret, which shows only at its end.
        parts = [record.levelname.lower(), redact(record.getMessage())]
        parts += [f"{k}={_quote(redact(str(v)))}" for k, v in ordered if v is not None]
        line = " ".join(parts)
        if self.with_time:
            line = f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} {line}"
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        return line


def setup(level: str = "info", redact: Redactor | None = None) -> None:
    """Send tracker's logs to stderr; journald (JOURNAL_STREAM set) gets no timestamps.
    ``redact`` masks the configured secrets (in every form it knows) in every line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        KeyValueFormatter(with_time="JOURNAL_STREAM" not in os.environ, redact=redact)
    )
    root = logging.getLogger("tracker")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    # APScheduler logs every job run at INFO (noise at a tick per second), but its warnings
    # and errors (a job that raised, a skipped run) must be seen.
    aps = logging.getLogger("apscheduler")
    aps.handlers[:] = [handler]
    aps.setLevel(logging.WARNING)
    aps.propagate = False
    logging.getLogger("httpx").setLevel(logging.WARNING)
