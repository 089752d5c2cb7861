"""A database for the status page's tests, filled by a real ``tracker run --once`` over
local feeds whose titles, summaries and links carry XSS and CSS payloads."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

from conftest import run_cli
from feedserver import FeedServer
from rss import Item, rss

# What a hostile feed sends: tags as text (double-escaped, so they survive HTML → text and
# reach the page as characters), event handlers, javascript: links and style breakouts.
HOSTILE_TITLE = "Border wall <script>alert('title')</script> vote"
HOSTILE_SUMMARY = (
    "The border wall <img src=x onerror=alert('summary')> bill "
    "</td><style>body{display:none}</style><b id=injected>INJECTED</b>"
)
JS_LINK = "javascript:alert('link')"


def _double(text: str) -> str:
    # rss() escapes once; feedparser unescapes once and the text keeps the tags as characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fill(server: FeedServer, folder: Path) -> Path:
    """Serve three feeds (two carry one story, one is hostile), one failing feed, run
    ``tracker run --once`` with a webhook channel nobody answers; the config's path."""
    server.add(
        "/times.xml",
        rss(
            [
                Item(
                    "Senate passes border wall funding",
                    "https://news.example/wall",
                    "t1",
                    "The Senate passed border wall funding on Tuesday.",
                    3600,
                ),
                Item(
                    "Weather calm across the region",
                    "https://news.example/weather",
                    "t2",
                    "Nothing about walls here.",
                    7200,
                ),
            ],
            title="The Times",
        ),
    )
    server.add(
        "/universal.xml",
        rss(
            [
                Item(
                    "El Senado aprueba fondos para el muro fronterizo",
                    "https://news.example/wall",
                    "u1",
                    "El Senado aprobó los fondos del muro (border wall).",
                    3000,
                ),
            ],
            title="El Universal",
            lang="es",
        ),
    )
    server.add(
        "/hostile.xml",
        rss(
            [
                Item(_double(HOSTILE_TITLE), JS_LINK, "h1", _double(HOSTILE_SUMMARY), 600),
                Item(
                    _double("Wall <a href=\"javascript:alert('a')\">click</a> plan"),
                    'https://evil.example/x"onmouseover="alert(1)',
                    "h2",
                    _double("wall <svg onload=alert('svg')></svg>"),
                    500,
                ),
            ],
            title="Hostile <script>alert('feed')</script>",
        ),
    )
    server.fail("/broken.xml", 500, body=b"<script>alert('error')</script> upstream down")
    config = folder / "config.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            database: tracker.db
            defaults:
              alert_on_first_poll: true
            feeds:
              - url: {server.url("/times.xml")}
                name: The Times
              - url: {server.url("/universal.xml")}
                name: El Universal
              - url: {server.url("/hostile.xml")}
                name: "Hostile <b onmouseover=alert('name')>feed</b>"
              - url: {server.url("/broken.xml")}
                name: Broken
            topics:
              border-wall:
                query: wall OR muro
            channels:
              hook:
                type: webhook
                url: http://127.0.0.1:9/hook
            """
        ),
        encoding="utf-8",
    )
    result = run_cli("--config", str(config), "run", "--once")
    assert (folder / "tracker.db").exists(), result.stderr
    db = sqlite3.connect(folder / "tracker.db")
    stored = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    db.close()
    assert stored == 4, (stored, result.stdout, result.stderr)
    return config
