"""End-to-end: the CLI as a subprocess against feeds served on 127.0.0.1."""

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CORPUS, ROOT, run_cli
from feedserver import FeedServer
from rss import Item, rss

# Every test here runs tracker as a subprocess (make test-fast skips them).
pytestmark = pytest.mark.slow

REAL_FEEDS = [
    "real_feeds/chromeext__20minutos.mocks.js.xml",
    "real_feeds/chromeext__cnn.mocks.js.xml",
    "real_feeds/feedreader__Rss20LeMonde.xml",
    "real_feeds/rssparser__heise.atom",
    "real_feeds/miniflux__encoding_ISO-8859-1.xml",
    "real_feeds/feedrs__jsonfeed_example_1.json",
]


def _serve_100_feeds(server: FeedServer) -> tuple[list[str], int]:
    """Six real feeds plus 94 synthetic ones; some stories are carried by several feeds."""
    urls = []
    for path in REAL_FEEDS:
        ctype = "application/feed+json" if path.endswith(".json") else "application/xml"
        urls.append(server.add("/" + Path(path).name, (CORPUS / path).read_bytes(), ctype))
    for n in range(94):
        items = [
            Item(f"Feed {n} story {i}", f"https://s{n}.example/{i}", f"s{n}-{i}") for i in range(10)
        ]
        # Every feed also carries the same two wire stories, with tracking junk in the links.
        items.append(
            Item(
                "Wire: steel tariffs",
                f"https://wire.example/steel?utm_source=f{n}",
                f"wire-steel-{n}",
            )
        )
        items.append(
            Item("Wire: border wall", f"https://WIRE.example:443/wall#f{n}", f"wire-wall-{n}")
        )
        urls.append(server.add(f"/synthetic/{n}.xml", rss(items)))
    return urls, 94 * 10 + 2


def _write_config(tmp_path: Path, urls: list[str], interval: str = "10m") -> Path:
    lines = [
        f"database: {tmp_path / 'tracker.db'}",
        f"defaults: {{interval: {interval}, jitter: 0s}}",
        "fetch: {concurrency: 10, timeout: 5s}",
        "feeds:",
    ]
    lines += [f"  - url: {u}" for u in urls]
    lines += ["topics:", "  wall:", "    query: '\"border wall\"'"]
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def test_run_once_twice_stores_each_article_once(feed_server: FeedServer, tmp_path: Path) -> None:
    urls, synthetic_unique = _serve_100_feeds(feed_server)
    cfg = _write_config(tmp_path, urls)
    db = tmp_path / "tracker.db"

    first = run_cli("--config", str(cfg), "run", "--once")
    assert first.returncode == 0, first.stderr
    assert "feeds: 100 polled, 100 ok" in first.stdout
    articles = _count(db, "SELECT COUNT(*) FROM articles")
    real = _count(
        db,
        "SELECT COUNT(*) FROM articles WHERE canonical_url NOT LIKE '%.example/%'"
        " OR canonical_url IS NULL",
    )
    assert articles - real == synthetic_unique
    assert real > 150  # the six real feeds' stories
    # No entry was stored twice for a feed, and the wire stories are one article each.
    assert (
        _count(db, "SELECT COUNT(*) FROM articles WHERE canonical_url LIKE 'https://wire.%'") == 2
    )
    assert _count(db, "SELECT COUNT(*) FROM entries") == _count(
        db, "SELECT COUNT(*) FROM (SELECT DISTINCT feed_id, entry_key FROM entries)"
    )
    assert _count(db, "SELECT COUNT(*) FROM matches WHERE alert = 1") == 0  # baseline

    before = len(feed_server.seen)
    second = run_cli("--config", str(cfg), "run", "--once")
    assert second.returncode == 0, second.stderr
    assert "feeds: 100 polled, 100 ok (100 unchanged)" in second.stdout
    assert "new articles: 0" in second.stdout
    assert _count(db, "SELECT COUNT(*) FROM articles") == articles
    again = feed_server.seen[before:]
    assert len(again) == 100
    assert all(s.status == 304 and s.if_none_match for s in again)


def test_run_once_exits_zero_when_feeds_fail(tmp_path: Path) -> None:
    cfg = _write_config(tmp_path, ["http://127.0.0.1:1/nothing.xml"])
    result = run_cli("--config", str(cfg), "run", "--once")
    assert result.returncode == 0
    assert "1 failed" in result.stdout
    assert "ConnectError" in result.stdout
    feeds = run_cli("--config", str(cfg), "feeds")
    assert feeds.returncode == 0
    assert "failing×1" in feeds.stdout and "ConnectError" in feeds.stdout


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    result = run_cli("--config", str(tmp_path / "missing.yaml"), "run", "--once")
    assert result.returncode == 2
    assert result.stderr.startswith("error: config file not found")
    assert "Traceback" not in result.stderr
    (tmp_path / "dir.db").mkdir()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"database: {tmp_path / 'dir.db'}\n")
    result = run_cli("--config", str(cfg), "run", "--once")
    assert result.returncode == 1
    assert "cannot open database" in result.stderr and "Traceback" not in result.stderr


def test_daemon_polls_keeps_running_and_resumes_schedule(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    good = feed_server.add("/live.xml", rss([Item("a", "https://l.example/a", "a")]))
    cfg = _write_config(tmp_path, [good, "http://127.0.0.1:1/down.xml"])

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "tracker", "--config", str(cfg), "run"],
            stderr=subprocess.PIPE,
            text=True,
        )

    proc = start()
    deadline = time.monotonic() + 20
    while not feed_server.requests_for("/live.xml") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert proc.poll() is None  # an unreachable feed does not take it down
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "poll.failed" in err and "daemon.stopped" in err
    # Restarted, it resumes the stored schedule: nothing is due for another 10 minutes.
    proc = start()
    time.sleep(2.5)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=15)
    assert len(feed_server.requests_for("/live.xml")) == 1


def test_feeds_command_before_any_run(tmp_path: Path) -> None:
    cfg = _write_config(tmp_path, ["https://a.example/rss"])
    result = run_cli("--config", str(cfg), "feeds")
    assert result.returncode == 0 and "no database yet" in result.stdout


def test_version_and_help() -> None:
    assert run_cli("--version").returncode == 0
    help_text = run_cli("--help").stdout
    for command in ("run", "check", "feeds"):
        assert command in help_text
    assert (ROOT / "tracker" / "__main__.py").exists()


def test_control_characters_from_feeds_reach_neither_terminal_nor_log(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>steel tariffs &#x1b;[31mRED &#x9b;2J</title><guid>e1</guid></item>"
        b"</channel></rss>"
    )
    feed_server.add("/esc.xml", body)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"database: {tmp_path / 't.db'}\n"
        "defaults: {jitter: 0s, alert_on_first_poll: true}\n"
        f"feeds:\n  - url: {feed_server.url('/esc.xml')}\n"
        "topics:\n  steel: {query: 'steel tariffs'}\n"
    )
    out = run_cli("--config", str(cfg), "run", "--once")
    assert out.returncode == 0 and "alert [steel] steel tariffs ?[31mRED" in out.stdout
    assert "\\x1b[31mRED" in out.stderr  # the log shows it as an escape
    for text in (out.stdout, out.stderr):
        assert "\x1b" not in text and "\x9b" not in text and "\x00" not in text
