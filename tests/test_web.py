"""The status page over HTTP: every page on a database filled by a real ``run --once`` over
hostile local feeds; headers, escaping, auth, pagination, 404s; the config's refusals."""

from __future__ import annotations

import asyncio
import base64
import re
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from webdata import fill

from tracker.config import loader
from tracker.config.settings import to_settings
from tracker.errors import ConfigError, StoreError
from tracker.service.web.app import StatusPages, status_pages
from tracker.store.sqlite.web import WebReader

from feedserver import FeedServer

pytestmark = pytest.mark.slow  # the database comes from a `run --once` subprocess


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("web")
    with FeedServer() as server:
        yield fill(server, folder)


def _story(config: Path, headline_start: str) -> int:
    db = sqlite3.connect(config.parent / "tracker.db")
    row = db.execute(
        "SELECT story_id FROM articles WHERE title LIKE ? || '%' OR url = ?",
        [headline_start, headline_start],
    ).fetchone()
    db.close()
    return int(row[0])


def _pages(config: Path, token: str | None = None) -> StatusPages:
    settings = to_settings(loader.load(config))
    pages = status_pages(settings)
    pages.token = token
    return pages


def _run(pages: StatusPages, check: Callable[[TestClient[Any, Any]], Awaitable[None]]) -> None:
    async def go() -> None:
        app = web.Application()
        pages.add_routes(app)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            await check(client)

    asyncio.run(go())


def test_every_page_escapes_feed_text_and_carries_the_headers(config: Path) -> None:
    hostile, link = _story(config, "Border wall <script>"), _story(config, "Wall <a")

    async def check(client: TestClient[Any, Any]) -> None:
        for path in (
            "/",
            "/stories",
            f"/stories/{hostile}",
            f"/stories/{link}",
            "/feeds",
            "/alerts",
            "/query?q=wall&days=3",
            "/query?topic=border-wall",
        ):
            r = await client.get(path)
            body = await r.text()
            assert r.status == 200, (path, body)
            csp = r.headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
            assert "script-src" not in csp and "unsafe-inline" not in csp
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert r.headers["Referrer-Policy"] == "no-referrer"
            # No tag from a feed survives as markup, in any page.
            for raw in (
                "<script",
                "<img",
                "<style",
                "<svg onload",
                "<b id=injected",
                "<b onmouseover",
                'href="javascript:',
                'onmouseover="alert',
            ):
                assert raw not in body, (path, raw)
        story = await (await client.get(f"/stories/{hostile}")).text()
        assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;" in story
        assert (
            "&lt;img src=x onerror=alert(&#39;summary&#39;)&gt;" not in story
        )  # summary not shown
        feeds = await (await client.get("/feeds")).text()
        assert "HTTP 500" in feeds and "backoff after 1 failed poll" in feeds
        assert "Hostile &lt;b onmouseover=alert(&#39;name&#39;)&gt;feed&lt;/b&gt;" in feeds
        q = await (await client.get("/query?q=wall&days=3")).text()
        assert "<mark>" in q and re.search(r"\d+ matches in \d+ articles", q)
        # The link with a quote breaking out of the attribute is escaped inside href.
        assert 'href="https://evil.example/x&#34;onmouseover=&#34;alert(1)"' in q

    _run(_pages(config), check)


def test_overview_stories_alerts_show_what_run_once_stored(config: Path) -> None:
    wall = _story(config, "https://news.example/wall")

    async def check(client: TestClient[Any, Any]) -> None:
        home = await (await client.get("/")).text()
        assert "border-wall" in home and '<svg class="chart"' in home
        assert re.search(r"<td>hook</td><td><a [^>]*>3</a>", home), home
        assert "1 failing" in home or "0 failing" in home
        stories = await (await client.get("/stories")).text()
        # One story carried by two outlets, with their languages.
        # (in the order the outlets' entries were seen: the feeds are polled concurrently)
        assert re.search(
            r"(The Times \(en\), El Universal \(es\)|El Universal \(es\), The Times \(en\))",
            stories,
        )
        story = await (await client.get(f"/stories/{wall}")).text()
        assert "Source: The Times (en), El Universal (es)" in story or (
            "Source: El Universal (es), The Times (en)" in story
        )
        assert "began the story" in story and re.search(r"<td>hook</td><td>border-wall</td>", story)
        alerts = await (await client.get("/alerts?status=pending&channel=hook")).text()
        assert alerts.count('class="st-pending"') == 3
        assert "ConnectError: All connection attempts failed" in alerts  # the first attempt
        none = await (await client.get("/alerts?status=sent")).text()
        assert "No deliveries." in none
        assert (await client.get("/alerts?status=bogus")).status == 400

    _run(_pages(config), check)


