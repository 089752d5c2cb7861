"""Config edits that would empty or halve a running daemon are refused, with the old config
kept, unless confirmed (`tracker reload --force`, or the file's allow-shrink marker); `check`
and `tracker reload` warn of the same, judged against the database. The daemon runs as a
subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_daemon import Daemon

from conftest import run_cli
from feedserver import FeedServer
from rss import Item, rss

pytestmark = pytest.mark.slow


def _config(tmp_path: Path, urls: list[str], topics: list[str], extra: str = "") -> str:
    lines = [
        f"database: {tmp_path / 't.db'}",
        "defaults: {interval: 1s, jitter: 0s}",
        "feeds:" if urls else "feeds: []",
        *[f"  - url: {u}" for u in urls],
        "topics:" if topics else "topics: {}",
        *[f"  {t}:\n    query: {t}" for t in topics],
    ]
    return extra + "\n".join(lines) + "\n"


def _polls(server: FeedServer, path: str) -> int:
    return len(server.requests_for(path))


def test_emptying_or_halving_edits_are_refused_unless_confirmed(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    paths = [f"/g{i}.xml" for i in range(4)]
    urls = [
        feed_server.add(p, rss([Item(f"steel {p}", f"https://n.example{p}", p)])) for p in paths
    ]
    cfg = tmp_path / "config.yaml"
    cfg.write_text(_config(tmp_path, urls, ["steel", "wall"]))
    c = ("--config", str(cfg))
    daemon = Daemon(cfg)
    try:
        daemon.wait_for(lambda: daemon.log.count("poll.ok") >= 4)

        # An empty file (an editor that truncated it, a failed deploy): refused, and every
        # feed is still polled.
        cfg.write_text("")
        daemon.wait_log("config.rejected")
        assert "no feeds and no topics" in daemon.log
        polled = _polls(feed_server, paths[3])
        daemon.wait_for(lambda: _polls(feed_server, paths[3]) > polled + 1)
        assert "config.reloaded" not in daemon.log
        checked = run_cli(*c, "check")
        assert (
            checked.returncode == 0 and "warning: config: no feeds and no topics" in checked.stderr
        )

        # Three of four feeds gone: more than half, so it needs a confirmation.
        cfg.write_text(_config(tmp_path, urls[:1], ["steel", "wall"]))
        daemon.wait_for(lambda: daemon.log.count("config.rejected") >= 2)
        assert "feeds: removes 3 of 4 feeds (more than half)" in daemon.log
        assert "tracker reload --force" in daemon.log
        checked = run_cli(*c, "check")
        assert checked.returncode == 0
        assert "warning: feeds: removes 3 of 4 feeds (more than half)" in checked.stderr
        # `tracker reload` checks first and signals nothing without --force.
        refused = run_cli(*c, "reload")
        assert refused.returncode == 2, refused.stderr
        assert "removes 3 of 4 feeds" in refused.stderr and "--force" in refused.stderr
        assert daemon.log.count("config.rejected") == 2
        polled = _polls(feed_server, paths[3])
        daemon.wait_for(lambda: _polls(feed_server, paths[3]) > polled)  # still the old config

        forced = run_cli(*c, "reload", "--force")
        assert forced.returncode == 0, forced.stderr
        assert f"pid {daemon.proc.pid}" in forced.stdout
        daemon.wait_log("feeds=+0/-3")
        assert "config.shrink_confirmed" in daemon.log

        # No topics left where there were two: the marker in the file confirms it.
        cfg.write_text(_config(tmp_path, urls[:1], []))
        daemon.wait_for(lambda: daemon.log.count("config.rejected") >= 3)
        assert "topics: no topics left (the running config has 2)" in daemon.log
        cfg.write_text(_config(tmp_path, urls[:1], [], extra="# tracker: allow-shrink\n"))
        daemon.wait_log("topics=+0/-2")
        assert daemon.proc.poll() is None
    finally:
        assert daemon.stop() == 0
    # Polls finishing together woke the outbox job while it ran: APScheduler warned.
    assert "maximum number of running instances" not in daemon.log
    gone = run_cli(*c, "reload")
    assert gone.returncode == 1 and "no tracker is running on" in gone.stderr
    # Nor does a start with a truncated file retire every feed the database polls.
    cfg.write_text(f"database: {tmp_path / 't.db'}\n")
    for args in (("run", "--once"), ("run",)):
        refused = run_cli(*c, *args, timeout=30)
        assert refused.returncode == 2, refused.stderr
        assert "no feeds and no topics, but" in refused.stderr
        assert "has 1 active feed: not started" in refused.stderr


def test_check_compares_with_the_feeds_the_database_has_even_masked_ones(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    urls = [feed_server.add(f"/m{i}.xml", rss([])) + f"?token=tok-secret-{i}" for i in range(3)]
    cfg = tmp_path / "config.yaml"
    cfg.write_text(_config(tmp_path, urls, ["steel"]))
    c = ("--config", str(cfg))
    assert run_cli(*c, "run", "--once").returncode == 0  # stores the URLs with tokens masked
    same = run_cli(*c, "check")
    assert same.returncode == 0 and "warning" not in same.stderr, same.stderr
    cfg.write_text(_config(tmp_path, urls[:1], ["steel"]))
    fewer = run_cli(*c, "check")
    assert fewer.returncode == 0
    assert "warning: feeds: removes 2 of 3 feeds (more than half)" in fewer.stderr
    assert "tok-secret" not in fewer.stdout + fewer.stderr
