"""NUL and the bidirectional controls never reach the database or the terminal: a feed's
titles, summaries and author names, the errors stored for a feed, and what the CLI prints."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tracker.models import FeedSpec
from tracker.store.facade import Store
from tracker.text import clean_text

from conftest import run_cli
from feedserver import FeedServer

UNSAFE = ["\x00", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))]
UNSAFE += ["\u200e", "\u200f", "\u061c"]


def test_clean_text_removes_nul_and_every_bidi_control_only() -> None:
    assert clean_text("a" + "".join(UNSAFE) + "b") == "ab"
    kept = "Ünïcode — \u05e9\u05dc\u05d5\u05dd \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u200b\t"
    assert clean_text(kept) == kept  # right-to-left letters themselves stay
    assert clean_text("lone \ud800 surrogate") == "lone \ufffd surrogate"


def test_stored_errors_lose_nul_and_bidi_controls(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec("https://f.example/", "f", 60)], now=0)
    (state,) = store.due_feeds(1, 10)
    store.record_failure(
        state.id, now=1, next_check_at=2, status=None, error="bad\x00 answer \u202etxt.exe"
    )
    (row,) = store.feeds()
    assert row.last_error == "bad answer txt.exe"
    store.close()


def test_a_hostile_feed_reaches_neither_the_database_nor_the_terminal(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    hostile = "\u202e" + "\x00".join(["Steel", "tariffs"]) + " \u2066rise\u2069\u200f"
    body = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "hostile",
        "items": [
            {
                "id": "1",
                "url": "https://n.example/1",
                "title": hostile,
                "content_text": "steel \u202d" + hostile,
                "authors": [{"name": "Eve\u202e\x00"}],
            }
        ],
    }
    url = feed_server.add("/h.json", json.dumps(body).encode(), "application/feed+json")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"database: {tmp_path / 't.db'}\nfeeds:\n  - url: {url}\n"
        "topics:\n  steel:\n    query: steel\n"
    )
    assert run_cli("--config", str(cfg), "run", "--once").returncode == 0
    conn = sqlite3.connect(tmp_path / "t.db")
    rows = conn.execute("SELECT title, summary, content, authors FROM articles").fetchall()
    conn.close()
    assert rows, "the article was stored"
    stored = " ".join(str(v) for row in rows for v in row)
    assert "Steeltariffs rise" in stored
    assert not [c for c in UNSAFE if c in stored]
    shown = run_cli("--config", str(cfg), "topics", "test", "--query", "steel", url)
    assert shown.returncode == 0, shown.stderr
    assert "Steeltariffs rise" in shown.stdout
    assert not [c for c in UNSAFE if c in shown.stdout + shown.stderr]
