"""Silent feeds: judged against each feed's own cadence, one notice each way."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracker.models import Article, FeedSpec, HealthStatus, PollOutcome
from tracker.service.feedhealth import FeedHealthMonitor
from tracker.store.facade import Store

HOUR = 3600.0


def _store_with_cadence(tmp_path: Path, times: list[float]) -> tuple[Store, int]:
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec("https://a.example/rss", "A", 60)], now=0)
    (feed,) = store.pollable_feeds(0)
    for i, t in enumerate(times):
        with store.transaction():
            art = Article(
                f"k{i}", f"https://a.example/{i}", f"https://a.example/{i}", "t", "", "", None, None
            )
            store.add_entry(feed.id, art, t)
    return store, feed.id


def test_silence_is_relative_to_the_usual_cadence(tmp_path: Path) -> None:
    store, feed_id = _store_with_cadence(tmp_path, [i * HOUR for i in range(10)])  # hourly
    now = [9 * HOUR + 5 * HOUR]
    monitor = FeedHealthMonitor(
        store, "ops", fail_after=3, silent_factor=10, min_silence_s=HOUR, clock=lambda: now[0]
    )
    assert monitor.check_silence() == 0  # 5 h without news: not yet 10× the cadence
    now[0] = 9 * HOUR + 11 * HOUR
    assert monitor.check_silence() == 1
    assert monitor.check_silence() == 0  # one notice, not one per check
    assert store.feed_health(feed_id)[0] == "silent"
    (state,) = store.pollable_feeds(now[0])
    # New items, all of them stories another feed brought first: the feed lives all the same.
    assert monitor.after_poll(state, PollOutcome("A", ok=True, new_entries=2)) is True
    assert store.feed_health(feed_id)[0] == "ok"
    subjects = [r[0] for r in store.query("SELECT subject FROM notices ORDER BY id")]
    assert subjects == ["feed silent: A", "feed recovered: A"]


def test_too_little_history_is_never_silent(tmp_path: Path) -> None:
    store, _ = _store_with_cadence(tmp_path, [0, HOUR])
    monitor = FeedHealthMonitor(store, None, 3, 10, HOUR, clock=lambda: 1000 * HOUR)
    assert monitor.check_silence() == 0


def _poll(store: Store, feed_id: int, at: float, items: list[tuple[str, float | None]]) -> None:
    """One poll storing ``items`` (key, publication time) as the pipeline does: one
    transaction, each entry stamped a few microseconds after the one before."""
    with store.transaction():
        for n, (key, published) in enumerate(items):
            when = datetime.fromtimestamp(published, UTC) if published is not None else None
            art = Article(key, f"https://a.example/{key}", None, key, "", "", when, None)
            store.add_entry(feed_id, art, at + n * 7e-6)


def _feed(tmp_path: Path) -> tuple[Store, int]:
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec("https://a.example/rss", "A", 900)], now=0)
    (feed,) = store.pollable_feeds(0)
    return store, feed.id


DAY = 24 * HOUR


def test_a_one_poll_baseline_of_50_dated_items_teaches_the_cadence(tmp_path: Path) -> None:
    store, feed_id = _feed(tmp_path)
    start = 100 * DAY
    # One baseline poll: 50 items, published hourly up to the poll.
    _poll(store, feed_id, start, [(f"b{i}", start - i * HOUR) for i in range(50)])
    assert store.new_item_times(feed_id, 12) == [start]  # one poll, one sample
    now = [start + 5 * HOUR]
    monitor = FeedHealthMonitor(store, "ops", 3, 10, 2 * HOUR, clock=lambda: now[0])
    assert monitor.check_silence() == 0  # 5 h: not yet 10× an hour
    now[0] = start + 11 * HOUR
    assert monitor.check_silence() == 1
    (body,) = [r[0] for r in store.query("SELECT body FROM notices")]
    assert "no new items for 11h" in body and "usually does every 1h" in body, body


def test_a_one_poll_baseline_of_undated_items_is_too_little_history(tmp_path: Path) -> None:
    store, feed_id = _feed(tmp_path)
    _poll(store, feed_id, 100 * DAY, [(f"b{i}", None) for i in range(50)])
    # Old behaviour: 12 "times" microseconds apart, a cadence of 7e-06 s, and a notice as
    # soon as min_silence passed. One poll is one sample: nothing is known yet.
    monitor = FeedHealthMonitor(store, "ops", 3, 10, HOUR, clock=lambda: 130 * DAY)
    assert monitor.check_silence() == 0


@pytest.mark.parametrize("dated", [True, False], ids=["dated", "undated"])
def test_an_hourly_feed_polled_every_15_minutes(dated: bool, tmp_path: Path) -> None:
    store, feed_id = _feed(tmp_path)
    start, t, n = 100 * DAY, 100 * DAY, 0
    _poll(store, feed_id, t, [(f"b{i}", start - i * HOUR if dated else None) for i in range(20)])
    while t < start + 12 * HOUR:
        t += 15 * 60
        if (t - start) % HOUR == 0:  # the feed publishes one item an hour
            n += 1
            _poll(store, feed_id, t, [(f"n{n}", t - 60 if dated else None)])
        else:
            _poll(store, feed_id, t, [])  # a poll that brought nothing writes nothing
    now = [t + 9 * HOUR]
    monitor = FeedHealthMonitor(store, "ops", 3, 10, HOUR, clock=lambda: now[0])
    assert monitor.check_silence() == 0, dated  # 9 h quiet: under 10× an hour
    now[0] = t + 10.5 * HOUR
    assert monitor.check_silence() == 1, dated
    (body,) = [r[0] for r in store.query("SELECT body FROM notices")]
    assert "usually does every 1h" in body, (dated, body)


def _statements(store: Store) -> list[str]:
    """Every statement the store's connection runs from now on."""
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    return seen


