"""The dispatcher and a real webhook receiver, on a real database, with a clock we move."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracker import config as config_mod
from tracker import notify
from tracker.models import Article, FeedSpec, Route, TopicHit
from tracker.outbox import Dispatcher, RetryPolicy
from tracker.store import Store

from webhookserver import Received, Receiver, start_receiver

T0 = 1_800_000_000.0


@pytest.fixture
def hook() -> Iterator[Receiver]:
    receiver = start_receiver()
    yield receiver
    receiver.http.stop()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _setup(tmp_path: Path, hook: Receiver) -> tuple[Store, Dispatcher, Clock]:
    cfg = config_mod.parse(
        "feeds: [{url: 'https://a.example/rss'}]\ntopics:\n  wall:\n    query: wall\n"
        f"channels:\n  daily:\n    type: webhook\n    url: {hook.url}\n    mode: daily\n",
        tmp_path,
    )
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec("https://a.example/rss", "a", 60)], now=0)
    clock = Clock()
    policy = RetryPolicy(max_attempts=5, base_s=60, max_s=600)
    return store, Dispatcher(store, notify.build(cfg.channels), policy, clock), clock


def _queue_digest_alert(store: Store, n: int, not_before: float) -> None:
    (feed,) = store.due_feeds(T0, 1)
    with store.transaction():
        url = f"https://x.example/{n}"
        art = Article(f"k{n}", url, url, f"Border wall {n}", "", "", None, None)
        aid, _ = store.add_entry(feed.id, art, not_before)
        (m,) = store.add_matches(aid, [TopicHit("wall")], True, not_before)
        store.add_delivery(m.match_id, f"key{n}", Route("daily", True, not_before), not_before)


def _titles(request: Received) -> list[str]:
    return [a["article"]["title"] for a in request.json["alerts"]]


def test_a_retried_digest_keeps_its_members_and_its_key(tmp_path: Path, hook: Receiver) -> None:
    store, dispatcher, clock = _setup(tmp_path, hook)
    _queue_digest_alert(store, 1, T0)
    _queue_digest_alert(store, 2, T0)
    hook.script = [(503, {})]  # perhaps it did reach the team: the key must not change
    summary = asyncio.run(dispatcher.run_due())
    assert summary.retrying == 2
    first_key = hook.received[0].headers["Idempotency-Key"]

    # Before the retry comes due, the next digest's alert does too (a daemon that was
    # down, or a retry delay longer than the digest period).
    _queue_digest_alert(store, 3, T0 + 30)
    clock.now = T0 + 3600
    summary = asyncio.run(dispatcher.run_due())
    assert summary.sent == 3
    resent, new = sorted(hook.received[1:], key=lambda r: len(r.json["alerts"]), reverse=True)
    assert resent.headers["Idempotency-Key"] == first_key
    assert _titles(resent) == ["Border wall 1", "Border wall 2"]
    assert _titles(new) == ["Border wall 3"]
    assert new.headers["Idempotency-Key"] != first_key


def test_a_digest_cut_by_the_batch_limit_is_resent_whole(tmp_path: Path, hook: Receiver) -> None:
    store, dispatcher, clock = _setup(tmp_path, hook)
    for n in range(1, 5):
        _queue_digest_alert(store, n, T0)
    hook.script = [(503, {})]
    asyncio.run(dispatcher.run_due(limit=3))  # a digest of the three oldest
    first_key = hook.received[0].headers["Idempotency-Key"]
    assert _titles(hook.received[0]) == ["Border wall 1", "Border wall 2", "Border wall 3"]

    clock.now = T0 + 3600
    asyncio.run(dispatcher.run_due(limit=2))  # the limit now cuts the failed digest
    keys = [r.headers["Idempotency-Key"] for r in hook.received[1:]]
    assert first_key in keys
    assert _titles(hook.received[1 + keys.index(first_key)]) == _titles(hook.received[0])
    asyncio.run(dispatcher.run_due())
    sent = [a["article"]["title"] for r in hook.accepted() for a in r.json["alerts"]]
    assert sorted(sent) == [f"Border wall {n}" for n in range(1, 5)]  # each exactly once
