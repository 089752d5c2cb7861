"""APScheduler jobs. The database is the schedule: a tick asks the store which feeds are due.

Each feed's ``next_check_at`` lives in its row, so a restart resumes exactly, and intervals,
backoff and Retry-After are all just a later time. The tick only hands out as many feeds as
there are free fetch slots, and a feed in flight is never handed out again. When that filled
every slot, each poll that ends asks for the next due feed at once: the tick alone would cap
the daemon at ``concurrency`` polls a second (100,000 feeds at 15 minutes need 111).

A poll first waits for its host (``ingest.hosts``: per-host limit and spacing) and only then
takes one of the global slots: a poll waiting for a busy host holds none, so one slow host
with many feeds does not starve the others. At most ``waiting_cap`` polls wait at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tracker.errors import StoreError
from tracker.ingest.hosts import HostLimiter
from tracker.log import event
from tracker.models import FeedState, PollOutcome

if TYPE_CHECKING:  # types only: the daemon builds these and hands them in
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from tracker.delivery.outbox import Dispatcher
    from tracker.ingest.pipeline import Poller
    from tracker.store.facade import Store

log = logging.getLogger(__name__)

TICK_S = 1.0
OUTBOX_JOB = "outbox-tick"


class OutboxWaker:
    """Runs an outbox pass now, so new deliveries go out without waiting for the next tick.

    Built first and handed to both the poller (which calls it after queueing deliveries)
    and the scheduler (which connects it to its outbox pass when it starts): neither is
    rewired after it is built. Before the start, or after the stop, waking does nothing.

    It starts the pass itself rather than moving the APScheduler job's next run time: a
    burst of polls finishing together woke the job again before its run (still counted as
    an instance until its done callback) was over, and APScheduler logged "maximum number
    of running instances reached" for each. Wakes while a pass is pending or running are
    coalesced into one more pass after it.
    """

    def __init__(self) -> None:
        self._run: Callable[[], Awaitable[None]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def connect(self, run: Callable[[], Awaitable[None]]) -> None:
        """Run ``run`` (the scheduler's outbox pass) on each wake from now on."""
        self._run = run

    def disconnect(self) -> None:
        """Waking does nothing from now on (the scheduler stopped)."""
        self._run = None

    def __call__(self) -> None:
        if self._run is None:
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._passes(self._run))

    async def _passes(self, run: Callable[[], Awaitable[None]]) -> None:
        while True:
            self._again = False
            await run()
            if not self._again or self._run is None:
                return


class RunProgress(Protocol):
    """Told of a one-shot cycle's polls as they start and finish."""

    def begin(self, total: int) -> None: ...
    def started(self, feed: str) -> None: ...
    def finished(self, feed: str) -> None: ...


