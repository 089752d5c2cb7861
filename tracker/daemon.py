"""Wire config → store → poller → scheduler, and run it: forever, or one cycle."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from . import fetch, notify
from .config import Config
from .log import event
from .match import Matcher
from .models import PollOutcome
from .outbox import Dispatcher, DispatchSummary, RetryPolicy
from .pipeline import Poller, PollSettings
from .routing import Router
from .scheduler import FeedScheduler
from .store import DeliveryRow, Store

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0


def poll_settings(config: Config) -> PollSettings:
    """The plain values a poll needs, built from a validated config."""
    auth = {f.url: a for f in config.feeds if (a := config.feed_auth(f.url)) is not None}
    return PollSettings(
        feeds={s.url: s for s in config.feed_specs()},
        matcher=Matcher.from_topics(config.topic_specs(), config.lists),
        max_age_s=config.defaults.max_age,
        jitter_s=config.defaults.jitter,
        max_bytes=config.fetch.max_bytes,
        default_interval_s=config.defaults.interval,
        auth=auth,
        router=Router(config) if config.channels else None,
    )


def make_dispatcher(config: Config, store: Store) -> Dispatcher:
    """The outbox dispatcher for the configured channels and retry policy."""
    d = config.delivery
    return Dispatcher(
        store, notify.build(config.channels), RetryPolicy(d.max_attempts, d.retry_base, d.retry_max)
    )


@dataclass
class RunSummary:
    """What a one-shot run did, for the closing report."""

    outcomes: list[PollOutcome] = field(default_factory=list)
    seconds: float = 0.0
    delivery: DispatchSummary | None = None
    pending: list[DeliveryRow] = field(default_factory=list)

    @property
    def failed(self) -> list[PollOutcome]:
        return [o for o in self.outcomes if not o.ok]

    def render(self) -> str:
        ok = [o for o in self.outcomes if o.ok]
        unchanged = sum(o.not_modified for o in ok)
        lines = [
            f"feeds: {len(self.outcomes)} polled, {len(ok)} ok ({unchanged} unchanged),"
            f" {len(self.failed)} failed",
            f"new articles: {sum(o.new_articles for o in self.outcomes)}",
            f"matches: {sum(o.matches for o in self.outcomes)}"
            f" ({sum(o.alerts for o in self.outcomes)} alerts)",
        ]
        for o in self.outcomes:
            for topic, title in o.hits:
                lines.append(f"  alert [{topic}] {title}  ({o.feed})")
        for o in self.failed:
            lines.append(f"  failed {o.feed}: {o.error}")
        if self.delivery is not None:
            d = self.delivery
            lines.append(
                f"deliveries: {d.sent} sent, {d.retrying} to retry, {d.dead} dead,"
                f" {len(self.pending)} pending"
            )
            for row in self.pending:
                why = row.last_error or (
                    "waiting for its digest" if row.digest else "waiting to be sent"
                )
                when = datetime.fromtimestamp(max(row.not_before, row.next_attempt_at))
                lines.append(
                    f"  pending #{row.id} {row.channel} [{row.topic}] {row.title[:60]}:"
                    f" {why} (next try {when:%Y-%m-%d %H:%M})"
                )
            for error in d.errors:
                lines.append(f"  delivery failed: {error}")
        lines.append(f"took {self.seconds:.1f}s")
        return "\n".join(lines)


@asynccontextmanager
async def _components(config: Config) -> AsyncIterator[FeedScheduler]:
    """Open the store and the shared HTTP client; close both whatever happens."""
    store = Store(config.database_path)
    try:
        store.sync_feeds(config.feed_specs(), time.time())
        client = fetch.make_client(
            timeout_s=config.fetch.timeout,
            max_redirects=config.fetch.max_redirects,
            user_agent=config.fetch.user_agent,
            concurrency=config.fetch.concurrency,
        )
        dispatcher = make_dispatcher(config, store) if config.channels else None
        try:
            async with client:
                poller = Poller(client, store, poll_settings(config))
                yield FeedScheduler(poller, store, config.fetch.concurrency, dispatcher=dispatcher)
        finally:
            if dispatcher is not None:
                await dispatcher.aclose()
    finally:
        store.close()


async def run_once(config: Config) -> RunSummary:
    """Poll every feed once, store and match, then return a summary."""
    started = time.monotonic()
    summary = RunSummary()
    async with _components(config) as sched:
        summary.outcomes = await sched.run_once()
        if sched.dispatcher is not None:
            # One-shot: the caller (cron) sets the pace, so retry backoff does not hold
            # deliveries back; digest times and quiet hours still do.
            summary.delivery = await sched.dispatcher.run_due(ignore_backoff=True, limit=100_000)
            summary.pending = sched.store.deliveries(limit=1000, status="pending")
    summary.seconds = time.monotonic() - started
    return summary


async def run_forever(config: Config) -> None:
    """The daemon: tick until SIGTERM or SIGINT, then stop gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with _components(config) as sched:
            sched.start()
            event(
                log,
                logging.INFO,
                "daemon.started",
                feeds=len(config.feeds),
                topics=len(config.topics),
                database=str(config.database_path),
            )
            await stop.wait()
            event(log, logging.INFO, "daemon.stopping")
            await sched.stop(STOP_TIMEOUT_S)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    event(log, logging.INFO, "daemon.stopped")
