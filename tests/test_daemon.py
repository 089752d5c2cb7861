"""The daemon as a service, run as a subprocess: sd_notify, reload, SIGTERM, metrics, the
instance lock, feed health notices and secrets kept out of the logs."""

from __future__ import annotations

import re
import signal
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from daemonproc import Daemon

from conftest import run_cli
from feedserver import FeedServer
from rss import Item, rss
from smtpserver import free_port
from webhookserver import Receiver, start_receiver


@pytest.fixture
def hook() -> Iterator[Receiver]:
    receiver = start_receiver()
    yield receiver
    receiver.stop()


def _write(cfg: Path, body: str) -> Path:
    cfg.write_text(body)
    return cfg


def _base(tmp_path: Path, feeds: list[str], extra: str = "") -> str:
    lines = [
        f"database: {tmp_path / 't.db'}",
        "defaults: {interval: 1s, jitter: 0s}",
        "feeds:",
        *[f"  - url: {u}" for u in feeds],
    ]
    return "\n".join(lines) + "\n" + extra


@pytest.mark.slow
def test_sd_notify_ready_status_watchdog_and_stopping(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    url = feed_server.add("/n.xml", rss([Item("a", "https://n.example/a", "a")]))
    cfg = _write(tmp_path / "config.yaml", _base(tmp_path, [url]))
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.2)
    messages: list[str] = []

    def drain() -> str:
        try:
            while True:
                messages.append(sock.recv(4096).decode())
        except TimeoutError:
            pass
        return "\n".join(messages)

    daemon = Daemon(cfg, {"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "600000"})
    try:
        daemon.wait_for(lambda: "READY=1" in drain() and drain().count("WATCHDOG=1") >= 2)
        assert "STATUS=polling 1 feed, 0 failing, 0 pending alerts" in drain()
        assert daemon.stop() == 0
        assert "STOPPING=1" in drain()
    finally:
        daemon.stop()
        sock.close()


@pytest.mark.slow
def test_live_reload_good_and_bad_edits(feed_server: FeedServer, tmp_path: Path) -> None:
    items = [Item("Steel tariffs announced", "https://n.example/s1", "s1")]
    url = feed_server.add("/r.xml", rss(items))
    base = _base(tmp_path, [url])
    cfg = _write(tmp_path / "config.yaml", base + "topics:\n  wall:\n    query: wall\n")
    daemon = Daemon(cfg)
    try:
        daemon.wait_log("poll.ok")
        # Edit in place: a new topic that matches the article already stored.
        cfg.write_text(base + "topics:\n  wall:\n    query: wall\n  steel:\n    query: steel\n")
        daemon.wait_log("config.reloaded")
        assert "topics=+1/-0" in daemon.log
        items.insert(0, Item("Steel tariffs widened", "https://n.example/s2", "s2"))
        feed_server.add("/r.xml", rss(items))
        daemon.wait_log('topic=steel title="Steel tariffs widened"')
        # A broken edit: the daemon keeps running on the previous config and says why.
        cfg.write_text(base + "topics:\n  steel:\n    query: 'steel AND (tariff'\n")
        daemon.wait_log("config.rejected")
        assert "topics.steel.query" in daemon.log
        assert daemon.proc.poll() is None
        # SIGHUP reloads too.
        cfg.write_text(base + "topics:\n  steel:\n    query: steel\n")
        daemon.wait_log("topics=+0/-1")
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_for(lambda: daemon.log.count("config.reloaded") >= 3)
    finally:
        assert daemon.stop() == 0
    conn = sqlite3.connect(tmp_path / "t.db")
    alerts = list(
        conn.execute(
            "SELECT m.topic, a.title FROM matches m JOIN articles a ON a.id = m.article_id"
            " WHERE m.alert = 1"
        )
    )
    conn.close()
    # The old article never alerted for the new topic; the new one did.
    assert alerts == [("steel", "Steel tariffs widened")]


@pytest.mark.slow
def test_sigterm_mid_cycle_loses_nothing(feed_server: FeedServer, tmp_path: Path) -> None:
    urls = []
    for n in range(6):
        path = f"/slow{n}.xml"
        urls.append(
            feed_server.add(
                path,
                rss(
                    [
                        Item(f"item {n}-{i}", f"https://s.example/{n}/{i}", f"{n}-{i}")
                        for i in range(5)
                    ]
                ),
            )
        )
        feed_server.delays[path] = 1.0 if n % 2 else 30.0  # some finish, some cannot
    cfg = _write(
        tmp_path / "config.yaml",
        _base(tmp_path, urls).replace("interval: 1s", "interval: 1h")
        # All six on one loopback host, all in flight at once: the per-host limit is raised.
        + "fetch: {timeout: 60s, per_host: 6}\n",
    )
    daemon = Daemon(cfg)
    daemon.wait_log("scheduler.started")
    time.sleep(1.5)  # the fast ones are stored; the slow ones are in flight
    started = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - started < 15  # bounded: in-flight polls get 10 s
    assert "cancelled=3" in daemon.log
    feed_server.delays.clear()
    again = run_cli("--config", str(cfg), "run", "--once")
    assert again.returncode == 0
    conn = sqlite3.connect(tmp_path / "t.db")
    assert conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 30
    assert conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 30
    conn.close()


def test_metrics_and_healthz_over_http(feed_server: FeedServer, tmp_path: Path) -> None:
    url = feed_server.add("/m.xml", rss([Item("Border wall", "https://m.example/1", "1")]))
    port = free_port()
    cfg = _write(
        tmp_path / "config.yaml",
        _base(tmp_path, [url])
        + (
            f"metrics: {{listen: '127.0.0.1:{port}'}}\n"
            "topics:\n  wall:\n    query: '\"border wall\"'\n"
        ),
    )
    daemon = Daemon(cfg)
    try:
        daemon.wait_log("metrics.listening")

        def polled_again() -> bool:
            # A scrape that times out on a loaded machine is asked again, not a failure.
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            except httpx.TransportError:
                return False
            # The counter is exported at 0 from the start: wait for a real 304, the second poll.
            found = re.search(r'^tracker_polls_total\{result="not_modified"\} (\S+)$', text, re.M)
            return found is not None and float(found[1]) >= 1

        daemon.wait_for(polled_again, timeout=40)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert 'tracker_polls_total{result="ok"} 1.0' in text
        assert "tracker_new_articles_total 1.0" in text
        assert 'tracker_matches_total{topic="wall"} 1.0' in text
        health = httpx.get(f"http://127.0.0.1:{port}/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
    finally:
        assert daemon.stop() == 0


@pytest.mark.slow
def test_second_daemon_on_the_same_database_refuses(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    url = feed_server.add("/l.xml", rss([]))
    cfg = _write(tmp_path / "config.yaml", _base(tmp_path, [url]))
    first = Daemon(cfg)
    try:
        first.wait_log("daemon.started")
        second = run_cli("--config", str(cfg), "run")
        assert second.returncode == 1
        assert "another tracker (pid" in second.stderr and "already running" in second.stderr
        once = run_cli("--config", str(cfg), "run", "--once")
        assert once.returncode == 1 and "already running" in once.stderr
    finally:
        assert first.stop() == 0


@pytest.mark.slow
def test_feed_health_notices_once_each_way_and_secrets_stay_out_of_logs(
    feed_server: FeedServer, hook: Receiver, tmp_path: Path
) -> None:
    feed_server.fail("/flaky.xml", 500)
    smtp_port = free_port()  # nothing listens: the email channel keeps failing
    cfg = _write(
        tmp_path / "config.yaml",
        _base(tmp_path, [feed_server.url("/flaky.xml")]).replace(
            "  - url:", "  - auth: {username: me, password: feed-pa55word-xyz}\n    url:"
        )
        + (
            "feed_health: {fail_after: 2}\n"
            "topics:\n  wall:\n    query: wall\n    notify: [mail]\n"
            f"channels:\n  ops:\n    type: webhook\n    url: {hook.url}\n"
            "    secret: hook-s3cret-value\n"
            f"  mail:\n    type: email\n    host: 127.0.0.1\n    port: {smtp_port}\n"
            "    security: none\n    username: u\n    password: smtp-pa55word-abc\n"
            "    from: t@example.org\n    to: [d@example.org]\n"
            "delivery: {admin: ops, retry_base: 1s}\n"
        ),
    )
    daemon = Daemon(cfg)
    try:
        daemon.wait_for(lambda: len(hook.accepted()) >= 1)
        daemon.wait_for(lambda: daemon.log.count("poll.failed") >= 3)  # still failing
        assert len(hook.accepted()) == 1  # one notice, not one per cycle
        notice = hook.accepted()[0].json
        # A notice, not an alert dressed as one (the receiver checks it against the schema).
        assert notice["type"] == "notice" and notice["kind"] == "feed_failing"
        assert notice["subject"].startswith("feed failing:")
        assert "HTTP 500" in notice["body"]
        feed_server.add("/flaky.xml", rss([Item("wall news", "https://f.example/1", "1")]))
        daemon.wait_for(lambda: len(hook.accepted()) >= 2)
        recovered = hook.accepted()[1].json
        assert recovered["kind"] == "feed_recovered"
        assert recovered["subject"].startswith("feed recovered:")
        time.sleep(1.5)
        assert len(hook.accepted()) == 2
        listing = run_cli("--config", str(cfg), "feeds")
        assert " ok " in listing.stdout
    finally:
        assert daemon.stop() == 0
    log = daemon.log
    for secret in ("feed-pa55word-xyz", "hook-s3cret-value", "smtp-pa55word-abc"):
        assert secret not in log
    assert "poll.failed" in log
