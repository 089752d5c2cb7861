"""The store side of the everyday CLI: mutes, poll now, cancel, re-plan, match listings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tracker.models import Article, FeedSpec, Route, TopicHit
from tracker.store.facade import Store


def _store(tmp_path: Path) -> tuple[Store, int]:
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec("https://a.example/rss", "A", 900.0)], 1000.0)
    state = store.feed_state("https://a.example/rss")
    assert state is not None
    return store, state.id


def _delivery(store: Store, feed_id: int, n: int, digest: bool, at: float) -> int:
    article = Article(
        entry_key=f"k{n}",
        url=f"https://a.example/{n}",
        canonical_url=f"https://a.example/{n}",
        title=f"story {n}",
        summary="steel tariffs",
        content="",
        published_at=datetime(2026, 11, 1, tzinfo=UTC),
        lang="en",
    )
    article_id, _ = store.add_entry(feed_id, article, 1000.0 + n)
    [m] = store.add_matches(
        article_id, [TopicHit("steel", ("steel",), "**steel**")], True, 1000.0 + n
    )
    store.add_delivery(m.match_id, f"key{n}", Route("hook", digest, at), 1000.0 + n)
    return int(store.query("SELECT MAX(id) FROM deliveries")[0][0])


def test_mutes_expire_and_replace(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    assert store.muted_topics(0.0) == {}
    store.mute_topic("steel", None, 10.0)
    store.mute_topic("wall", 100.0, 10.0)
    assert store.muted_topics(50.0) == {"steel": None, "wall": 100.0}
    assert store.muted_topics(100.0) == {"steel": None}  # the mute ended
    store.mute_topic("steel", 200.0, 60.0)  # a second mute replaces the first
    assert store.muted_topics(150.0) == {"steel": 200.0}
    assert store.unmute_topic("steel") and not store.unmute_topic("steel")
    store.close()


def test_poll_now_keeps_retry_after_unless_forced(tmp_path: Path) -> None:
    store, feed_id = _store(tmp_path)
    store.record_failure(
        feed_id, now=1000.0, next_check_at=5000.0, status=503, error="busy", hold_until=5000.0
    )
    [wait] = store.feed_waits(2000.0)
    assert (wait.name, wait.hold_until, wait.consecutive_errors) == ("A", 5000.0, 1)
    assert store.poll_now([feed_id], 2000.0) == 0  # held
    assert store.query("SELECT next_check_at FROM feeds") == [(5000.0,)]
    assert store.poll_now([feed_id], 2000.0, force=True) == 1
    assert store.query("SELECT next_check_at, hold_until FROM feeds") == [(2000.0, None)]
    assert store.due_feeds(2000.0, 10)[0].id == feed_id
    assert store.feed_waits(6000.0)[0].hold_until is None
    store.close()


def test_wait_counts_agree_with_the_feeds_rows(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    specs = [FeedSpec(f"https://f{i}.example/", f"F{i}", 900.0) for i in range(6)]
    store.sync_feeds(specs, 1000.0)
    ids = {s.url: s.id for s in store.due_feeds(1000.0, 10)}
    failures = [  # (feed, next check, hold until)
        (0, 5000.0, None),  # backing off
        (1, 5000.0, 4000.0),  # held (and its errors are no backoff of ours)
        (2, 1500.0, 1500.0),  # a hold already over, and due again: neither
        (3, 3000.0, 2500.0),  # a hold over, still backing off
    ]
    for i, next_check, hold in failures:
        store.record_failure(
            ids[specs[i].url], now=1000.0, next_check_at=next_check, status=503, error="x",
            hold_until=hold,
        )  # fmt: skip
    store.sync_feeds(specs[:5], 1000.0)  # F5 retired: not counted
    now = 2600.0
    counts = store.feed_wait_counts(now)
    waits = store.feed_waits(now)
    assert (counts.feeds, counts.held, counts.held_until) == (5, 1, 4000.0)
    backoff = [w.name for w in waits if w.consecutive_errors and w.next_check_at > now]
    assert backoff == ["F0", "F1", "F3"] and counts.backoff == 2  # F1 is held, not backoff
    assert counts.next_poll_at == min(w.next_check_at for w in waits) == 1000.0
    assert [w.name for w in store.feed_waits(now, held_only=True)] == ["F1"]
    empty = Store(tmp_path / "e.db").feed_wait_counts(now)
    assert (empty.feeds, empty.backoff, empty.held, empty.next_poll_at) == (0, 0, 0, None)
    store.close()


def test_cancel_only_pending_and_replan_only_waiting_digests(tmp_path: Path) -> None:
    store, feed_id = _store(tmp_path)
    now_one = _delivery(store, feed_id, 1, digest=False, at=1001.0)
    waiting = _delivery(store, feed_id, 2, digest=True, at=90_000.0)
    tried = _delivery(store, feed_id, 3, digest=True, at=90_000.0)
    store.begin_attempt([tried])
    assert store.cancel_deliveries([now_one, 999]) == [999]
    assert store.cancel_deliveries([now_one]) == [now_one]  # no longer pending
    assert store.replan_waiting("hook", 50_000.0) == 1  # not the attempted digest
    assert store.query("SELECT id, status, not_before FROM deliveries ORDER BY id") == [
        (now_one, "cancelled", 1001.0),
        (waiting, "pending", 50_000.0),
        (tried, "pending", 90_000.0),
    ]
    views = store.delivery_views(10, topic="steel", channel="hook")
    assert [(v.id, v.feed, v.link) for v in views] == [
        (tried, "A", "https://a.example/3"),
        (waiting, "A", "https://a.example/2"),
        (now_one, "A", "https://a.example/1"),
    ]
    assert store.delivery_views(10, channel="other") == []
    matches = store.recent_matches(0.0, 10, feed="A")
    assert [(m.title, m.terms, m.alert) for m in matches] == [
        (f"story {n}", ("steel",), True) for n in (3, 2, 1)
    ]
    assert store.recent_matches(0.0, 10, topic="wall") == []
    assert store.recent_matches(1002.5, 10) == store.recent_matches(0.0, 1)
    store.close()
