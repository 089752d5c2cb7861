"""Bounded parsing in the running daemon (a subprocess), with hostile feeds served over
127.0.0.1: a parse past its limit is that feed's error while the others are polled, and
SIGTERM stops the daemon within 10 s even mid-parse (65 s before)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from daemonproc import Daemon
from test_isolate import slow_feed

from feedserver import FeedServer
from rss import Item, rss

pytestmark = pytest.mark.slow


def _config(tmp_path: Path, urls: list[str], parse: str) -> Path:
    cfg = tmp_path / "config.yaml"
    feeds = "\n".join(f"  - url: {u}" for u in urls)
    cfg.write_text(
        f"database: {tmp_path / 't.db'}\n"
        "defaults: {interval: 1h, jitter: 0s}\n"
        f"parse: {parse}\n"
        f"feeds:\n{feeds}\n"
    )
    return cfg


def test_a_parse_past_its_deadline_fails_that_feed_only(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    slow = feed_server.add("/slow.xml", slow_feed(600))  # ~12 s of feedparser
    ok = feed_server.add("/ok.xml", rss([Item("fine", "https://n.example/fine", "g1")]))
    daemon = Daemon(_config(tmp_path, [slow, ok], "{timeout: 1s}"))
    try:
        daemon.wait_for(lambda: "poll.failed" in daemon.log and "poll.ok" in daemon.log, 60)
        failed = [line for line in daemon.log.splitlines() if "poll.failed" in line]
        assert len(failed) == 1 and "/slow.xml" in failed[0], daemon.log
        assert 'error="parse exceeded 1s (parse.timeout)"' in failed[0]
        assert "poll crashed" not in daemon.log and "Traceback" not in daemon.log
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(timeout=15) == 0
    finally:
        daemon.close()


def test_sigterm_mid_parse_stops_the_daemon_within_10_s(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    slow = feed_server.add("/slow.xml", slow_feed(1200))  # 9.3 MB, ~20 s of feedparser
    daemon = Daemon(_config(tmp_path, [slow], "{timeout: 5m}"))
    try:
        daemon.wait_for(lambda: bool(feed_server.requests_for("/slow.xml")), 60)
        time.sleep(2.0)  # the body is fetched and in the parser
        assert "poll." not in daemon.log, daemon.log
        started = time.monotonic()
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(timeout=30) == 0
        took = time.monotonic() - started
        assert took < 10, f"stopping took {took:.1f}s\n{daemon.log}"
        assert "daemon.stopped" in daemon.log
    finally:
        daemon.close()


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_daemon_killed_mid_parse_leaves_no_parse_running(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    slow = feed_server.add("/slow.xml", slow_feed(1200))  # ~20 s of feedparser
    daemon = Daemon(_config(tmp_path, [slow], "{timeout: 5m}"))
    try:
        daemon.wait_for(lambda: bool(feed_server.requests_for("/slow.xml")), 60)
        time.sleep(2.0)
        helpers = _descendants(daemon.proc.pid)
        assert len(helpers) >= 2, helpers  # the forkserver and at least one worker
        daemon.proc.kill()
        daemon.proc.wait()
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in helpers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [p for p in helpers if _alive(p)]
        assert not left, [Path(f"/proc/{p}/cmdline").read_bytes()[:150] for p in left]
    finally:
        daemon.close()
