"""A feed whose URL permanently redirects (301/308) is logged once and shown in `tracker
feeds` until the config follows; through the CLI as a subprocess."""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli
from feedserver import FeedServer
from rss import Item, rss


def test_a_permanent_redirect_is_logged_once_and_shown_in_feeds(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    new = feed_server.add("/new.xml", rss([Item("a", "https://n.example/a", "a")]))
    old = feed_server.url("/old.xml")
    feed_server.fail("/old.xml", 301, {"Location": new})
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"database: {tmp_path / 't.db'}\nfeeds:\n  - url: {old}\n    name: moving\n")
    first = run_cli("--config", str(cfg), "run", "--once")
    second = run_cli("--config", str(cfg), "run", "--once")
    assert first.returncode == second.returncode == 0, first.stderr
    assert "feed.moved" in first.stderr and f"moved_to={new}" in first.stderr
    assert "feed.moved" not in second.stderr  # once, not on every poll
    shown = run_cli("--config", str(cfg), "feeds")
    assert f"moved permanently to {new}: update the config" in shown.stdout
    # The server stops redirecting (or the config follows): the note goes.
    feed_server.add("/old.xml", rss([Item("a", "https://n.example/a", "a")]))
    assert run_cli("--config", str(cfg), "run", "--once").returncode == 0
    assert "moved permanently" not in run_cli("--config", str(cfg), "feeds").stdout
