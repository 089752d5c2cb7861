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
from pathlib import Path

from tracker import log as log_mod
from tracker.config import schema as config_mod
from tracker.config.schema import Config
from tracker.delivery import channels as notify
from tracker.delivery.outbox import Dispatcher, DispatchSummary, RetryPolicy
from tracker.delivery.routing import Router
from tracker.errors import ConfigError
from tracker.ingest import fetch
from tracker.ingest.pipeline import Poller, PollSettings
from tracker.log import event
from tracker.models import PollOutcome
from tracker.service import systemd as service
from tracker.service.feedhealth import FeedHealthMonitor
from tracker.service.http import (
    HealthServer,
    Metrics,
    all_of,
    database_writable,
    parse_listen_address,
)
from tracker.service.reload import ConfigWatcher, describe_changes, needs_restart
from tracker.service.scheduler import FeedScheduler
from tracker.service.systemd import InstanceLock
from tracker.store.facade import DeliveryRow, Store
from tracker.topics.matcher import Matcher

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0
STATUS_EVERY_S = 30.0
SILENCE_CHECK_EVERY_S = 600.0
WATCH_EVERY_S = 2.0


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
        max_redirects=config.fetch.max_redirects,
        deadline_s=config.fetch.deadline,
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
    """Take the instance lock, open the store and the shared HTTP client; release all."""
    with InstanceLock(config.database_path):
        store = Store(config.database_path)
        try:
            store.sync_feeds(config.feed_specs(), time.time())
            client = _client(config)
            dispatcher = make_dispatcher(config, store) if config.channels else None
            poller = Poller(client, store, poll_settings(config))
            poller.health = _health_monitor(config, store)
            sched = FeedScheduler(poller, store, config.fetch.concurrency, dispatcher=dispatcher)
            try:
                yield sched
            finally:
                # A reload may have replaced both: close the ones in use now.
                await sched.poller.client.aclose()
                if sched.dispatcher is not None:
                    await sched.dispatcher.aclose()
        finally:
            store.close()


def _client(config: Config) -> fetch.Client:
    return fetch.make_client(
        timeout_s=config.fetch.timeout,
        user_agent=config.fetch.user_agent,
        concurrency=config.fetch.concurrency,
    )


def _health_monitor(config: Config, store: Store) -> FeedHealthMonitor:
    h = config.feed_health
    return FeedHealthMonitor(
        store, config.delivery.admin, h.fail_after, h.silent_factor, h.min_silence
    )


async def run_once(config: Config) -> RunSummary:
    """Poll every feed once, store and match, deliver, then return a summary."""
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


