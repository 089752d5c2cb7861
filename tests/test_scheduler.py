import asyncio
import logging
import time
from pathlib import Path

import pytest

from tracker.models import FeedSpec, FeedState, PollOutcome
from tracker.service.scheduler import FeedScheduler
from tracker.store.facade import Store


class RecordingPoller:
    """Stands in for the pipeline: records how many polls run at once, per feed and in all."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.running: dict[int, int] = {}
        self.max_total = 0
        self.max_per_feed = 0
        self.polls = 0

    async def poll(self, state: FeedState) -> PollOutcome:
        self.running[state.id] = self.running.get(state.id, 0) + 1
        self.max_per_feed = max(self.max_per_feed, self.running[state.id])
        self.max_total = max(self.max_total, sum(self.running.values()))
        self.polls += 1
        await asyncio.sleep(self.seconds)
        self.running[state.id] -= 1
        return PollOutcome(state.name, ok=True)


def test_concurrency_limit_and_no_double_polls(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec(f"https://f{i}.example/", f"f{i}", 60) for i in range(10)], now=0)
    poller = RecordingPoller(0.2)
    sched = FeedScheduler(poller, store, concurrency=3)  # type: ignore[arg-type]

    async def go() -> None:
        # The fake poller never moves next_check_at, so every feed stays due: the scheduler
        # alone must keep a feed from being polled twice at once.
        for _ in range(30):
            await sched.tick()
            await asyncio.sleep(0.02)
        await sched.stop()

    asyncio.run(go())
    assert poller.max_total == 3
    assert poller.max_per_feed == 1
    assert poller.polls >= 6


def test_stop_cancels_polls_that_overrun(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec("https://slow.example/", "slow", 60)], now=0)
    sched = FeedScheduler(RecordingPoller(30), store, concurrency=2)  # type: ignore[arg-type]

    async def go() -> float:
        await sched.tick()
        started = time.monotonic()
        await sched.stop(timeout_s=0.2)
        return time.monotonic() - started

    assert asyncio.run(go()) < 2
    assert sched.in_flight == {}


class FakeDispatcher:
    def __init__(self) -> None:
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True

    def stop_sending(self) -> list[asyncio.Task[None]]:
        return []


def test_replace_swaps_in_a_reloads_parts(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec(f"https://f{i}.example/", f"f{i}", 60) for i in range(2)], now=0)
    old, new = RecordingPoller(0.3), RecordingPoller(0.0)
    first, second = FakeDispatcher(), FakeDispatcher()
    sched = FeedScheduler(old, store, concurrency=1, dispatcher=first)  # type: ignore[arg-type]

    async def go() -> None:
        await sched.tick()  # one poll in flight, on the old poller
        await sched.replace(poller=new, dispatcher=first, concurrency=2)  # type: ignore[arg-type]
        assert not first.closed  # the same dispatcher stays
        await sched.tick()  # one more slot: the other feed, on the new poller
        await sched.replace(poller=new, dispatcher=second, concurrency=2)  # type: ignore[arg-type]
        await asyncio.wait(list(sched.in_flight.values()))

    asyncio.run(go())
    assert (old.polls, new.polls) == (1, 1)  # the poll in flight kept its poller
    assert first.closed and sched.dispatcher is second and sched.concurrency == 2


class CountingDispatcher(FakeDispatcher):
    """Counts outbox passes (the daemon's tick calls run_due without waiting)."""

    def __init__(self) -> None:
        super().__init__()
        self.passes = 0

    async def run_due(self, wait: bool = True) -> None:
        self.passes += 1


def test_wakes_as_polls_finish_start_passes_without_apscheduler_warnings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Polls finishing together each woke the outbox job by moving its next run time, and
    # APScheduler logged "maximum number of running instances reached" for all but one.
    store = Store(tmp_path / "t.db")
    dispatcher = CountingDispatcher()
    sched = FeedScheduler(RecordingPoller(0), store, 2, dispatcher=dispatcher)  # type: ignore[arg-type]

    async def go() -> int:
        sched.start()
        await asyncio.sleep(0.05)  # the first ticks
        before = dispatcher.passes
        for _ in range(20):  # as polls finish: one wake per turn of the event loop
            sched.wake_outbox()
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)
        woken = dispatcher.passes - before
        await sched.stop()
        sched.wake_outbox()  # after the stop: nothing
        return woken

    with caplog.at_level(logging.WARNING, logger="apscheduler"):
        woken = asyncio.run(go())
    assert woken >= 1
    assert not [r for r in caplog.records if "maximum number" in r.getMessage()]


def test_a_backlog_of_due_feeds_is_not_held_to_one_batch_per_tick(tmp_path: Path) -> None:
    # The tick starts at most `concurrency` polls; with only the tick a daemon did one
    # batch a second (20 polls/s by default, too few for 100,000 feeds at 15 minutes).
    # Within the first tick's second, polls that end must hand their slots on.
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec(f"https://f{i}.example/", f"f{i}", 60) for i in range(60)], now=0)
    poller = RecordingPoller(0.01)
    sched = FeedScheduler(poller, store, concurrency=3)  # type: ignore[arg-type]

    async def go() -> int:
        sched.start()
        await asyncio.sleep(0.6)  # within the first tick's second: one batch of 3 without
        polls = poller.polls
        await sched.stop()
        return polls

    polls = asyncio.run(go())
    assert polls > 3 * 4, polls  # many batches, not one
    assert poller.max_total <= 3
    assert poller.max_per_feed == 1


def test_polls_ending_after_the_stop_start_no_others(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec(f"https://f{i}.example/", f"f{i}", 60) for i in range(20)], now=0)
    poller = RecordingPoller(0.05)
    sched = FeedScheduler(poller, store, concurrency=2)  # type: ignore[arg-type]

    async def go() -> tuple[int, int]:
        sched.start()
        await asyncio.sleep(0.2)
        await sched.stop()
        stopped = poller.polls
        await asyncio.sleep(0.2)
        return stopped, poller.polls

    stopped, later = asyncio.run(go())
    assert later == stopped
    assert sched.in_flight == {}
