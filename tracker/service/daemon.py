"""Wire settings → store → poller → scheduler, and run it: forever, or one cycle.

Every part gets what it needs in its constructor; a reload builds new parts from the new
settings and swaps them into the scheduler in one call.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tracker import log as log_mod
from tracker.config import loader as config_mod
from tracker.config.settings import to_settings
from tracker.delivery import channels as notify
from tracker.delivery.outbox import Dispatcher, DispatchSummary, RetryPolicy
from tracker.delivery.replan import replan
from tracker.delivery.routing import Router
from tracker.errors import ConfigError, DatabaseReplaced, StoreError, TrackerError
from tracker.heap import paused_gc
from tracker.ingest import fetch
from tracker.ingest.hosts import HostLimiter
from tracker.ingest.isolate import ParsePool
from tracker.ingest.pipeline import Poller, PollSettings
from tracker.ingest.stories import StoryStep
from tracker.log import event
from tracker.models import NOTICE_TOPIC, Alert, DeliveryStatus, NoticeKind, PollOutcome
from tracker.redact import Redactor
from tracker.service import systemd as service
from tracker.service.feedhealth import FeedHealthMonitor
from tracker.service.reload import (
    ConfigWatcher,
    describe_changes,
    marked_for_shrink,
    needs_restart,
    refuse_shrink,
)
from tracker.service.scheduler import FeedScheduler, OutboxWaker, RunProgress
from tracker.service.storage import CHECK_EVERY_S, StorageGuard
from tracker.service.systemd import InstanceLock
from tracker.service.waits import WAITS_EVERY_S, log_waits, skipped
from tracker.settings import Settings
from tracker.store.facade import DeliveryRow, FeedWait, Store
from tracker.store.writer import check_not_lost
from tracker.topics.matcher import Matcher
from tracker.units import parse_listen_address

if TYPE_CHECKING:  # service.http (aiohttp.web, prometheus-client) is the daemon's alone
    from tracker.service.http import HealthServer, Metrics

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0
STATUS_EVERY_S = 30.0
SILENCE_CHECK_EVERY_S = 600.0
WATCH_EVERY_S = 2.0


def poll_settings(settings: Settings) -> PollSettings:
    """The plain values a poll needs: the settings plus the compiled matcher and router."""
    # One bounded build of long-lived objects (a map of 100,000 feeds, the matcher): with
    # the collector on, its full collections walked them all again, most of the cost.
    with paused_gc():
        return _poll_settings(settings)


def _poll_settings(settings: Settings) -> PollSettings:
    d, f = settings.defaults, settings.fetch
    return PollSettings(
        feeds={s.url: s for s in settings.feeds},
        matcher=Matcher.from_topics(settings.topic_specs(), settings.lists),
        max_age_s=d.max_age_s,
        jitter_s=d.jitter_s,
        max_bytes=f.max_bytes,
        default_interval_s=d.interval_s,
        max_redirects=f.max_redirects,
        deadline_s=f.deadline_s,
        redirects=fetch.RedirectGuard(allow=f.allow_private_redirects),
        honour_ttl=f.honour_ttl,
        auth=settings.feed_auth,
        parse_limits=settings.parse,
        router=Router(settings) if settings.channels else None,
        story_window_s=settings.stories_window_s,
        updates={n: t.updates_outlets for n, t in settings.topics.items() if t.updates},
        silenced=frozenset(n for n, t in settings.topics.items() if t.notify == ()),
    )


def load_settings(path: Path) -> Settings:
    """Read, validate and convert the config file: blocking, so a daemon runs it in a thread."""
    return to_settings(config_mod.load(path))


def make_dispatcher(settings: Settings, store: Store, metrics: Metrics | None = None) -> Dispatcher:
    """The outbox dispatcher for the configured channels and retry policy."""
    d = settings.delivery
    return Dispatcher(
        store,
        notify.build(settings.channels),
        RetryPolicy(d.max_attempts, d.retry_base_s, d.retry_max_s),
        metrics=metrics,
    )


@dataclass
class RunSummary:
    """What a one-shot run did, for the closing report."""

    outcomes: list[PollOutcome] = field(default_factory=list)
    seconds: float = 0.0
    delivery: DispatchSummary | None = None
    pending: list[DeliveryRow] = field(default_factory=list)
    skipped: list[FeedWait] = field(default_factory=list)  # held by a server's Retry-After

    @property
    def failed(self) -> list[PollOutcome]:
        return [o for o in self.outcomes if not o.ok]

    def render(self) -> str:
        ok = [o for o in self.outcomes if o.ok]
        unchanged = sum(o.not_modified for o in ok)
        lines = [
            f"feeds: {len(self.outcomes)} polled, {len(ok)} ok ({unchanged} unchanged),"
            f" {len(self.failed)} failed"
            + (f", {len(self.skipped)} skipped" if self.skipped else ""),
            f"new articles: {sum(o.new_articles for o in self.outcomes)}",
            f"matches: {sum(o.matches for o in self.outcomes)}"
            f" ({sum(o.alerts for o in self.outcomes)} alerts{_muted_count(self.outcomes)})",
        ]
        for o in self.outcomes:
            for topic, title in o.hits:
                lines.append(f"  alert [{topic}] {title}  ({o.feed})")
            for topic, title in o.muted:
                lines.append(f"  muted [{topic}] {title}  ({o.feed}): no alert")
        for o in self.failed:
            lines.append(f"  failed {o.feed}: {o.error}")
        for w in self.skipped:
            until = datetime.fromtimestamp(w.hold_until or 0).astimezone()
            lines.append(
                f"  skipped {w.name}: the server asked to wait (Retry-After) until"
                f" {until:%Y-%m-%d %H:%M %Z} (`tracker poll --force {w.name}` to poll it anyway)"
            )
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
                    f" {why} (next try {when.astimezone():%Y-%m-%d %H:%M %Z})"
                )
            for error in d.errors:
                lines.append(f"  delivery failed: {error}")
        lines.append(f"took {self.seconds:.1f}s")
        return "\n".join(lines)


def _muted_count(outcomes: list[PollOutcome]) -> str:
    n = sum(len(o.muted) for o in outcomes)
    return f", {n} muted" if n else ""


@dataclass
class Components:
    """The parts built from one config that the daemon owns and closes.

    A reload replaces the poller (and with it perhaps the client and the health monitor)
    and perhaps the dispatcher; ``client`` and ``health`` are always the ones in use.
    """

    store: Store
    client: fetch.Client
    health: FeedHealthMonitor
    waker: OutboxWaker
    sched: FeedScheduler
    stories: StoryStep
    metrics: Metrics | None = None
    parser: ParsePool | None = None


@asynccontextmanager
async def _components(
    settings: Settings,
    metrics: Metrics | None = None,
    on_tick: Callable[[], None] | None = None,
    redact: Callable[[str], str] | None = None,
    init: bool = False,
    start_parsers: bool = True,
) -> AsyncIterator[Components]:
    """Take the instance lock, open the store and the shared HTTP client; release all.
    ``redact`` masks secrets in what the store writes (default: these settings' secrets).
    A database that is gone while its traces remain is an error unless ``init``.
    ``start_parsers=False`` starts the parse workers at the first parse instead of now."""
    check_not_lost(settings.database, init)
    with InstanceLock(settings.database):
        store = await asyncio.to_thread(
            Store, settings.database, redact or Redactor(settings.secrets)
        )
        # Parses run in worker processes, each under settings.parse's deadline and memory cap.
        parser = ParsePool(min(4, os.cpu_count() or 1, settings.fetch.concurrency))
        try:
            if start_parsers:
                await asyncio.to_thread(parser.start)
            await store.run(store.sync_feeds, settings.feeds, time.time())
            client = _client(settings)
            waker = OutboxWaker()
            health = _health_monitor(settings, store)
            dispatcher = make_dispatcher(settings, store, metrics) if settings.channels else None
            # Rebuilt from the window's stored articles when the first new one needs it (a
            # cycle of 304s never does); a reload keeps it.
            stories = StoryStep.deferred(store, settings.stories_window_s, settings.lists)
            poller = _poller(
                poll_settings(settings), store, client, health, waker, metrics, stories, parser
            )
            sched = FeedScheduler(
                poller,
                store,
                settings.fetch.concurrency,
                dispatcher=dispatcher,
                waker=waker,
                on_tick=on_tick,
                hosts=_hosts(settings),
            )
            parts = Components(store, client, health, waker, sched, stories, metrics, parser)
            try:
                yield parts
            finally:
                # A reload may have replaced both: close the ones in use now.
                await parts.client.aclose()
                if sched.dispatcher is not None:
                    await sched.dispatcher.aclose()
        finally:
            parser.close()
            store.close()


def _poller(
    settings: PollSettings,
    store: Store,
    client: fetch.Client,
    health: FeedHealthMonitor,
    waker: OutboxWaker,
    metrics: Metrics | None,
    stories: StoryStep,
    parser: ParsePool | None,
    floors: dict[int, float] | None = None,
) -> Poller:
    return Poller(
        client,
        store,
        settings,
        metrics=metrics,
        health=health,
        on_deliveries=waker,
        parser=parser,
        stories=stories,
        floors=floors,
    )


def _client(settings: Settings) -> fetch.Client:
    f = settings.fetch
    return fetch.make_client(
        timeout_s=f.timeout_s, user_agent=f.user_agent, concurrency=f.concurrency
    )


def _hosts(settings: Settings) -> HostLimiter:
    return HostLimiter(settings.fetch.per_host, settings.fetch.host_spacing_s)


def _health_monitor(settings: Settings, store: Store) -> FeedHealthMonitor:
    h = settings.feed_health
    return FeedHealthMonitor(
        store, settings.delivery.admin, h.fail_after, h.silent_factor, h.min_silence_s
    )


async def run_once(
    settings: Settings, progress: RunProgress | None = None, init: bool = False
) -> RunSummary:
    """Poll every feed once, store and match, deliver, then return a summary."""
    started = time.monotonic()
    summary = RunSummary()
    # The parse workers (a forkserver that imports feedparser: ~0.2 s of CPU) start at the
    # first body to parse: a cycle of 304s and failures never needs them.
    async with _components(settings, init=init, start_parsers=False) as parts:
        # What startup built (modules, settings, the compiled matcher) lives for the run:
        # frozen, the full collections the poll's garbage triggers no longer walk it each
        # time. No collect first, as the daemon's _settle_heap does: a one-shot run would
        # pay a full walk to reclaim the little startup leaves behind. Unfrozen after, so a
        # process that runs it again (a test, a bench) can still collect the run's cycles.
        gc.freeze()
        try:
            summary.skipped = await parts.store.run(skipped, parts.store, time.time())
            summary.outcomes = await parts.sched.run_once(progress)
            if (dispatcher := parts.sched.dispatcher) is not None:
                # One-shot: the caller (cron) sets the pace, so retry backoff does not hold
                # deliveries back; digest times and quiet hours still do.
                summary.delivery = await dispatcher.run_due(ignore_backoff=True, limit=100_000)
                summary.pending = await parts.store.run(
                    parts.store.deliveries, limit=1000, status=DeliveryStatus.PENDING
                )
        finally:
            gc.unfreeze()
        if (fault := parts.store.fault) is not None:
            # Not news about the feeds: the run itself could not be recorded (exit 1).
            lost = sum(o.storage_fault for o in summary.outcomes)
            raise StoreError(f"{fault.message}; {lost} feed(s) polled but not recorded")
    summary.seconds = time.monotonic() - started
    return summary


class Daemon:
    """The long-running service: scheduler, outbox, reload, sd_notify, health and metrics."""

    def __init__(self, config_path: Path, settings: Settings, init: bool = False) -> None:
        self.config_path = config_path
        self.init = init
        # Why the daemon stopped on its own (the database file was lost), raised after.
        self.fatal: StoreError | None = None
        self.guard: StorageGuard | None = None
        self.settings = settings
        self.stop = asyncio.Event()
        self.reload_requested = asyncio.Event()
        # SIGUSR1 (`tracker reload --force`): the next reload may drop most feeds or topics.
        self.shrink_confirmed = False
        self.notifier = service.Notifier()
        self.gate = service.ProgressGate()
        # Imported here: a one-shot run and the other commands never load the listener.
        from tracker.service.http import Metrics

        self.metrics = Metrics(topics=settings.topics, channels=settings.channels)
        self.watcher = ConfigWatcher(config_path)
        self.parts: Components | None = None
        # Every secret of every config this process has read (a reload adds the new ones):
        # text from before a reload (an old dispatcher's last answer) may carry an old one.
        self.redactor = Redactor(settings.secrets)

    async def run(self) -> None:
        """Run until SIGTERM/SIGINT; SIGHUP or an edit of the config file reloads it."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stop.set)
        loop.add_signal_handler(signal.SIGINT, self.stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload_requested.set)
        loop.add_signal_handler(signal.SIGUSR1, self._confirmed_reload)
        try:
            async with _components(
                self.settings, self.metrics, self._on_tick, self._redact, self.init
            ) as parts:
                await self._serve(parts)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
                loop.remove_signal_handler(sig)
            self.notifier.close()
        event(log, logging.INFO, "daemon.stopped")
        if self.fatal is not None:
            raise self.fatal

    def _lost(self, exc: DatabaseReplaced) -> None:
        if self.fatal is None:
            event(log, logging.ERROR, "storage.lost", error=exc.message)
        self.fatal = exc
        self.stop.set()

    def _redact(self, text: str) -> str:
        return self.redactor(text)

    def _confirmed_reload(self) -> None:
        self.shrink_confirmed = True
        self.reload_requested.set()

    def _on_tick(self) -> None:
        self.gate.beat()
        self.metrics.tick(time.time())

    async def _serve(self, parts: Components) -> None:
        self.parts = parts
        sched = parts.sched
        self.guard = StorageGuard(
            parts.store, self._lost, self._notice_without_store, on_recovered=parts.waker
        )
        health = await self._start_health_server()
        pages = await self._start_web_server()
        sched.every(CHECK_EVERY_S, self.guard.check, "storage-guard")
        sched.every(STATUS_EVERY_S, self._status, "status")
        sched.every(SILENCE_CHECK_EVERY_S, self._check_silence, "feed-silence")
        sched.every(WATCH_EVERY_S, self._watch_config, "config-watch")
        sched.every(WAITS_EVERY_S, self._log_waits, "feed-waits")
        _settle_heap()
        await self._log_waits()  # after a restart, a kept backoff is not silent
        # Ready before the first tick: at 100,000 feeds that tick starts a poll for each
        # feed due, and READY (systemd's start, a bench's startup time) waited behind it.
        self.notifier.ready(await self._status_line())
        sched.start()
        event(
            log,
            logging.INFO,
            "daemon.started",
            feeds=len(self.settings.feeds),
            topics=len(self.settings.topics),
            channels=len(self.settings.channels),
            database=str(self.settings.database),
        )
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
            if parts.parser is not None:
                # Nothing is stored before a parse ends: stop those polls now, not in 10 s.
                parts.parser.cancel_waiting()
            await sched.stop(STOP_TIMEOUT_S)
            if watchdog is not None:
                watchdog.cancel()
            if health is not None:
                await health.stop()
            if pages is not None:
                await pages.stop()

    async def _start_web_server(self) -> HealthServer | None:
        """The status page on web.listen (with /metrics and /healthz), unless it shares the
        metrics listener's address (then that listener serves it)."""
        listen = self.settings.web_listen
        if listen is None or listen == self.settings.metrics_listen:
            return None
        return await self._start_health_server(listen, "web.listen")

    async def _start_health_server(
        self, listen: str | None = None, key: str = "metrics.listen"
    ) -> HealthServer | None:
        listen = listen or self.settings.metrics_listen
        if listen is None:
            return None
        from tracker.service.http import HealthServer, all_of

        host, port = parse_listen_address(listen)
        assert self.guard is not None
        routes = None
        if listen == self.settings.web_listen:
            # Imported here: jinja2 and the pages only for a daemon that serves them.
            from tracker.service.web.app import status_pages

            routes = status_pages(self.settings).add_routes
        # The storage guard's state, not a probe of its own: a health check never waits on
        # the database (nor competes with the writer for its lock).
        server = HealthServer(
            self.metrics, all_of(self.gate.check, self.guard.health), host, port, routes
        )
        try:
            await server.start()
        except OSError as exc:
            # A runtime problem of this machine (the port is taken), not a bug: exit 1.
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            hint = None
            if exc.errno == errno.EADDRINUSE:
                hint = "another program listens there; choose another port"
            raise TrackerError(f"{key} {listen}: {reason}", hint=hint) from exc
        event(log, logging.INFO, "metrics.listening", url=f"http://{listen}/metrics")
        if routes is not None:
            event(log, logging.INFO, "web.listening", url=f"http://{host or '*'}:{server.port}/")
        return server

    async def _status_line(self) -> str:
        assert self.parts is not None
        store = self.parts.store
        if self.guard is not None and not (state := self.guard.health())[0]:
            return state[1]
        try:
            counts, failing, active = await store.run(_status_counts, store)
        except StoreError as exc:
            return f"storage degraded: {exc.message}"
        pending = counts.get(DeliveryStatus.PENDING, 0)
        self.metrics.set_outbox_depth(pending)
        self.metrics.set_feeds_failing(failing)
        return service.status_line(active, failing, pending)

    async def _log_waits(self) -> None:
        assert self.parts is not None
        await self.parts.store.run(log_waits, self.parts.store, time.time())

    async def _status(self) -> None:
        self.notifier.status(await self._status_line())

    async def _check_silence(self) -> None:
        assert self.parts is not None
        if self.parts.store.fault is not None:
            return
        try:
            if await self.parts.store.run(self.parts.health.check_silence):
                self.parts.waker()
        except StoreError:
            return  # the storage guard reports it

    async def _watch_config(self) -> None:
        if self.watcher.changed():
            event(log, logging.INFO, "config.changed", path=str(self.config_path))
            self.reload_requested.set()

    async def reload(self) -> None:
        """Validate the new config first; apply it, or keep running on the old one."""
        assert self.parts is not None
        self.notifier.reloading()
        confirmed, self.shrink_confirmed = self.shrink_confirmed, False
        try:
            # Off the event loop: 100,000 feeds take seconds to read, and polls, the outbox
            # and the watchdog go on meanwhile. The swap below is the loop's part.
            new = await asyncio.to_thread(load_settings, self.config_path)
            confirmed = confirmed or marked_for_shrink(self.config_path)
            for loss in refuse_shrink(self.settings, new, confirmed=confirmed):
                event(log, logging.WARNING, "config.shrink_confirmed", change=loss)
            await self._apply(new)
        except Exception as exc:  # whatever the edit, the daemon keeps its old config
            # The rejected file's secrets are not in the running config: mask both.
            rejected = Redactor(exc.secrets if isinstance(exc, ConfigError) else ())
            self.redactor = self.redactor | rejected
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
                error=self.redactor("; ".join(" ".join(p.split()) for p in problems)),
            )
            await self._notify_admin(
                "config-rejected",
                "config rejected: still running the old one",
                self.redactor("\n".join(problems)),
            )
        await self._log_waits()  # after a restart, a kept backoff is not silent
        self.notifier.ready(await self._status_line())

    async def _apply(self, new: Settings) -> None:
        """Build everything the new settings need first, then swap it in."""
        assert self.parts is not None
        parts, old = self.parts, self.settings
        store, sched = parts.store, parts.sched
        settings = await asyncio.to_thread(poll_settings, new)  # compiles the matcher
        health = _health_monitor(new, store)
        for key in needs_restart(old, new):
            event(log, logging.WARNING, "config.needs_restart", key=key)
        # Before any part that holds a connection is built: a store that refuses the sync
        # (a locked database) rejects the reload with nothing left open.
        await store.run(store.sync_feeds, new.feeds, time.time())
        dispatcher = sched.dispatcher
        if new.channels != old.channels or new.delivery != old.delivery:
            dispatcher = make_dispatcher(new, store, self.metrics) if new.channels else None
        # Last: nothing after this can fail and leave a new client unclosed.
        client = _client(new) if new.fetch != old.fetch else parts.client
        poller = _poller(
            settings,
            store,
            client,
            health,
            parts.waker,
            self.metrics,
            parts.stories,
            parts.parser,
            sched.poller.floors,  # the intervals feeds asked for outlive a reload
        )
        if client is not parts.client:
            # Polls in flight keep their poller and its client: close it once they are done.
            _close_when_idle(list(sched.in_flight.values()), parts.client)
        parts.client, parts.health = client, health
        hosts = _hosts(new) if new.fetch != old.fetch else None
        await sched.replace(
            poller=poller, dispatcher=dispatcher, concurrency=new.fetch.concurrency, hosts=hosts
        )
        self.redactor = self.redactor | Redactor(new.secrets)
        log_mod.setup(new.log_level, self.redactor)
        self.settings = new
        # Queued deliveries follow a channel's new digest time, quiet hours or time zone.
        replanned = await store.run(replan, store, old.channels, new.channels, time.time())
        if replanned.get("replanned", "0") != "0":
            parts.waker()
        event(log, logging.INFO, "config.reloaded", **describe_changes(old, new), **replanned)
        gc.freeze()  # the new parts are long-lived too (see _settle_heap)

    async def _notify_admin(self, kind: str, subject: str, body: str) -> None:
        admin = self.settings.delivery.admin
        if admin is None or self.parts is None:
            return
        store = self.parts.store
        try:
            await store.run(store.add_notice, kind, subject, body, admin, time.time())
        except StoreError:
            # No outbox now: straight through the channel, or (no channel) the log alone.
            await self._notice_without_store(NoticeKind.from_stored(kind), subject, body)
            return
        self.parts.waker()

    async def _notice_without_store(self, kind: NoticeKind, subject: str, body: str) -> None:
        """An admin notice sent straight through the admin channel, for when the outbox (in
        the database) cannot take it: once, no retry; the log has it too."""
        admin = self.settings.delivery.admin
        dispatcher = self.parts.sched.dispatcher if self.parts is not None else None
        notifier = dispatcher.notifiers.get(admin) if dispatcher and admin else None
        if admin is None or notifier is None or self.parts is None:
            return
        now = time.time()
        key = f"notice-{self.parts.store.instance_id}-{kind}-{int(now * 1000)}"
        alert = Alert(
            delivery_id=0, key=key, channel=admin, digest=False, topic=NOTICE_TOPIC,
            title=subject, url=None, summary=body, feed="tracker", published_at=None,
            lang=None, terms=(), snippet="", created_at=now, notice=kind,
        )  # fmt: skip
        results = notifier.send([alert], False)
        try:
            result = await anext(results)
            detail = None if result.ok else result.detail[:300]
        except Exception as exc:  # a notice must never take the daemon down
            detail = f"{type(exc).__name__}: {exc}"[:300]
        finally:
            try:
                await results.aclose()
            except Exception as exc:
                event(log, logging.DEBUG, "notice.close_failed", error=repr(exc)[:300])
        event(
            log, logging.INFO if detail is None else logging.WARNING, "notice.direct",
            kind=kind, channel=admin, sent=detail is None, error=detail,
        )  # fmt: skip


def _settle_heap() -> None:
    """Move what startup built (modules, settings, the matcher) out of the collector's sight.
    A full collection holds the GIL from whichever thread runs it: over the whole heap it
    stalled the loop 135 ms; frozen, it walks only what was made since."""
    gc.collect()
    gc.freeze()


def _status_counts(store: Store) -> tuple[dict[DeliveryStatus, int], int, int]:
    """The status line's numbers, read in one unit on the writer thread."""
    return store.delivery_counts(), store.failing_feeds(), store.active_feeds()


async def _first_of(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


def _close_when_idle(in_flight: list[asyncio.Task[PollOutcome]], client: fetch.Client) -> None:
    """Close a replaced HTTP client once the polls that use it (``in_flight``) have finished."""

    async def close() -> None:
        if in_flight:
            await asyncio.wait(in_flight)
        await client.aclose()

    task = asyncio.create_task(close())
    _background.add(task)
    task.add_done_callback(_background.discard)


_background: set[asyncio.Task[None]] = set()


async def run_forever(config_path: Path, settings: Settings, init: bool = False) -> None:
    """The daemon: tick until SIGTERM or SIGINT, reload on SIGHUP or a config edit."""
    await Daemon(config_path, settings, init).run()
