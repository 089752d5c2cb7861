"""Scriptable output: JSON records with stable keys, times as ISO 8601 in UTC. Printed
through `common.echo`, so no configured secret and no control character reaches the output."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from tracker.cli.common import echo


def iso(ts: float | None) -> str | None:
    """A stored UNIX time as ISO 8601 UTC (``2026-12-02T16:20:00Z``); None stays None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def emit_lines(records: Iterable[Mapping[str, object]]) -> None:
    """One JSON object per line (JSON Lines): easy for `jq`, and streamable."""
    for record in records:
        echo(json.dumps(record, ensure_ascii=False))


def emit(document: Mapping[str, object]) -> None:
    """One JSON document, for reports that are one thing (a check, a feed)."""
    echo(json.dumps(document, ensure_ascii=False, indent=2))