class FeedScheduler:
    """Runs polls with a global concurrency limit; one feed is never polled twice at once."""

    def __init__(
        self,
        poller: Poller,
        store: Store,
        concurrency: int,
        clock: Callable[[], float] = time.time,
        dispatcher: Dispatcher | None = None,
        *,
        waker: OutboxWaker | None = None,
        on_tick: Callable[[], None] | None = None,
        hosts: HostLimiter | None = None,
    ) -> None:
        self.poller = poller
        # None: no per-host limit beyond the global one (the daemon passes fetch.per_host).
        self.hosts = hosts if hosts is not None else HostLimiter(per_host=concurrency)
        self.waiting = 0  # polls in flight still waiting for their host (holding no slot)
        self.store = store
        self.concurrency = concurrency
        self.clock = clock
        self.dispatcher = dispatcher
        # The one the poller was given, so that its wake-ups reach this scheduler's job.
        self.waker = waker if waker is not None else OutboxWaker()
        # Called on every tick: the daemon's proof of progress for the systemd watchdog.
        self.on_tick = on_tick
        self._extra_jobs: list[tuple[Callable[[], Awaitable[None]], float, str]] = []
        self.in_flight: dict[int, asyncio.Task[PollOutcome]] = {}
        self.last_tick_at: float | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._due: asyncio.Task[None] | None = None  # a tick's query of due feeds
        # The last query of due feeds filled every free slot, so more may be waiting: a
        # finished poll then asks for the next at once instead of at the next tick (one
        # batch of ``concurrency`` polls per tick capped a daemon at 20 polls/s).
        self._backlog = False
        self._jobs: set[asyncio.Task[None]] = set()  # job runs going on past their wait

    async def tick(self) -> None:
        """Start polls for due feeds, up to the free concurrency slots."""
        self.last_tick_at = self.clock()
        if self.on_tick is not None:
            self.on_tick()
        query = self._query_due(self.last_tick_at)
        if query is not None:
            # The tick job ends within a tick even when the writer is busy (a lock wait):
            # the query goes on and starts its polls when it returns, and the job is never
            # found still running by the next tick.
            await asyncio.wait([query], timeout=TICK_S / 2)

    def _query_due(self, now: float) -> asyncio.Task[None] | None:
        """Start the query of due feeds for the free slots, unless there is none, the
        database takes no write (the storage guard waits it out) or a query is running."""
        free = self.concurrency - self.polling
        free = min(free, self.concurrency + self.waiting_cap - len(self.in_flight))
        if free <= 0 or self.store.fault is not None:
            return None
        if self._due is not None and not self._due.done():
            return None  # the last query still waits for the writer thread
        self._due = asyncio.create_task(self._start_due(now, free))
        return self._due

    async def _start_due(self, now: float, free: int) -> None:
        try:
            due = await self.store.run(self.store.due_feeds, now, free, exclude=set(self.in_flight))
        except StoreError:
            self._backlog = False
            return  # a storage fault: the guard has it from here
        self._backlog = len(due) >= free
        for state in due:
            if state.id not in self.in_flight and self.polling < self.concurrency:
                self._start(state)

    @property
    def polling(self) -> int:
        """Polls holding a global slot: in flight and past their host's wait."""
        return len(self.in_flight) - self.waiting

    @property
    def waiting_cap(self) -> int:
        """Most polls waiting for their host at once, beyond the global slots."""
        return max(100, 4 * self.concurrency)

    def _start(self, state: FeedState) -> asyncio.Task[PollOutcome]:
        task = asyncio.create_task(self._poll(self.poller, state), name=f"poll:{state.url}")
        self.in_flight[state.id] = task
        feed_id = state.id

        def done(_task: asyncio.Task[PollOutcome]) -> None:
            self.in_flight.pop(feed_id, None)
            # Only between start() and stop(): a poll ending in a stop starts no other.
            if self._backlog and self._scheduler is not None and self._scheduler.running:
                self._query_due(self.clock())

        task.add_done_callback(done)
        return task

    async def _poll(
        self,
        poller: Poller,
        state: FeedState,
        gate: asyncio.Semaphore | None = None,
        progress: RunProgress | None = None,
    ) -> PollOutcome:
        # The poller and limiter are bound when the poll starts: a reload's new ones take the
        # next polls, while this one finishes with the HTTP client it was built with.
        hosts = self.hosts
        self.waiting += 1
        waiting = True
        try:
            # A host limit at or above the global one cannot bind: skip its bookkeeping.
            binds = hosts.per_host < self.concurrency or hosts.spacing_s > 0
            async with hosts.slot(state.url) if binds else contextlib.nullcontext():
                if gate is None:
                    self.waiting -= 1
                    waiting = False
                    return await poller.poll(state)
                async with gate:  # run_once: the global slot, taken after the host's
                    self.waiting -= 1
                    waiting = False
                    if progress is None:
                        return await poller.poll(state)
                    progress.started(state.name)
                    try:
                        return await poller.poll(state)
                    finally:
                        progress.finished(state.name)
        except Exception as exc:  # a bug must not stop the other feeds
            log.exception("poll crashed", extra={"fields": {"feed": state.name}})
            return PollOutcome(state.name, ok=False, error=f"internal error: {exc!r}")
        finally:
            if waiting:  # cancelled (a stop) while waiting for the host
                self.waiting -= 1

    async def outbox_tick(self) -> None:
        """Start sending due deliveries (APScheduler job). Each channel sends from its own
        task and the tick does not wait for them: a channel still sending is left out of
        the next ticks until it is done, so no delivery is claimed twice."""
        if self.dispatcher is None or self.store.fault is not None:
            return
        try:
            await self.dispatcher.run_due(wait=False)
        except Exception:  # keep the job alive; the next tick retries
            log.exception("outbox tick crashed")

    async def replace(
        self,
        *,
        poller: Poller,
        dispatcher: Dispatcher | None,
        concurrency: int,
        hosts: HostLimiter | None = None,
    ) -> None:
        """Swap in the parts a reload built: the next polls use ``poller`` (polls in flight
        finish with the old one), and ``concurrency`` applies from the next tick. A new
        ``hosts`` limiter takes the next polls (those in flight keep the old one's slots, so
        for their duration a host may see up to both limits).

        A ``dispatcher`` other than the current one replaces it once the old one's channels
        finished the alert in hand: until then the old dispatcher starts nothing new, and
        the new one is not yet in place, so no delivery is sent by both."""
        self.poller = poller
        self.concurrency = concurrency
        if hosts is not None:
            self.hosts = hosts
        old = self.dispatcher
        if dispatcher is old:
            return
        try:
            if old is not None:
                await old.aclose()
        finally:  # even if closing failed, the new dispatcher takes over
            self.dispatcher = dispatcher

    def every(self, seconds: float, job: Callable[[], Awaitable[None]], name: str) -> None:
        """Run ``job`` every ``seconds`` once started (status updates, feed silence checks)."""
        self._extra_jobs.append((job, seconds, name))

    def wake_outbox(self) -> None:
        """Run the outbox job now: new deliveries go out without waiting for the next tick."""
        self.waker()

    async def run_once(self, progress: RunProgress | None = None) -> list[PollOutcome]:
        """Poll every active feed once (bounded concurrency) and return the outcomes;
        ``progress`` hears of each poll's start and end (`run --once` on a terminal)."""
        states = await self.store.run(self.store.pollable_feeds, self.clock())
        sem = asyncio.Semaphore(self.concurrency)
        if progress is not None:
            progress.begin(len(states))

        return list(
            await asyncio.gather(*(self._poll(self.poller, s, sem, progress) for s in states))
        )

    def start(self) -> None:
        """Start the jobs on the running event loop: poll tick, outbox tick, extra jobs."""
        # Imported here: a one-shot run never starts the jobs, and apscheduler costs ~0.1 s.
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        self._scheduler = AsyncIOScheduler()
        self._add_job(self.tick, TICK_S, "poll-tick", first_run=datetime.now().astimezone())
        # Always scheduled: a reload may add the first channel; with none it returns at once.
        self._add_job(self.outbox_tick, TICK_S, OUTBOX_JOB)
        for job, seconds, name in self._extra_jobs:
            self._add_job(job, seconds, name)
        self._scheduler.start()
        self.waker.connect(self.outbox_tick)
        event(log, logging.INFO, "scheduler.started", tick_s=TICK_S, concurrency=self.concurrency)

    def _add_job(
        self,
        job: Callable[[], Awaitable[None]],
        seconds: float,
        name: str,
        first_run: datetime | None = None,
    ) -> None:
        # One instance at a time, late runs coalesced and never dropped as "misfired".
        from apscheduler.util import undefined

        assert self._scheduler is not None
        self._scheduler.add_job(
            self._bounded(job, seconds, name),
            "interval",
            seconds=seconds,
            id=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=first_run or undefined,
        )

    def _bounded(
        self, job: Callable[[], Awaitable[None]], seconds: float, name: str
    ) -> Callable[[], Awaitable[None]]:
        """``job`` as an APScheduler job that returns within half its interval: a run that
        takes longer (waiting for the writer thread behind a lock) goes on as a task, and
        the runs due meanwhile are skipped here, quietly, instead of by APScheduler with a
        "maximum number of running instances" warning each."""
        running: asyncio.Task[None] | None = None

        async def run() -> None:
            nonlocal running
            if running is not None and not running.done():
                return
            running = asyncio.create_task(_run_job(job), name=f"job:{name}")
            self._jobs.add(running)
            running.add_done_callback(self._jobs.discard)
            await asyncio.wait([running], timeout=seconds / 2)

        run.__name__ = run.__qualname__ = getattr(job, "__qualname__", name)
        return run

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Stop ticking; let polls in flight finish for up to ``timeout_s``, then cancel them."""
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self.waker.disconnect()
        if self._due is not None:
            self._due.cancel()  # a tick's query would start polls after the stop
        for job in list(self._jobs):
            job.cancel()
        tasks: list[asyncio.Task[Any]] = [*self.in_flight.values()]
        if self.dispatcher is not None:
            tasks += self.dispatcher.stop_sending()
        if not tasks:
            return
        done, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        event(log, logging.INFO, "scheduler.stopped", finished=len(done), cancelled=len(pending))


async def _run_job(job: Callable[[], Awaitable[None]]) -> None:
    try:
        await job()
    except Exception:  # keep the job alive; its next run tries again
        log.exception("job crashed")
