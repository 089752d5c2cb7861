"""The everyday CLI (issue 14) as a user runs it, a subprocess against feeds on 127.0.0.1:
what matched, mute and cancel, poll now, and the documented --json shapes."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from daemonproc import Daemon

from conftest import run_cli
from feedserver import FeedServer
from rss import Item, rss

pytestmark = pytest.mark.slow


def _config(tmp_path: Path, feeds: dict[str, str], extra: str = "") -> Path:
    lines = [
        f"database: {tmp_path / 't.db'}",
        "defaults: {jitter: 0s, alert_on_first_poll: true}",
        "feeds:",
        *[f"  - {{url: {url}, name: {name}}}" for name, url in feeds.items()],
        "topics:",
        "  steel: {query: 'steel AND tariffs'}",
        "  wall: {query: '\"border wall\"'}",
    ]
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def _two_feeds(feed_server: FeedServer) -> dict[str, str]:
    return {
        "Wire": feed_server.add(
            "/wire.xml",
            rss(
                [
                    Item("Steel tariffs rise again", "https://w.example/steel", "w1"),
                    Item("Weather today", "https://w.example/weather", "w2"),
                ]
            ),
        ),
        "Local": feed_server.add(
            "/local.xml",
            rss([Item("Border wall funding vote", "https://l.example/wall", "l1")]),
        ),
    }


def test_matches_with_no_channel_shows_what_where_and_why(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    cfg = _config(tmp_path, _two_feeds(feed_server))
    assert run_cli("-c", str(cfg), "run", "--once").returncode == 0
    out = run_cli("-c", str(cfg), "matches", "--utc")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    steel = next(line for line in lines if "[steel]" in line)
    assert "Steel tariffs rise again" in steel and "(Wire)" in steel and " UTC " in steel
    assert "    https://w.example/steel" in lines
    assert "    why: steel, tariffs" in lines
    assert "2 matches in the last 7 days" in out.stdout
    # Filters: by topic, by feed (its configured name), and a limit.
    only = run_cli("-c", str(cfg), "matches", "--topic", "wall").stdout
    assert "[wall]" in only and "[steel]" not in only
    by_feed = run_cli("-c", str(cfg), "matches", "--feed", "Wire").stdout
    assert "[steel]" in by_feed and "[wall]" not in by_feed
    assert (
        "1 match in the last 7 days (the newest 1"
        in run_cli("-c", str(cfg), "matches", "-n", "1").stdout
    )
    bad = run_cli("-c", str(cfg), "matches", "--topic", "nope")
    assert bad.returncode == 2 and "no topic named 'nope'" in bad.stderr


def test_matches_json_shape(feed_server: FeedServer, tmp_path: Path) -> None:
    cfg = _config(tmp_path, _two_feeds(feed_server))
    assert run_cli("-c", str(cfg), "run", "--once").returncode == 0
    out = run_cli("-c", str(cfg), "matches", "--json")
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert {r["topic"] for r in records} == {"steel", "wall"}
    steel = next(r for r in records if r["topic"] == "steel")
    assert set(steel) == {
        "id", "time", "topic", "feed", "title", "link", "published", "terms", "snippet", "alerted"
    }  # fmt: skip
    assert steel["feed"] == "Wire" and steel["link"] == "https://w.example/steel"
    assert steel["terms"] == ["steel", "tariffs"] and steel["alerted"] is True
    assert steel["time"].endswith("Z") and "**" in steel["snippet"]


def test_backtest_shows_feed_date_link_and_limits(feed_server: FeedServer, tmp_path: Path) -> None:
    cfg = _config(tmp_path, _two_feeds(feed_server))
    assert run_cli("-c", str(cfg), "run", "--once").returncode == 0
    out = run_cli("-c", str(cfg), "topics", "backtest", "--query", "steel OR wall", "--utc")
    assert out.returncode == 0, out.stderr
    assert "       Wire · " in out.stdout and "UTC · https://w.example/steel" in out.stdout
    limited = run_cli(
        "-c", str(cfg), "topics", "backtest", "--query", "steel OR wall", "--limit", "1"
    )
    assert limited.stdout.count("✔") == 1 and "showing the first 1" in limited.stdout
    js = run_cli("-c", str(cfg), "topics", "backtest", "--query", "steel OR wall", "--json")
    records = [json.loads(line) for line in js.stdout.splitlines()]
    assert len(records) == 2
    assert {"id", "link", "title", "topics", "why", "feed", "published"} <= set(records[0])
    assert {r["feed"] for r in records} == {"Wire", "Local"}


def _db(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "t.db")


def _steer_config(tmp_path: Path, url: str) -> Path:
    # A daily digest half a day away: deliveries stay pending, to be seen and cancelled.
    at = time.gmtime(time.time() + 12 * 3600)
    return _config(
        tmp_path,
        {"Wire": url},
        "channels:\n  hook:\n    type: webhook\n    url: http://127.0.0.1:1/hook\n"
        f"    mode: daily\n    digest_at: '{at.tm_hour:02d}:00'\n    timezone: UTC\n",
    )


def _deliveries(tmp_path: Path) -> list[tuple[int, str, str]]:
    if not (tmp_path / "t.db").exists():
        return []  # the daemon has not created it yet
    conn = _db(tmp_path)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'deliveries'").fetchone():
            return []
        return conn.execute(
            "SELECT d.id, m.topic, d.status FROM deliveries d JOIN matches m ON m.id = d.match_id"
            " ORDER BY d.id"
        ).fetchall()
    finally:
        conn.close()


def test_mute_cancel_and_poll_now_steer_a_running_daemon(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    items = [
        Item("Steel tariffs rise again", "https://w.example/steel", "w1"),
        Item("Border wall funding vote", "https://w.example/wall", "w2"),
    ]
    url = feed_server.add("/wire.xml", rss(items))
    cfg = _steer_config(tmp_path, url)
    cfg.write_text(cfg.read_text().replace("jitter: 0s", "jitter: 0s, interval: 1h"))
    # Muted before the daemon starts (the database is created for it).
    muted = run_cli("-c", str(cfg), "topics", "mute", "wall")
    assert (
        muted.returncode == 0 and "wall: muted until `tracker topics unmute wall`" in muted.stdout
    )
    daemon = Daemon(cfg)
    try:
        daemon.wait_for(lambda: len(_deliveries(tmp_path)) == 1)
        [(steel_id, topic, status)] = _deliveries(tmp_path)
        assert (topic, status) == ("steel", "pending")  # wall matched, but queued nothing
        wall = run_cli("-c", str(cfg), "matches", "--topic", "wall", "--json").stdout
        assert json.loads(wall)["alerted"] is False
        daemon.wait_log("alert.muted")
        listing = run_cli("-c", str(cfg), "topics").stdout
        assert any(line.split()[:3] == ["wall", "hook", "muted"] for line in listing.splitlines())
        assert "[muted]" in run_cli("-c", str(cfg), "check").stdout

        # Cancel the pending delivery; a second cancel, and an unknown ID, exit 1 naming them.
        out = run_cli("-c", str(cfg), "alerts", "cancel", str(steel_id))
        assert out.returncode == 0 and "1 delivery cancelled" in out.stdout
        assert _deliveries(tmp_path)[0][2] == "cancelled"
        again = run_cli("-c", str(cfg), "alerts", "cancel", str(steel_id), "999")
        assert again.returncode == 1 and f"#{steel_id}, #999" in again.stderr

        # Poll now: the daemon (interval 1h) polls at its next tick; the mute holds for new
        # wall stories, and a new steel story is queued.
        before = len(feed_server.requests_for("/wire.xml"))
        feed_server.add(
            "/wire.xml",
            rss([*items, Item("Steel tariffs: wall of tariffs", "https://w.example/s2", "w3"),
                 Item("A border wall report", "https://w.example/w2", "w4")]),
        )  # fmt: skip
        out = run_cli("-c", str(cfg), "poll", "Wire")
        assert out.returncode == 0 and "1 feed due now" in out.stdout, out.stderr
        daemon.wait_for(lambda: len(feed_server.requests_for("/wire.xml")) > before, timeout=10)
        daemon.wait_for(lambda: len(_deliveries(tmp_path)) == 2)
        assert [t for _, t, _ in _deliveries(tmp_path)] == ["steel", "steel"]

        # Unmuted, the next wall story alerts.
        assert "wall: unmuted" in run_cli("-c", str(cfg), "topics", "unmute", "wall").stdout
        feed_server.add(
            "/wire.xml", rss([Item("Border wall: the vote", "https://w.example/w3", "w5")])
        )
        assert run_cli("-c", str(cfg), "poll").returncode == 0
        daemon.wait_for(lambda: len(_deliveries(tmp_path)) == 3)
        assert _deliveries(tmp_path)[2][1] == "wall"
        assert daemon.stop() == 0
    finally:
        daemon.stop()


def test_poll_respects_retry_after_unless_forced(feed_server: FeedServer, tmp_path: Path) -> None:
    url = feed_server.add("/held.xml", rss([Item("Weather", "https://h.example/1", "h1")]))
    feed_server.fail("/held.xml", 503, {"Retry-After": "7200"})
    cfg = _config(tmp_path, {"Held": url})
    assert run_cli("-c", str(cfg), "run", "--once").returncode == 0
    out = run_cli("-c", str(cfg), "poll", "--utc")
    assert out.returncode == 0
    assert "held Held: the server asked to wait (Retry-After) until" in out.stdout
    assert " UTC; --force polls it anyway" in out.stdout and "0 feeds due now, 1 held" in out.stdout
    conn = _db(tmp_path)
    [(next_at, hold)] = conn.execute("SELECT next_check_at, hold_until FROM feeds").fetchall()
    assert hold is not None and next_at > time.time() + 3600
    conn.close()
    # A one-shot run names the feed it skips; a daemon logs the hold when it starts.
    again = run_cli("-c", str(cfg), "run", "--once").stdout
    assert "feeds: 0 polled, 0 ok (0 unchanged), 0 failed, 1 skipped" in again
    assert "  skipped Held: the server asked to wait (Retry-After) until " in again
    assert "(`tracker poll --force Held` to poll it anyway)" in again
    daemon = Daemon(cfg)
    try:
        daemon.wait_log("feeds.waiting")
        assert "feeds.waiting backoff=0 feeds=1 held=1 held_until=" in daemon.log
        assert "next_poll_in=1h59m" in daemon.log or "next_poll_in=2h" in daemon.log
    finally:
        assert daemon.stop() == 0
    forced = run_cli("-c", str(cfg), "poll", "Held", "--force")
    assert "1 feed due now" in forced.stdout
    conn = _db(tmp_path)
    [(next_at, hold)] = conn.execute("SELECT next_check_at, hold_until FROM feeds").fetchall()
    conn.close()
    assert hold is None and next_at <= time.time()
    unknown = run_cli("-c", str(cfg), "poll", "Nope")
    assert unknown.returncode == 2 and "no active feed named 'Nope'" in unknown.stderr


def test_run_once_summary_says_muted_not_alert(feed_server: FeedServer, tmp_path: Path) -> None:
    cfg = _config(tmp_path, _two_feeds(feed_server))
    # `notify: []` silences wall in the config; steel is muted from the CLI for a day.
    cfg.write_text(
        cfg.read_text().replace("'\"border wall\"'}", "'\"border wall\"', notify: []}")
        + "channels:\n  hook: {type: webhook, url: 'http://127.0.0.1:1/hook', mode: daily}\n"
    )
    out = run_cli("-c", str(cfg), "topics", "mute", "steel", "--for", "1d", "--utc")
    assert out.returncode == 0 and "steel: muted for 1d, until " in out.stdout, out.stderr
    summary = run_cli("-c", str(cfg), "run", "--once").stdout
    assert "matches: 2 (0 alerts, 2 muted)" in summary
    assert "  muted [wall] Border wall funding vote  (Local): no alert" in summary
    assert "  muted [steel] Steel tariffs rise again  (Wire): no alert" in summary
    assert "alert [" not in summary
    listing = run_cli("-c", str(cfg), "topics").stdout
    assert "never alerts (notify: [])" in listing and "muted until " in listing
    assert _db(tmp_path).execute("SELECT COUNT(*) FROM deliveries").fetchone() == (0,)


def test_feeds_alerts_and_check_json_shapes(feed_server: FeedServer, tmp_path: Path) -> None:
    feeds = _two_feeds(feed_server)
    feeds["Down"] = "http://127.0.0.1:1/down.xml"
    cfg = _steer_config(tmp_path, feeds["Wire"])
    cfg.write_text(
        cfg.read_text().replace(
            "feeds:\n", f"feeds:\n  - {{url: {feeds['Local']}, name: Local}}\n"
            f"  - {{url: {feeds['Down']}, name: Down}}\n", 1
        )
    )  # fmt: skip
    assert run_cli("-c", str(cfg), "run", "--once").returncode == 0

    out = run_cli("-c", str(cfg), "feeds", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert set(rows) == {"Wire", "Local", "Down"}
    assert set(rows["Down"]) == {
        "name", "url", "active", "status", "health", "last_checked", "last_success",
        "next_check", "hold_until", "consecutive_errors", "last_status", "last_error", "articles",
    }  # fmt: skip
    assert rows["Down"]["status"] == "failing×1" and rows["Down"]["last_success"] is None
    assert rows["Wire"]["articles"] == 2 and rows["Wire"]["last_error"] is None
    error = rows["Down"]["last_error"]
    assert isinstance(error, str) and error
    # The table shows the whole error (never cut mid-cause), and `feeds show` all of it.
    assert error in run_cli("-c", str(cfg), "feeds").stdout
    show = run_cli("-c", str(cfg), "feeds", "show", "Down", "--utc")
    assert show.returncode == 0, show.stderr
    assert f"    {error}" in show.stdout and "status:        failing×1" in show.stdout
    assert "waits:         backing off after 1 failed poll: next try " in show.stdout
    assert " UTC (in " in show.stdout
    wire = json.loads(run_cli("-c", str(cfg), "feeds", "show", "Wire", "--json").stdout)
    assert wire["articles"] == 2 and wire["matches"] == 1
    [first_poll] = wire["polls_with_new_entries"]
    assert first_poll["new_entries"] == 2 and first_poll["time"].endswith("Z")
    assert wire["waits"].startswith("next regular check ")
    missing = run_cli("-c", str(cfg), "feeds", "show", "Nope")
    assert missing.returncode == 2 and "no feed named 'Nope'" in missing.stderr

    out = run_cli("-c", str(cfg), "alerts", "--json")
    records = sorted(map(json.loads, out.stdout.splitlines()), key=lambda r: r["topic"])
    assert [(r["topic"], r["channel"], r["status"]) for r in records] == [
        ("steel", "hook", "pending"), ("wall", "hook", "pending")
    ]  # fmt: skip
    assert records[0]["id"] != records[1]["id"]
    assert set(records[0]) == {
        "id", "created", "channel", "topic", "status", "digest", "attempts", "title", "feed",
        "link", "next_try", "sent", "last_error",
    }  # fmt: skip
    assert records[0]["feed"] == "Wire" and records[0]["link"] == "https://w.example/steel"
    assert records[0]["digest"] is True and records[0]["next_try"].endswith("Z")
    only = run_cli("-c", str(cfg), "alerts", "--topic", "steel").stdout
    assert "https://w.example/steel" in only and "Wire" in only and "Border wall" not in only
    assert "FEED" in only and "LINK" in only
    assert run_cli("-c", str(cfg), "alerts", "--channel", "other", "--json").stdout == ""
    assert run_cli("-c", str(cfg), "alerts", "--status", "sent", "--json").stdout == ""

    human = run_cli("-c", str(cfg), "check").stdout
    assert "    - steel: steel AND tariffs\n        notify: hook\n" in human
    assert "    - hook: webhook, daily, topics: steel, wall\n        digest at " in human
    assert ", timezone UTC\n" in human
    doc = json.loads(run_cli("-c", str(cfg), "check", "--json").stdout)
    assert doc["ok"] is True and doc["admin"] is None
    assert [f["name"] for f in doc["feeds"]] == ["Local", "Down", "Wire"]
    assert doc["topics"][0] == {
        "name": "steel", "query": "steel AND tariffs", "feeds": [], "lang": [],
        "notify": ["hook"], "rate_limit": None, "state": "alerts", "muted_until": None,
    }  # fmt: skip
    [hook] = doc["channels"]
    assert hook["kind"] == "webhook" and hook["mode"] == "daily" and hook["timezone"] == "UTC"
    assert hook["topics"] == ["steel", "wall"]


def test_query_and_lang_lint_in_check_and_topics_test(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feeds = _two_feeds(feed_server)
    cfg = _config(tmp_path, feeds)
    cfg.write_text(
        cfg.read_text() + "  acero: {query: 'acero or aranceles', lang: [english], feeds: [Wire],"
        " rate_limit: 5/h}\n"
    )
    check = run_cli("-c", str(cfg), "check")
    assert check.returncode == 0  # warnings, not errors
    assert "  warning: topics.acero.query: column 7: 'or' is searched as a word;" in check.stdout
    assert "did you mean OR?" in check.stdout
    assert "topics.acero.lang: lang 'english' is not an ISO 639-1 code" in check.stdout
    assert "        only feeds: Wire\n        only lang: english\n" in check.stdout
    assert "        rate limit: 5/h per channel" in check.stdout
    doc = json.loads(run_cli("-c", str(cfg), "check", "--json").stdout)
    assert len(doc["warnings"]) == 2

    # A configured feed's name as SOURCE, one topic with --topic, the warning on stderr.
    out = run_cli("-c", str(cfg), "topics", "test", "--topic", "steel", "Wire")
    assert out.returncode == 0, out.stderr
    assert f"{feeds['Wire']}: 2 entries, 1 matched" in out.stdout
    assert "[steel] Steel tariffs rise again" in out.stdout and "warning" not in out.stderr
    out = run_cli("-c", str(cfg), "topics", "test", "--topic", "acero", "Wire", "Local")
    assert "[steel]" not in out.stdout and "0 matched" in out.stdout
    assert "warning: topics.acero.query: column 7: 'or'" in out.stderr
    q = run_cli("-c", str(cfg), "topics", "test", "-q", "wall and vote", "Local")
    assert "warning: --query: column 6: 'and' is searched as a word" in q.stderr
    bad = run_cli("-c", str(cfg), "topics", "test", "--topic", "nope", "Wire")
    assert bad.returncode == 2 and "no topic named 'nope'" in bad.stderr


def test_config_at_every_level_and_database_folder_must_exist(tmp_path: Path) -> None:
    cfg = _config(tmp_path, {"A": "http://127.0.0.1:1/a.xml"})
    assert run_cli("-c", str(cfg), "topics", "mute", "steel").returncode == 0  # makes the db
    # --config after any group, as well as before the command.
    for args in (
        ("topics", "-c", str(cfg), "backtest", "--query", "steel"),
        ("topics", "-c", str(cfg)),
        ("feeds", "-c", str(cfg), "show", "A"),
        ("alerts", "-c", str(cfg), "--json"),
        ("notify", "-c", str(cfg), "preview", "--out", str(tmp_path / "p")),
    ):
        out = run_cli(*args)
        assert out.returncode == 0, (args, out.stderr)
    missing = tmp_path / "no" / "such"
    cfg.write_text(cfg.read_text().replace(str(tmp_path / "t.db"), str(missing / "t.db")))
    for command in (("check",), ("run", "--once"), ("matches",)):
        out = run_cli("-c", str(cfg), *command)
        assert out.returncode == 2, (command, out.stdout, out.stderr)
        assert f"database: folder {missing} does not exist" in out.stderr
    assert not (tmp_path / "no").exists()


def test_reload_replans_queued_deliveries_when_digest_time_changes(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    url = feed_server.add(
        "/wire.xml", rss([Item("Steel tariffs rise", "https://w.example/1", "1")])
    )
    cfg = _steer_config(tmp_path, url)
    daemon = Daemon(cfg)
    try:
        daemon.wait_for(lambda: len(_deliveries(tmp_path)) == 1)

        def not_before() -> float:
            conn = _db(tmp_path)
            try:
                return float(conn.execute("SELECT not_before FROM deliveries").fetchone()[0])
            finally:
                conn.close()

        first = not_before()
        assert first > time.time() + 10 * 3600  # the digest half a day away
        # The digest moves to the next full hour plus two, in another zone written as UTC+0.
        at = time.gmtime(time.time() + 2 * 3600)
        text = cfg.read_text()
        old_at = text.split("digest_at: '")[1][:5]
        cfg.write_text(
            text.replace(f"digest_at: '{old_at}'", f"digest_at: '{at.tm_hour:02d}:00'").replace(
                "timezone: UTC", "timezone: Etc/UTC"
            )
        )
        daemon.wait_log("config.reloaded")
        daemon.wait_for(lambda: not_before() != first)
        assert time.time() + 3600 - 60 < not_before() < time.time() + 2 * 3600 + 60
        assert "delivery_changed=hook:digest_at,timezone replanned=1" in daemon.log
        assert daemon.stop() == 0
    finally:
        daemon.stop()


def _run_on_terminal(*args: str) -> tuple[int, str, str]:
    """The CLI with stderr on a pseudo-terminal (as in an interactive shell), stdout a pipe."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracker", *args], stdout=subprocess.PIPE, stderr=slave, text=True
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out = proc.stdout.read() if proc.stdout else ""
    code = proc.wait(timeout=60)
    os.close(master)
    return code, out, b"".join(chunks).decode(errors="replace")


def test_progress_on_a_terminal_names_the_slow_feed_and_nothing_on_a_pipe(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feeds = _two_feeds(feed_server)
    feed_server.delays["/local.xml"] = 4.5
    cfg = _config(tmp_path, feeds)
    code, out, term = _run_on_terminal("-c", str(cfg), "run", "--once")
    assert code == 0 and "feeds: 2 polled" in out
    assert "polled 1/2 feeds; slow: Local 3s" in term or "polled 1/2 feeds; slow: Local 4s" in term
    feed_server.add("/local.xml", rss([Item("Border wall", "https://l.example/w9", "l9")]))
    piped = run_cli("-c", str(cfg), "run", "--once")  # stderr is a pipe here
    assert "polled " not in piped.stderr and "feeds: 2 polled" in piped.stdout
    quiet = run_cli("-c", str(cfg), "run", "--once", "--quiet")
    assert quiet.returncode == 0 and quiet.stdout == ""
    feed_server.delays.clear()
