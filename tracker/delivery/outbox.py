"""The delivery loop: claim due deliveries, send them per channel, record sent/retry/dead.

Deliveries are written in the same transaction as their match (pipeline.py), so an alert
is never "seen" without being queued. An attempt is counted before sending and a result
recorded after: a crash in between leaves the delivery pending, so it is sent again with
the same idempotency key; only that in-flight delivery can ever arrive twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import defaultdict
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, assert_never

from tracker.backoff import Backoff, delivery_backoff
from tracker.delivery.channels import Notifier, digest_key
from tracker.errors import StoreError
from tracker.log import event
from tracker.models import Alert, DeliveryStatus, SendKind, SendResult
from tracker.store.facade import DeliveryOutcome, Store

log = logging.getLogger(__name__)


class DeliveryMetrics(Protocol):
    """Where the dispatcher counts outcomes (service.http.Metrics in the daemon)."""

    def delivery_outcome(self, channel: str, status: DeliveryStatus) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """When to retry a delivery (``backoff.delivery_backoff``), and when to give up."""

    max_attempts: int = 10
    base_s: float = 30.0
    max_s: float = 3600.0

    @property
    def backoff(self) -> Backoff:
        return delivery_backoff(self.base_s, self.max_s)

    def delay(self, attempts: int, retry_after_s: float | None = None) -> float:
        """Seconds until the next attempt after ``attempts`` failed ones."""
        return self.backoff.delay(attempts, retry_after_s)


@dataclass
class DispatchSummary:
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


class Dispatcher:
    """Sends due deliveries through the configured channels.

    Each channel sends from its own task, so a slow or failing channel never holds up the
    others: a pass starts tasks for the channels with due deliveries that are not already
    sending, and the next pass leaves busy channels out. Within a channel, alerts go one
    at a time; a transient failure ends the channel's batch, and the alerts not yet tried
    wait for the failed one's retry time, so a server that is down costs one timeout per
    pass rather than one per alert.
    """

    def __init__(
        self,
        store: Store,
        notifiers: Mapping[str, Notifier],
        policy: RetryPolicy,
        clock: Callable[[], float] = time.time,
        metrics: DeliveryMetrics | None = None,
    ) -> None:
        self.store = store
        self.notifiers = notifiers
        self.policy = policy
        self.clock = clock
        self.metrics = metrics
        self._busy: dict[str, asyncio.Task[None]] = {}  # channel -> its task sending
        self._closing = False

    async def run_due(
        self, ignore_backoff: bool = False, limit: int = 500, wait: bool = True
    ) -> DispatchSummary:
        """One pass over the due deliveries. ``ignore_backoff`` is for one-shot runs, whose
        caller sets the pace; digest times, quiet hours and Retry-After still hold.
        ``wait=False`` returns once the channel tasks are started (the daemon's tick)."""
        summary = DispatchSummary()
        if self._closing:
            return summary
        alerts = await self.store.run(
            self.store.due_alerts, self.clock(), ignore_backoff, limit, exclude=set(self._busy)
        )
        # Digests attempted before go out again as the same set (their ``batch``), whole
        # even where ``limit`` cut them; the rest of a channel's due digest alerts make one
        # new digest.
        batches: dict[tuple[str, bool, str | None], list[Alert]] = defaultdict(list)
        for a in alerts:
            batches[(a.channel, a.digest, a.batch if a.digest else None)].append(a)
        by_channel: dict[str, list[tuple[bool, list[Alert]]]] = defaultdict(list)
        for (channel, digest, batch_key), batch in batches.items():
            if batch_key is not None:
                batch = await self.store.run(self.store.batch_alerts, batch_key)
            by_channel[channel].append((digest, batch))
        tasks = []
        for channel, work in by_channel.items():
            task = asyncio.create_task(
                self._send_channel(channel, work, summary), name=f"send:{channel}"
            )
            self._busy[channel] = task
            task.add_done_callback(functools.partial(self._finished, channel))
            tasks.append(task)
        if wait and tasks:
            await asyncio.wait(tasks)
        return summary

    def _finished(self, channel: str, task: asyncio.Task[None]) -> None:
        self._busy.pop(channel, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("send task crashed", exc_info=task.exception())

    def stop_sending(self) -> list[asyncio.Task[None]]:
        """Start no new pass; channels stop after the alert in hand. Returns their tasks."""
        self._closing = True
        return list(self._busy.values())

    async def _send_channel(
        self, channel: str, work: list[tuple[bool, list[Alert]]], summary: DispatchSummary
    ) -> None:
        try:
            await self._send_work(channel, work, summary)
        except StoreError:
            # The database took no write (the storage guard reports it, and no pass starts
            # until it is back): unrecorded deliveries stay pending, sent again with their key.
            return

    async def _send_work(
        self, channel: str, work: list[tuple[bool, list[Alert]]], summary: DispatchSummary
    ) -> None:
        notifier = self.notifiers.get(channel)
        for i, (digest, batch) in enumerate(work):
            if self._closing or self.store.fault is not None:
                return  # the rest stays pending, due as it was
            if notifier is None:
                # Removed (perhaps mid-edit): keep them, try again later; nothing is dropped.
                missing = SendResult(SendKind.RETRY, f"channel '{channel}' is not configured")
                await self._record(batch, [missing] * len(batch), summary, count_attempt=False)
                continue
            if digest:
                await self._send_digest(notifier, channel, batch, summary)
                continue
            failed = await self._send_alerts(notifier, channel, batch, summary)
            if failed is not None:
                # The channel is failing: its other batches wait as long.
                rest = [a for _, later in work[i + 1 :] for a in later]
                await self._defer(channel, rest, failed, summary)
                return

    async def _send_digest(
        self, notifier: Notifier, channel: str, batch: list[Alert], summary: DispatchSummary
    ) -> None:
        # A digest is one message: one result, and one retry time, for all its alerts. Its
        # key is a hash of its members: fixing them (``batch``) fixes the key.
        await self.store.run(
            self.store.begin_attempt, [a.delivery_id for a in batch], digest_key(batch)
        )
        results = notifier.send(batch, True)
        try:
            result = await anext(results)
        except Exception as exc:  # a channel bug must not stop the others
            log.exception("send crashed", extra={"fields": {"channel": channel}})
            result = SendResult(SendKind.RETRY, f"internal error: {exc!r}")
        # Recorded before the notifier closes its connection: an SMTP QUIT that fails
        # after the server accepted the digest must not leave it due again.
        await self._record(batch, [result] * len(batch), summary)
        await _close(results, channel)

    async def _send_alerts(
        self, notifier: Notifier, channel: str, batch: list[Alert], summary: DispatchSummary
    ) -> DeliveryOutcome | None:
        """Send one at a time; the failed alert's outcome when a transient failure (or a
        crash) ended the batch, its untried alerts deferred to that alert's retry time."""
        # Each attempt is counted just before its alert goes out (the generator sends
        # alert i+1 only when asked for its result), and recorded as soon as known: after
        # a crash, only the alert in flight can be sent again.
        await self.store.run(self.store.begin_attempt, [batch[0].delivery_id])
        results = notifier.send(batch, False)
        done = 0
        try:
            async for result in results:
                (outcome,) = await self._record([batch[done]], [result], summary)
                done += 1
                if done == len(batch):
                    break
                if not result.ok and not result.permanent:
                    await self._defer(channel, batch[done:], outcome, summary)
                    return outcome
                if self._closing or self.store.fault is not None:
                    return None  # the rest stays pending, due as it was
                await self.store.run(self.store.begin_attempt, [batch[done].delivery_id])
        except StoreError:
            # The database took no write (the storage guard reports it): what was not
            # recorded stays pending, and is sent again with the same key after recovery.
            return None
        except Exception as exc:  # a channel bug must not stop the others
            log.exception("send crashed", extra={"fields": {"channel": channel}})
            failed = SendResult(SendKind.RETRY, f"internal error: {exc!r}")
            if done < len(batch):
                (outcome,) = await self._record([batch[done]], [failed], summary)
                await self._defer(channel, batch[done + 1 :], outcome, summary)
                return outcome
        finally:
            await _close(results, channel)
        return None

    async def _defer(
        self, channel: str, alerts: list[Alert], failed: DeliveryOutcome, summary: DispatchSummary
    ) -> None:
        """Move alerts not tried to the failed one's retry time; no attempt is spent."""
        if not alerts:
            return
        until = failed.next_attempt_at or self.clock()
        await self.store.run(
            self.store.defer, [a.delivery_id for a in alerts], until, failed.hold_until
        )
        summary.retrying += len(alerts)
        event(
            log, logging.INFO, "delivery.deferred", channel=channel, count=len(alerts),
            until=round(until),
        )  # fmt: skip

    async def aclose(self) -> None:
        """Let the channels finish the alert in hand, then close the notifiers."""
        tasks = self.stop_sending()
        if tasks:
            await asyncio.wait(tasks)
        for notifier in self.notifiers.values():
            await notifier.aclose()

    async def _record(
        self,
        batch: list[Alert],
        results: list[SendResult],
        summary: DispatchSummary,
        count_attempt: bool = True,
    ) -> list[DeliveryOutcome]:
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
            status = self._status(result, attempts)
            when = None
            if status is DeliveryStatus.SENT:
                summary.sent += 1
            elif status is DeliveryStatus.DEAD:
                summary.dead += 1
            else:
                when = (
                    retry_at
                    if len(batch) > 1
                    else now + self.policy.delay(attempts, result.retry_after_s)
                )
                summary.retrying += 1
            if not result.ok:
                summary.errors.append(f"{alert.channel}: {result.detail}")
            hold = None
            if status is DeliveryStatus.PENDING and result.retry_after_s:
                # The server said when: not even a one-shot run may come back sooner.
                hold = now + self.policy.backoff.retry_after_cap(result.retry_after_s)
            outcomes.append(
                DeliveryOutcome(alert.delivery_id, status, result.detail[:500], when, hold)
            )
            if self.metrics is not None:
                self.metrics.delivery_outcome(alert.channel, status)
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
        await self.store.run(self.store.finish_attempt, outcomes, now)
        return outcomes

    def _status(self, result: SendResult, attempts: int) -> DeliveryStatus:
        """Sent, dead (refused for good, or out of attempts), or pending for a retry."""
        match result.kind:
            case SendKind.ACCEPTED:
                return DeliveryStatus.SENT
            case SendKind.PERMANENT:
                return DeliveryStatus.DEAD
            case SendKind.RETRY | SendKind.TRANSPORT | SendKind.CONNECTION_LOST:
                if attempts >= self.policy.max_attempts:
                    return DeliveryStatus.DEAD
                return DeliveryStatus.PENDING
            case _:
                assert_never(result.kind)


async def _close(results: AsyncGenerator[SendResult, None], channel: str) -> None:
    """Close a notifier's send; a failure there (an SMTP QUIT timing out) changes nothing
    already recorded, so it is logged and no more."""
    try:
        await results.aclose()
    except Exception as exc:
        event(log, logging.WARNING, "send.close_failed", channel=channel, error=repr(exc)[:300])
