"""How `tracker alerts` shows deliveries: the table (feed and link columns, the whole last
error) and the documented `--json` record."""

from __future__ import annotations

from collections.abc import Sequence

from tracker.cli.common import ago, print_table
from tracker.cli.jsonout import iso
from tracker.models import DeliveryStatus
from tracker.store.facade import DeliveryView


def delivery_record(r: DeliveryView) -> dict[str, object]:
    """The documented `tracker alerts --json` record."""
    pending = r.status is DeliveryStatus.PENDING
    return {
        "id": r.id,
        "created": iso(r.created_at),
        "channel": r.channel,
        "topic": r.topic,
        "status": str(r.status),
        "digest": r.digest,
        "attempts": r.attempts,
        "title": r.title,
        "feed": r.feed,
        "link": r.link,
        "next_try": iso(max(r.not_before, r.next_attempt_at)) if pending else None,
        "sent": iso(r.sent_at),
        "last_error": r.last_error,
    }


def print_deliveries(rows: Sequence[DeliveryView], now: float) -> None:
    table = [
        (
            "ID",
            "CREATED",
            "CHANNEL",
            "TOPIC",
            "STATUS",
            "TRIES",
            "FEED",
            "TITLE",
            "LINK",
            "LAST ERROR",
        )
    ]
    for r in rows:
        state: str = r.status
        if r.status is DeliveryStatus.PENDING:
            when = max(r.not_before, r.next_attempt_at)
            state = f"pending ({'digest ' if r.digest else ''}{ago(when, now)})"
        table.append(
            (
                str(r.id),
                ago(r.created_at, now),
                r.channel,
                r.topic,
                state,
                str(r.attempts),
                r.feed or "-",
                r.title[:50],
                r.link or "-",
                # Whole, last: a cause cut in the middle is no cause.
                "" if r.status is DeliveryStatus.CANCELLED else (r.last_error or ""),
            )
        )
    print_table(table)