def test_404s_and_no_state_change_by_get(config: Path) -> None:
    db = config.parent / "tracker.db"
    before = sqlite3.connect(db).execute("SELECT total_changes()").fetchone()

    async def check(client: TestClient[Any, Any]) -> None:
        for path in ("/stories/999999", "/nope", "/query?topic=unknown"):
            r = await client.get(path)
            assert r.status == 404, path
            assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        assert (await client.post("/stories")).status == 405
        assert (await client.get("/stories?before=x")).status == 400

    _run(_pages(config), check)
    assert before is not None
    # A read-only connection cannot write at all.
    with pytest.raises(StoreError, match="readonly"), WebReader(db)._conn() as conn:
        conn.execute("DELETE FROM deliveries")


def test_a_token_is_asked_for_by_every_page_but_healthz(config: Path) -> None:
    async def check(client: TestClient[Any, Any]) -> None:
        r = await client.get("/")
        assert r.status == 401 and "Basic" in r.headers["WWW-Authenticate"]
        assert (await client.get("/feeds", headers={"Authorization": "Bearer wrong"})).status == 401
        assert (
            await client.get("/feeds", headers={"Authorization": "Bearer s3cret-token"})
        ).status == 200
        basic = base64.b64encode(b"anyone:s3cret-token").decode()
        assert (await client.get("/", headers={"Authorization": f"Basic {basic}"})).status == 200
        assert (await client.get("/", headers={"Authorization": "Basic %%%"})).status == 401

    _run(_pages(config, token="s3cret-token"), check)


def test_pagination_is_keyset_and_bounded(config: Path, tmp_path: Path) -> None:
    # 300 more stories in a copy of the database: pages of 50, each older than the last.
    db = tmp_path / "tracker.db"
    src = sqlite3.connect(config.parent / "tracker.db")
    dst = sqlite3.connect(db)
    src.backup(dst)
    dst.executemany(
        "INSERT INTO stories (headline, published_at, first_seen, last_seen) VALUES (?, 1, 1, ?)",
        [(f"story {i}", 1000.0 + i) for i in range(300)],
    )
    dst.commit()
    dst.close()
    reader = WebReader(db)
    first = reader.stories(None, 50)
    second = reader.stories((first[-1].last_seen, first[-1].id), 50)
    third = reader.stories((second[-1].last_seen, second[-1].id), 50)
    ids = [s.id for s in first + second + third]
    assert len(ids) == len(set(ids)) == 150
    assert [s.last_seen for s in first + second + third] == sorted(
        (s.last_seen for s in first + second + third), reverse=True
    )
    assert len(reader.stories(None, 10**9)) == 200  # MAX_PAGE, whatever is asked

    async def check(client: TestClient[Any, Any]) -> None:
        page = await (await client.get("/stories")).text()
        more = re.search(r'href="/stories\?before=([^"]+)"', page)
        assert more is not None
        nxt = await (await client.get(f"/stories?before={more.group(1)}")).text()
        assert nxt.count('<a href="/stories/') == 50

    _run(StatusPages(reader), check)


def test_a_non_loopback_listen_needs_a_token(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("web:\n  listen: 0.0.0.0:9465\n")
    with pytest.raises(ConfigError, match="not a loopback address"):
        loader.load(cfg)
    cfg.write_text("web:\n  listen: ':9465'\n")
    with pytest.raises(ConfigError, match=r"web\.token_file"):
        loader.load(cfg)
    (tmp_path / "web-token").write_text("tok-123456\n")
    cfg.write_text("web:\n  listen: 0.0.0.0:9465\n  token_file: web-token\n")
    settings = to_settings(loader.load(cfg))
    assert settings.web_token == "tok-123456" and "tok-123456" in settings.secrets
    cfg.write_text("web:\n  listen: 127.0.0.1:9465\n")
    assert to_settings(loader.load(cfg)).web_token is None


def test_the_daemon_serves_the_page_on_the_metrics_listener_when_they_share_it(
    tmp_path: Path,
) -> None:
    import signal
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    from smtpserver import free_port

    port = free_port()
    cfg = tmp_path / "config.yaml"
    (tmp_path / "tok").write_text("tok-abcdef\n")
    cfg.write_text(
        "feeds:\n  - url: http://127.0.0.1:9/feed.xml\ntopics:\n  t:\n    query: wall\n"
        f"metrics:\n  listen: 127.0.0.1:{port}\n"
        f"web:\n  listen: 127.0.0.1:{port}\n  token_file: tok\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracker", "--config", str(cfg), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.2)
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(base + "/")
        assert denied.value.code == 401
        ask = urllib.request.Request(base + "/", headers={"Authorization": "Bearer tok-abcdef"})
        page = urllib.request.urlopen(ask).read().decode()
        assert "<h1>Overview</h1>" in page
        metrics = urllib.request.Request(
            base + "/metrics", headers={"Authorization": "Bearer tok-abcdef"}
        )
        assert b"tracker_polls" in urllib.request.urlopen(metrics).read()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    log = proc.stderr.read()
    assert "web.listening" in log and "tok-abcdef" not in log
