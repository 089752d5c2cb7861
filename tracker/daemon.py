"""Wire config → store → poller → scheduler, and run it: forever, or one cycle."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from . import fetch
from .config import Config
from .log import event
from .match import Matcher
from .models import PollOutcome
from .pipeline import Poller, PollSettings
from .scheduler import FeedScheduler
from .store import Store

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
    )


@dataclass
class RunSummary:
    """What a one-shot run did, for the closing report."""

    outcomes: list[PollOutcome] = field(default_factory=list)
    seconds: float = 0.0

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
        async with client:
            poller = Poller(client, store, poll_settings(config))
            yield FeedScheduler(poller, store, config.fetch.concurrency)
    finally:
        store.close()


async def run_once(config: Config) -> RunSummary:
    """Poll every feed once, store and match, then return a summary."""
    started = time.monotonic()
    async with _components(config) as sched:
        outcomes = await sched.run_once()
    return RunSummary(outcomes, time.monotonic() - started)


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
