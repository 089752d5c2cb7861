"""Silent feeds: judged against each feed's own cadence, one notice each way."""

from __future__ import annotations

from pathlib import Path

from tracker.models import Article, FeedSpec, PollOutcome
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