def _fail(store: Store, monitor: FeedHealthMonitor, feed_id: int, now: float) -> bool:
    (state,) = [s for s in store.pollable_feeds(now) if s.id == feed_id]
    with store.transaction():
        store.record_failure(feed_id, now=now, next_check_at=now, status=500, error="HTTP 500")
        return monitor.after_poll(state, PollOutcome("A", ok=False, error="HTTP 500"))


def _succeed(store: Store, monitor: FeedHealthMonitor, new_entries: int = 0) -> bool:
    (state,) = store.pollable_feeds(HOUR)
    with store.transaction():
        store.record_success(
            state.id, now=HOUR, next_check_at=2 * HOUR, status=304, etag=None,
            last_modified=None, body_hash=None, baseline_done=True,
        )  # fmt: skip
        return monitor.after_poll(state, PollOutcome("A", ok=True, new_entries=new_entries))


def test_a_304_of_a_healthy_feed_reads_nothing_more(tmp_path: Path) -> None:
    store, _ = _feed(tmp_path)
    monitor = FeedHealthMonitor(store, "ops", 2, 10, HOUR, clock=lambda: HOUR)
    seen = _statements(store)
    assert _succeed(store, monitor) is False
    # The feed's state said ok: its success write and nothing else about its health.
    assert not [s for s in seen if s.startswith("SELECT health")], seen
    seen.clear()
    assert _succeed(store, monitor, new_entries=2) is False  # news may end a silence: read
    assert [s for s in seen if s.startswith("SELECT health")], seen


def test_health_changed_by_another_process_is_seen_at_the_next_poll(tmp_path: Path) -> None:
    store, feed_id = _feed(tmp_path)
    monitor = FeedHealthMonitor(store, "ops", 2, 10, HOUR, clock=lambda: HOUR)
    assert _succeed(store, monitor) is False
    # Another process (another daemon's monitor, say) marks the feed failing, then the feed
    # answers here: the state read for this poll says failing, so it recovers, once.
    other = Store(tmp_path / "t.db")
    other.set_feed_health(feed_id, HealthStatus.FAILING)
    other.db.conn.commit()
    other.close()
    assert _succeed(store, monitor) is True
    assert _succeed(store, monitor) is False
    assert store.feed_health(feed_id)[0] == "ok"
    subjects = [r[0] for r in store.query("SELECT subject FROM notices ORDER BY id")]
    assert subjects == ["feed recovered: A"]


def test_failing_and_recovering_with_states_read_from_the_store(tmp_path: Path) -> None:
    store, feed_id = _feed(tmp_path)
    monitor = FeedHealthMonitor(store, "ops", 2, 10, HOUR, clock=lambda: HOUR)
    assert _succeed(store, monitor) is False
    assert _fail(store, monitor, feed_id, HOUR) is False  # one error: not yet failing
    assert _fail(store, monitor, feed_id, HOUR) is True
    assert _fail(store, monitor, feed_id, HOUR) is False  # one notice, not one per poll
    assert _succeed(store, monitor) is True  # a 304 ends the failing spell
    assert _succeed(store, monitor) is False
    subjects = [r[0] for r in store.query("SELECT subject FROM notices ORDER BY id")]
    assert subjects == ["feed failing: A", "feed recovered: A"]
