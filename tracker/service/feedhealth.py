"""Feed health: a feed that keeps failing, or goes silent far longer than its usual cadence,
raises one admin notice, and one more when it recovers; never one per cycle.

The state lives on the feed's row (``feeds.health``), so a restart does not repeat notices.
Notices go through the outbox to ``delivery.admin`` like any alert (retried, never lost).
"""

from __future__ import annotations

import itertools
import logging
import statistics
import time
from collections.abc import Callable

from tracker.log import event
from tracker.models import FeedState, HealthStatus, PollOutcome
from tracker.store.facade import Store
from tracker.units import format_duration

log = logging.getLogger(__name__)

CADENCE_SAMPLES = 12  # recent publication (or news-bringing poll) times a cadence is learnt from
MIN_SAMPLES = 4


class FeedHealthMonitor:
    """Tracks failing and silent feeds and queues admin notices on each transition."""

    def __init__(
        self,
        store: Store,
        admin_channel: str | None,
        fail_after: int,
        silent_factor: float,
        min_silence_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.admin = admin_channel
        self.fail_after = fail_after
        self.silent_factor = silent_factor
        self.min_silence_s = min_silence_s
        self.clock = clock

    def after_poll(self, state: FeedState, outcome: PollOutcome) -> bool:
        """Record a transition caused by this poll; True when a notice was queued."""
        if outcome.ok and not outcome.new_entries and state.health is HealthStatus.OK:
            # No read: the row said ok when this poll's state was read, and a success that
            # brought no entry can only end a failing spell, which only this feed's own
            # failed polls begin (its polls never overlap). A silence begun meanwhile is
            # ended by a poll with news, which reads. Most polls are such 304s.
            return False
        health, errors, last_error, last_success = self.store.feed_health(state.id)
        if not outcome.ok and health is not HealthStatus.FAILING and errors >= self.fail_after:
            since = (
                f"; last success {format_duration(self.clock() - last_success)} ago"
                if (last_success)
                else "; it never succeeded"
            )
            return self._transition(
                state,
                HealthStatus.FAILING,
                f"feed failing: {state.name}",
                f"{state.name} ({state.url}) failed {errors} times in a row{since}.\n"
                f"Last error: {last_error}",
            )
        if outcome.ok and health is HealthStatus.FAILING:
            return self._transition(
                state,
                HealthStatus.OK,
                f"feed recovered: {state.name}",
                f"{state.name} ({state.url}) answers again.",
            )
        # New entries, not new articles: a feed whose news another feed always brings first
        # is publishing all the same (silence is measured on entries too).
        if outcome.ok and outcome.new_entries and health is HealthStatus.SILENT:
            return self._transition(
                state,
                HealthStatus.OK,
                f"feed recovered: {state.name}",
                f"{state.name} ({state.url}) has new items again.",
            )
        return False

    def check_silence(self) -> int:
        """Mark feeds silent for far longer than their usual cadence; returns notices queued."""
        now = self.clock()
        queued = 0
        for feed_id, name in self.store.healthy_feeds():
            polls = self.store.new_item_times(feed_id, CADENCE_SAMPLES)
            cadence = self._cadence(feed_id, polls, now)
            if cadence is None:
                continue  # too little history to know what is usual
            silence = now - polls[0]
            if silence > max(self.silent_factor * cadence, self.min_silence_s):
                state = FeedState(feed_id, "", name, None, None, None, True, 0)
                queued += self._transition(
                    state,
                    HealthStatus.SILENT,
                    f"feed silent: {name}",
                    f"{name} has brought no new items for {format_duration(silence)}; it usually"
                    f" does every {format_duration(cadence)}. Check that the feed still works"
                    " and still publishes.",
                )
        return queued

    def _cadence(self, feed_id: int, polls: list[float], now: float) -> float | None:
        """The feed's usual gap between new items: the median gap between its items'
        publication times (one baseline poll is enough), else between the polls that
        brought news; None while neither has ``MIN_SAMPLES`` distinct times."""
        for times in (self.store.publication_times(feed_id, now, CADENCE_SAMPLES), polls):
            if len(times) >= MIN_SAMPLES:
                gap = statistics.median(a - b for a, b in itertools.pairwise(times))
                if gap > 0:
                    return gap
        return None

    def _transition(self, state: FeedState, health: HealthStatus, subject: str, body: str) -> bool:
        now = self.clock()
        self.store.set_feed_health(state.id, health)
        event(
            log,
            logging.WARNING if health is not HealthStatus.OK else logging.INFO,
            "feed.health",
            feed=state.name,
            status=health,
            channel=self.admin,
        )
        if self.admin is None:
            return False
        self.store.add_notice(f"feed-{health}", subject, body, self.admin, now)
        return True
