"""The everyday CLI (issue 14) as a user runs it, a subprocess against feeds on 127.0.0.1:
what matched, mute and cancel, poll now, and the documented --json shapes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

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