class Daemon:
    """The long-running service: scheduler, outbox, reload, sd_notify, health and metrics."""

    def __init__(self, config_path: Path, config: Config) -> None:
        self.config_path = config_path
        self.config = config
        self.stop = asyncio.Event()
        self.reload_requested = asyncio.Event()
        self.notifier = service.Notifier()
        self.gate = service.ProgressGate()
        self.metrics = Metrics(topics=config.topics, channels=config.channels)
        self.watcher = ConfigWatcher(config_path)
        self.sched: FeedScheduler | None = None

    async def run(self) -> None:
        """Run until SIGTERM/SIGINT; SIGHUP or an edit of the config file reloads it."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stop.set)
        loop.add_signal_handler(signal.SIGINT, self.stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload_requested.set)
        try:
            async with _components(self.config) as sched:
                await self._serve(sched)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            self.notifier.close()
        event(log, logging.INFO, "daemon.stopped")

    async def _serve(self, sched: FeedScheduler) -> None:
        self.sched = sched
        self._instrument(sched)
        health = await self._start_health_server()
        sched.every(STATUS_EVERY_S, self._status, "status")
        sched.every(SILENCE_CHECK_EVERY_S, self._check_silence, "feed-silence")
        sched.every(WATCH_EVERY_S, self._watch_config, "config-watch")
        sched.start()
        event(
            log,
            logging.INFO,
            "daemon.started",
            feeds=len(self.config.feeds),
            topics=len(self.config.topics),
            channels=len(self.config.channels),
            database=str(self.config.database_path),
        )
        self.notifier.ready(self._status_line())
        watchdog = None
        if (interval := service.watchdog_interval()) is not None:
            watchdog = asyncio.create_task(
                service.watchdog_loop(self.notifier, self.gate, interval, self.stop)
            )
        try:
            while not self.stop.is_set():
                await _first_of(self.stop, self.reload_requested)
                if self.reload_requested.is_set() and not self.stop.is_set():
                    self.reload_requested.clear()
                    await self.reload()
        finally:
            event(log, logging.INFO, "daemon.stopping")
            self.notifier.stopping()
            await sched.stop(STOP_TIMEOUT_S)
            if watchdog is not None:
                watchdog.cancel()
            if health is not None:
                await health.stop()

    def _instrument(self, sched: FeedScheduler) -> None:
        sched.poller.metrics = self.metrics
        if sched.dispatcher is not None:
            sched.dispatcher.metrics = self.metrics

        def on_tick() -> None:
            self.gate.beat()
            self.metrics.tick(time.time())

        sched.on_tick = on_tick

    async def _start_health_server(self) -> HealthServer | None:
        listen = self.config.metrics.listen
        if listen is None:
            return None
        host, port = parse_listen_address(listen)
        path = self.config.database_path
        server = HealthServer(
            self.metrics, all_of(self.gate.check, lambda: database_writable(path)), host, port
        )
        await server.start()
        event(log, logging.INFO, "metrics.listening", url=f"http://{listen}/metrics")
        return server

    def _status_line(self) -> str:
        assert self.sched is not None
        store = self.sched.store
        pending = store.delivery_counts().get("pending", 0)
        failing = store.failing_feeds()
        self.metrics.set_outbox_depth(pending)
        self.metrics.set_feeds_failing(failing)
        return service.status_line(store.active_feeds(), failing, pending)

    async def _status(self) -> None:
        self.notifier.status(self._status_line())

    async def _check_silence(self) -> None:
        assert self.sched is not None
        if self.sched.poller.health is not None and self.sched.poller.health.check_silence():
            self.sched.wake_outbox()

    async def _watch_config(self) -> None:
        if self.watcher.changed():
            event(log, logging.INFO, "config.changed", path=str(self.config_path))
            self.reload_requested.set()

    async def reload(self) -> None:
        """Validate the new config first; apply it, or keep running on the old one."""
        assert self.sched is not None
        self.notifier.reloading()
        try:
            new = config_mod.load(self.config_path)
            await self._apply(new)
        except Exception as exc:  # whatever the edit, the daemon keeps its old config
            problems = (
                exc.problems
                if isinstance(exc, ConfigError) and exc.problems
                else [str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"]
            )
            event(
                log,
                logging.ERROR,
                "config.rejected",
                path=str(self.config_path),
                error="; ".join(" ".join(p.split()) for p in problems),
            )
            self._notify_admin(
                "config-rejected", "config rejected: still running the old one", "\n".join(problems)
            )
        self.notifier.ready(self._status_line())

    async def _apply(self, new: Config) -> None:
        """Build everything the new config needs first, then swap it in."""
        assert self.sched is not None
        sched, old = self.sched, self.config
        settings = poll_settings(new)
        health = _health_monitor(new, sched.store)
        swap_dispatcher = new.channels != old.channels or new.delivery != old.delivery
        dispatcher = make_dispatcher(new, sched.store) if swap_dispatcher and new.channels else None
        for key in needs_restart(old, new):
            event(log, logging.WARNING, "config.needs_restart", key=key)
        sched.store.sync_feeds(new.feed_specs(), time.time())
        sched.poller.settings = settings
        sched.poller.health = health
        sched.concurrency = new.fetch.concurrency
        if new.fetch != old.fetch:
            old_client, sched.poller.client = sched.poller.client, _client(new)
            await _close_when_idle(sched, old_client)
        if swap_dispatcher:
            if dispatcher is not None:
                dispatcher.metrics = self.metrics
            await sched.replace_dispatcher(dispatcher)
        log_mod.setup(new.log_level, new.secrets())
        self.config = new
        event(log, logging.INFO, "config.reloaded", **describe_changes(old, new))

    def _notify_admin(self, kind: str, subject: str, body: str) -> None:
        admin = self.config.delivery.admin
        if admin is None or self.sched is None:
            return
        self.sched.store.add_notice(kind, subject, body, admin, time.time())
        self.sched.wake_outbox()


async def _first_of(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def _close_when_idle(sched: FeedScheduler, client: fetch.Client) -> None:
    """Close a replaced HTTP client once the polls that use it have finished."""
    in_flight = list(sched.in_flight.values())

    async def close() -> None:
        if in_flight:
            await asyncio.wait(in_flight)
        await client.aclose()

    task = asyncio.create_task(close())
    _background.add(task)
    task.add_done_callback(_background.discard)


_background: set[asyncio.Task[None]] = set()


async def run_forever(config_path: Path, config: Config) -> None:
    """The daemon: tick until SIGTERM or SIGINT, reload on SIGHUP or a config edit."""
    await Daemon(config_path, config).run()
