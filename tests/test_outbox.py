"""The dispatcher and a real webhook receiver, on a real database, with a clock we move."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rawserver import DripServer, RawServer

from tracker.config import loader as config_mod
from tracker.config.settings import to_settings
from tracker.delivery import channels as notify
from tracker.delivery.outbox import Dispatcher, RetryPolicy
from tracker.models import Article, FeedSpec, Route, TopicHit
from tracker.store.facade import Store

from smtpserver import SMTPServer
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


def _setup(
    tmp_path: Path, hook: Receiver, channels: str = "", clock: Callable[[], float] | None = None
) -> tuple[Store, Dispatcher, Clock]:
    cfg = config_mod.parse(
        "feeds: [{url: 'https://a.example/rss'}]\ntopics:\n  wall:\n    query: wall\n"
        f"channels:\n  daily:\n    type: webhook\n    url: {hook.url}\n    mode: daily\n"
        + channels,
        tmp_path,
    )
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec("https://a.example/rss", "a", 60)], now=0)
    fake = Clock()
    policy = RetryPolicy(max_attempts=5, base_s=60, max_s=600)
    channels = to_settings(cfg).channels
    dispatcher = Dispatcher(store, notify.build(channels), policy, clock or fake)
    return store, dispatcher, fake


def _queue_alert(
    store: Store, n: int, not_before: float, channel: str = "daily", digest: bool = True
) -> None:
    (feed,) = store.due_feeds(T0, 1)
    with store.transaction():
        url = f"https://x.example/{n}"
        art = Article(f"k{n}", url, url, f"Border wall {n}", "", "", None, None)
        aid, _ = store.add_entry(feed.id, art, not_before)
        (m,) = store.add_matches(aid, [TopicHit("wall")], True, not_before)
        route = Route(channel, digest, not_before)
        store.add_delivery(m.match_id, f"key{n}-{channel}", route, not_before)


def _titles(request: Received) -> list[str]:
    return [a["article"]["title"] for a in request.json["alerts"]]


def test_a_retried_digest_keeps_its_members_and_its_key(tmp_path: Path, hook: Receiver) -> None:
    store, dispatcher, clock = _setup(tmp_path, hook)
    _queue_alert(store, 1, T0)
    _queue_alert(store, 2, T0)
    hook.script = [(503, {})]  # perhaps it did reach the team: the key must not change
    summary = asyncio.run(dispatcher.run_due())
    assert summary.retrying == 2
    first_key = hook.received[0].headers["Idempotency-Key"]

    # Before the retry comes due, the next digest's alert does too (a daemon that was
    # down, or a retry delay longer than the digest period).
    _queue_alert(store, 3, T0 + 30)
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
        _queue_alert(store, n, T0)
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


def test_a_slow_channel_does_not_hold_up_the_others(tmp_path: Path, hook: Receiver) -> None:
    # A webhook that takes a second per alert, and an email channel: new email alerts go
    # out while the webhook's batch is still being sent, and nothing is claimed twice.
    with SMTPServer() as smtp:
        email = (
            f"  mail:\n    type: email\n    host: 127.0.0.1\n    port: {smtp.port}\n"
            "    security: none\n    from: t@example.org\n    to: [d@example.org]\n"
            f"  slow:\n    type: webhook\n    url: {hook.url}\n"
        )
        store, dispatcher, _ = _setup(tmp_path, hook, email, clock=time.time)
        now = time.time()
        hook.delay_s = 1.0
        for n in range(4):
            _queue_alert(store, n, now, "slow", digest=False)

        async def go() -> float:
            await dispatcher.run_due(wait=False)  # the daemon's tick: the webhook starts
            await asyncio.sleep(0.3)
            _queue_alert(store, 10, time.time(), "mail", digest=False)
            started = time.monotonic()
            await dispatcher.run_due(wait=False)  # next tick: "slow" is busy, left out
            while not smtp.handler.messages:
                await asyncio.sleep(0.02)
            took = time.monotonic() - started
            assert len(hook.received) < 4  # the webhook is still at it
            await dispatcher.aclose()  # finishes the alert in hand, then stops
            return took

        took = asyncio.run(go())
        assert took < 0.8
        # Every alert sent at most once; those not reached are still pending, due now.
        titles = [r.json["article"]["title"] for r in hook.received]
        assert len(titles) == len(set(titles))
        pending = store.query("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")
        assert pending == [(4 - len(titles),)]


def test_a_failing_channel_costs_one_attempt_per_pass(tmp_path: Path, hook: Receiver) -> None:
    store, dispatcher, clock = _setup(tmp_path, hook)
    for n in range(5):
        _queue_alert(store, n, T0, "daily", digest=False)
    hook.script = [(503, {"Retry-After": "120"})]
    summary = asyncio.run(dispatcher.run_due())
    assert len(hook.received) == 1 and summary.retrying == 5
    rows = store.query("SELECT attempts, next_attempt_at, not_before FROM deliveries ORDER BY id")
    assert [r[0] for r in rows] == [1, 0, 0, 0, 0]  # the others spent no attempt
    assert all(r[1] >= T0 + 120 and r[2] == T0 + 120 for r in rows)  # all wait as asked
    clock.now = T0 + 121
    assert asyncio.run(dispatcher.run_due()).sent == 5


@pytest.mark.slow
def test_an_apprise_target_that_never_finishes_answering_times_out(tmp_path: Path) -> None:
    pytest.importorskip("apprise")
    with DripServer() as drip:
        cfg = config_mod.parse(
            "feeds: [{url: 'https://a.example/rss'}]\ntopics:\n  wall:\n    query: wall\n"
            f"channels:\n  phone:\n    type: apprise\n    url: 'json://127.0.0.1:{drip.port}/'\n"
            "    timeout: 1s\n",
            tmp_path,
        )
        store = Store(tmp_path / "t.db")
        store.add_notice("test", "subject", "body", "phone", time.time())
        dispatcher = Dispatcher(store, notify.build(to_settings(cfg).channels), RetryPolicy())
        started = time.monotonic()
        summary = asyncio.run(dispatcher.run_due())
        assert time.monotonic() - started < 5
        assert summary.retrying == 1 and "no answer within 1s" in summary.errors[0]


def test_only_the_start_of_a_receivers_answer_is_read(tmp_path: Path, hook: Receiver) -> None:
    store, dispatcher, _ = _setup(tmp_path, hook)
    _queue_alert(store, 1, T0, "daily", digest=False)
    hook.answer = itertools.repeat(b"x" * 65536)  # a receiver whose answer never ends
    started = time.monotonic()
    assert asyncio.run(dispatcher.run_due()).sent == 1
    assert time.monotonic() - started < 5
    (response,) = store.query("SELECT response FROM deliveries")[0]
    assert response == "HTTP 200 " + "x" * 300


class QuitHangsSMTP(RawServer):
    """Just enough SMTP to accept messages; after QUIT it drips a byte at a time, never a
    full line (a server that hangs up badly)."""

    accepted = 0

    def session(self, conn: socket.socket) -> None:
        with conn.makefile("rb") as lines:
            conn.sendall(b"220 hi\r\n")
            while line := lines.readline():
                command = line[:4].upper()
                if command == b"DATA":
                    conn.sendall(b"354 go\r\n")
                    while lines.readline() not in (b".\r\n", b""):
                        pass
                    self.accepted += 1
                    conn.sendall(b"250 queued\r\n")
                elif command == b"QUIT":
                    while not self.stop.wait(0.2):
                        conn.sendall(b"2")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")


def test_a_digest_accepted_before_a_failed_quit_is_sent_once(
    tmp_path: Path, hook: Receiver
) -> None:
    with QuitHangsSMTP() as server:
        mail = (
            f"  mail:\n    type: email\n    host: 127.0.0.1\n    port: {server.port}\n"
            "    security: none\n    from: t@example.org\n    to: [d@example.org]\n"
            "    mode: daily\n    timeout: 0.5s\n"
        )
        store, dispatcher, clock = _setup(tmp_path, hook, mail)
        for n in range(2):
            _queue_alert(store, n, T0, "mail")
        for _ in range(3):  # three outbox passes
            asyncio.run(dispatcher.run_due())
            clock.now += 60
        assert server.accepted == 1
        assert store.query("SELECT status, attempts FROM deliveries") == [("sent", 1)] * 2
