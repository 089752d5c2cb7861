"""Waits made visible: how many feeds wait in backoff or under a server's Retry-After, and
when the next poll is due; logged by the daemon at start and hourly, and the feeds a
one-shot run skips."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from tracker.log import event
from tracker.store.facade import FeedWait, Store, WaitCounts
from tracker.units import format_duration

log = logging.getLogger(__name__)

# How often the daemon logs the waits (and once at start).
WAITS_EVERY_S = 3600.0


def _utc(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def log_waits(store: Store, now: float) -> WaitCounts:
    """Log ``feeds.waiting``: feeds, backoff, held (and until when), next poll due."""
    w = store.feed_wait_counts(now)
    due = w.next_poll_at
    event(
        log,
        logging.INFO,
        "feeds.waiting",
        feeds=w.feeds,
        backoff=w.backoff,
        held=w.held,
        held_until=_utc(w.held_until),
        next_poll_at=_utc(due),
        next_poll_in=None if due is None else format_duration(max(0, round(due - now))),
    )
    return w


def skipped(store: Store, now: float) -> list[FeedWait]:
    """The active feeds a one-shot run leaves alone: a server asked them to wait."""
    return store.feed_waits(now, held_only=True)
