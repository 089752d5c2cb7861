"""The delivery loop: claim due deliveries, send them per channel, record sent/retry/dead.

Deliveries are written in the same transaction as their match (pipeline.py), so an alert
is never "seen" without being queued. An attempt is counted before sending and a result
recorded after: a crash in between leaves the delivery pending, so it is sent again with
the same idempotency key; only that in-flight delivery can ever arrive twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .log import event
from .models import Alert, SendResult
from .notify import Notifier, digest_key
from .store import DeliveryOutcome, Store

if TYPE_CHECKING:
    from .health import DeliveryStatus, Metrics

_METRIC_STATUS: dict[str, DeliveryStatus] = {"sent": "sent", "pending": "retry", "dead": "dead"}

log = logging.getLogger(__name__)

MAX_RETRY_AFTER_S = 86400.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, and when to give up."""

    max_attempts: int = 10
    base_s: float = 30.0
    max_s: float = 3600.0

    def delay(self, attempts: int, retry_after_s: float | None = None) -> float:
        backoff = min(self.base_s * 2 ** max(attempts - 1, 0), self.max_s)
        backoff *= random.uniform(0.8, 1.2)  # spread retries of a whole batch
        if retry_after_s is not None:
            backoff = max(backoff, min(retry_after_s, MAX_RETRY_AFTER_S))
        return float(backoff)


@dataclass
class DispatchSummary:
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


class Dispatcher:
    """Sends due deliveries through the configured channels."""

    def __init__(
        self,
        store: Store,
        notifiers: Mapping[str, Notifier],
        policy: RetryPolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.notifiers = notifiers
        self.policy = policy
        self.clock = clock
        self.metrics: Metrics | None = None

    async def run_due(self, ignore_backoff: bool = False, limit: int = 500) -> DispatchSummary:
        """One pass over the due deliveries. ``ignore_backoff`` is for one-shot runs, whose
        caller sets the pace; digest times and quiet hours still hold."""
        summary = DispatchSummary()
        alerts = self.store.due_alerts(self.clock(), ignore_backoff, limit)
        # Digests attempted before go out again as the same set (their ``batch``), whole
        # even where ``limit`` cut them; the rest of a channel's due digest alerts make one
        # new digest.
        batches: dict[tuple[str, bool, str | None], list[Alert]] = defaultdict(list)
        for a in alerts:
            batches[(a.channel, a.digest, a.batch if a.digest else None)].append(a)
        by_channel: dict[str, list[tuple[bool, list[Alert]]]] = defaultdict(list)
        for (channel, digest, batch_key), batch in batches.items():
            if batch_key is not None:
                batch = self.store.batch_alerts(batch_key)
            by_channel[channel].append((digest, batch))
        # Channels in parallel: a black-holed webhook must not hold up the email.
        await asyncio.gather(
            *(self._send_channel(ch, work, summary) for ch, work in by_channel.items())
        )
        return summary

    async def _send_channel(
        self, channel: str, work: list[tuple[bool, list[Alert]]], summary: DispatchSummary
    ) -> None:
        notifier = self.notifiers.get(channel)
        for digest, batch in work:
            if notifier is None:
                # Removed (perhaps mid-edit): keep them, try again later; nothing is dropped.
                missing = SendResult(ok=False, detail=f"channel '{channel}' is not configured")
                self._record(batch, [missing] * len(batch), summary, count_attempt=False)
                continue
            # A digest's key is a hash of its members: fixing them fixes the key.
            self.store.begin_attempt(
                [a.delivery_id for a in batch], digest_key(batch) if digest else None
            )
            # A digest is one message: one result, and one retry time, for all its alerts.
            results: list[SendResult] = []
            try:
                async for result in notifier.send(batch, digest):
                    results.append(result)
                    if not digest:
                        # Recorded as soon as known: after a crash, only the delivery in
                        # flight can be sent again.
                        self._record([batch[len(results) - 1]], [result], summary)
            except Exception as exc:  # a channel bug must not stop the others
                log.exception("send crashed", extra={"fields": {"channel": channel}})
                failed = SendResult(ok=False, detail=f"internal error: {exc!r}")
                if digest:
                    results = [failed]
                elif rest := batch[len(results) :]:
                    self._record(rest, [failed] * len(rest), summary)
            if digest and results:
                self._record(batch, [results[0]] * len(batch), summary)

    async def aclose(self) -> None:
        for notifier in self.notifiers.values():
            await notifier.aclose()

    def _record(
        self,
        batch: list[Alert],
        results: list[SendResult],
        summary: DispatchSummary,
        count_attempt: bool = True,
    ) -> None:
        now = self.clock()
        outcomes = []
        # One jittered delay per batch, so a failed digest comes back whole, with its key.
        retry_at = (
            now
            + self.policy.delay(
                batch[0].attempts + 1,
                max((r.retry_after_s or 0 for r in results), default=0) or None,
            )
            if batch
            else now
        )
        for alert, result in zip(batch, results, strict=True):
            attempts = alert.attempts + int(count_attempt)
            if result.ok:
                status, when = "sent", None
                summary.sent += 1
            elif result.permanent or attempts >= self.policy.max_attempts:
                status, when = "dead", None
                summary.dead += 1
            else:
                status = "pending"
                when = (
                    retry_at
                    if len(batch) > 1
                    else now + self.policy.delay(attempts, result.retry_after_s)
                )
                summary.retrying += 1
            if not result.ok:
                summary.errors.append(f"{alert.channel}: {result.detail}")
            outcomes.append(DeliveryOutcome(alert.delivery_id, status, result.detail[:500], when))
            if self.metrics is not None:
                self.metrics.delivery(alert.channel, _METRIC_STATUS[status])
            level = logging.INFO if result.ok else logging.WARNING
            event(
                log,
                level,
                f"delivery.{status}",
                channel=alert.channel,
                topic=alert.topic,
                delivery=alert.key,
                attempts=attempts,
                error=None if result.ok else result.detail[:300],
            )
        self.store.finish_attempt(outcomes, now)
