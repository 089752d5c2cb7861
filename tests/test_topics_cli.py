"""`tracker topics test` and `tracker topics backtest`, run as a user runs them."""

import json
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from feedserver import FeedServer
from rss import Item, rss

# Every test here runs tracker as a subprocess (make test-fast skips them).
pytestmark = pytest.mark.slow

ITEMS = [
    Item(
        "Peña Nieto reitera que México no pagará el muro fronterizo",
        "https://n.example/muro",
        "g-muro",
        "El presidente habló en Los Pinos.",
    ),
    Item("Wall Street closes higher", "https://n.example/ws", "g-ws"),
    Item("Trump to impose 25% tariff on steel, 10% on aluminum", "https://n.example/steel"),
    Item("Concluye la séptima ronda de renegociación del TLCAN", None, "g-tlcan"),
]
SHIPPED = str(ROOT / "config.yaml")


def _json_lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_topics_test_json_on_a_local_file(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss(ITEMS))
    result = run_cli("topics", "test", "--config", SHIPPED, "--json", str(feed))
    assert result.returncode == 0, result.stderr
    records = _json_lines(result.stdout)
    assert [r["id"] for r in records] == ["g-muro", "g-ws", "https://n.example/steel", "g-tlcan"]
    assert [r["topics"] for r in records] == [
        ["border-wall"],
        [],
        ["steel-tariffs"],
        ["nafta-rounds"],
    ]
    assert set(records[0]) == {"id", "link", "title", "topics", "why", "feed", "published"}
    assert records[0]["feed"] == "feed.xml"
    assert "muro fronterizo" in records[0]["why"]["border-wall"]  # type: ignore[index]
    assert records[1]["why"] == {}
    assert records[3]["link"] is None


def test_topics_test_on_a_url_and_human_output(feed_server: FeedServer) -> None:
    url = feed_server.add("/topics.xml", rss(ITEMS))
    result = run_cli("--config", SHIPPED, "topics", "test", url)
    assert result.returncode == 0, result.stderr
    assert "4 entries, 3 matched" in result.stdout
    assert "[steel-tariffs] Trump to impose 25% tariff" in result.stdout
    assert "**tariff** on **steel**" in result.stdout
    as_json = run_cli("--config", SHIPPED, "topics", "test", "--json", url)
    assert len(_json_lines(as_json.stdout)) == 4


def test_ad_hoc_query_needs_no_config(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss(ITEMS))
    result = run_cli(
        "--config",
        str(tmp_path / "none.yaml"),
        "topics",
        "test",
        "--json",
        "--query",
        'wall NOT "wall street"',
        str(feed),
    )
    assert result.returncode == 0, result.stderr
    assert [r["topics"] for r in _json_lines(result.stdout)] == [[], [], [], []]
    result = run_cli(
        "--config",
        str(tmp_path / "none.yaml"),
        "topics",
        "test",
        "--json",
        "--query",
        "muro OR wall",
        str(feed),
    )
    assert [r["topics"] for r in _json_lines(result.stdout)] == [["query"], ["query"], [], []]


def test_bad_query_and_bad_source_are_clear_errors(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss(ITEMS))
    bad = run_cli(
        "--config", SHIPPED, "topics", "test", "--query", "steel AND (tariff))", str(feed)
    )
    assert bad.returncode == 2
    assert "unexpected ')' at column 19" in bad.stderr and "Traceback" not in bad.stderr
    missing = run_cli("--config", SHIPPED, "topics", "test", str(tmp_path / "nope.xml"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_backtest_over_stored_articles(feed_server: FeedServer, tmp_path: Path) -> None:
    url = feed_server.add("/bt.xml", rss(ITEMS))
    shipped = (ROOT / "config.yaml").read_text()
    topics = shipped[shipped.index("\nlists:") :]
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"database: {tmp_path / 't.db'}\nfeeds:\n  - url: {url}\n    name: Test" + topics
    )
    assert run_cli("--config", str(cfg), "run", "--once").returncode == 0
    result = run_cli("--config", str(cfg), "topics", "backtest", "border-wall")
    assert result.returncode == 0, result.stderr
    assert "[border-wall] Peña Nieto" in result.stdout
    assert "1 of 4 articles from the last 30 days would have matched" in result.stdout
    adhoc = run_cli("--config", str(cfg), "topics", "backtest", "--json", "--query", "wall*")
    assert [r["title"] for r in _json_lines(adhoc.stdout)] == ["Wall Street closes higher"]
    unknown = run_cli("--config", str(cfg), "topics", "backtest", "nope")
    assert unknown.returncode == 2 and "no topic named 'nope'" in unknown.stderr
    neither = run_cli("--config", str(cfg), "topics", "backtest")
    assert neither.returncode == 2 and "TOPIC or --query" in neither.stderr
