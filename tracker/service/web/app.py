"""The status page's routes on the daemon's aiohttp listener: overview, stories, feeds,
alerts and the query tester, all GET and read-only; plus the CSP report endpoint.

Queries run in worker threads on read-only connections (``store.sqlite.web``), so a page
never blocks the event loop, the writer or a poll. Every response carries a strict CSP and
the usual hardening headers; with a token configured every page asks for it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hmac
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiohttp import web

from tracker.log import event
from tracker.models import TopicSpec
from tracker.service.web.views import environment, stylesheet
from tracker.settings import Settings
from tracker.store.sqlite.web import MAX_PAGE, WebReader
from tracker.topics import explore
from tracker.topics.query import QuerySyntaxError

log = logging.getLogger(__name__)

PAGE = 50
# The query tester's bounds: articles scanned, time spent, results shown, days back.
QUERY_MAX_SCAN = 5_000
QUERY_DEADLINE_S = 0.15
QUERY_MAX_RESULTS = 100
QUERY_MAX_DAYS = 90
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'; report-uri /csp-report"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
OPEN_PATHS = frozenset({"/healthz"})  # probes need no token
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class StatusPages:
    """The pages over ``reader``; ``topics`` and ``lists`` are the config's (query tester)."""

    def __init__(
        self,
        reader: WebReader,
        topics: Sequence[TopicSpec] = (),
        lists: Mapping[str, Sequence[str]] | None = None,
        token: str | None = None,
    ) -> None:
        self.reader = reader
        self.topics = list(topics)
        self.lists = dict(lists or {})
        self.token = token
        self.env = environment()
        self.csp_reports: deque[dict[str, Any]] = deque(maxlen=100)
        self._css = stylesheet()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="web-page")

    def add_routes(self, app: web.Application) -> None:
        """Register the pages and the headers/auth middleware on ``app``."""
        app.middlewares.append(self._guard)
        app.router.add_get("/", self.overview)
        app.router.add_get("/stories", self.stories)
        app.router.add_get(r"/stories/{id:\d{1,18}}", self.story)
        app.router.add_get("/feeds", self.feeds)
        app.router.add_get("/alerts", self.alerts)
        app.router.add_get("/query", self.query)
        app.router.add_get("/static/style.css", self.css)
        app.router.add_post("/csp-report", self.csp_report)
        app.router.add_get("/csp-reports", self.csp_list)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        token = self.token if request.path not in OPEN_PATHS else None
        if token is not None and not authorized(request.headers.get("Authorization", ""), token):
            raise web.HTTPUnauthorized(
                headers={**HEADERS, "WWW-Authenticate": 'Basic realm="tracker"'},
                text="401: this page needs the token (web.token_file)\n",
            )
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers.update(HEADERS)
            raise
        response.headers.update(HEADERS)
        return response

    async def _off(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the pages' own worker thread: page loads queue there instead of
        competing with the poller's parse threads, and the event loop never waits."""
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, functools.partial(fn, *args)
        )

    async def _html(self, template: str, **context: Any) -> web.Response:
        # Rendering a page of 50 rows costs milliseconds of CPU: off the loop as well.
        body = await self._off(self._render, template, context)
        return web.Response(text=body, content_type="text/html", charset="utf-8")

    def _render(self, template: str, context: dict[str, Any]) -> str:
        return self.env.get_template(template).render(now=time.time(), **context)

    async def overview(self, request: web.Request) -> web.Response:
        data = await self._off(self.reader.overview, time.time())
        return await self._html("overview.html", page="overview", o=data)

    async def stories(self, request: web.Request) -> web.Response:
        before = _keyset_pair(request.query.get("before"))
        rows = await self._off(self.reader.stories, before, PAGE)
        more = f"{rows[-1].last_seen!r}:{rows[-1].id}" if len(rows) == PAGE else None
        return await self._html("stories.html", page="stories", rows=rows, more=more)

    async def story(self, request: web.Request) -> web.Response:
        found = await self._off(self.reader.story, int(request.match_info["id"]))
        if found is None:
            raise web.HTTPNotFound(text="404: no such story\n")
        return await self._html("story.html", page="stories", s=found)

    async def feeds(self, request: web.Request) -> web.Response:
        offset = _int(request.query.get("offset"), 0)
        rows, total = await self._off(self.reader.feeds, time.time(), offset, PAGE)
        nxt = offset + PAGE if offset + PAGE < total else None
        prev = max(offset - PAGE, 0) if offset > 0 else None
        return await self._html(
            "feeds.html", page="feeds", rows=rows, total=total, offset=offset, nxt=nxt, prev=prev
        )

    async def alerts(self, request: web.Request) -> web.Response:
        q = request.query
        filters = {k: q.get(k) or None for k in ("topic", "channel", "status")}
        if filters["status"] not in (None, "pending", "sent", "dead"):
            raise web.HTTPBadRequest(text="400: status is pending, sent or dead\n")
        before = _int(q.get("before"), 0) or None
        rows = await self._off(
            self.reader.deliveries,
            filters["topic"],
            filters["channel"],
            filters["status"],
            before,
            PAGE,
        )
        topics, channels = await self._off(self.reader.names)
        more = rows[-1].id if len(rows) == PAGE else None
        return await self._html(
            "alerts.html",
            page="alerts",
            rows=rows,
            f=filters,
            more=more,
            topics=topics,
            channels=channels,
        )

    async def query(self, request: web.Request) -> web.Response:
        q = request.query
        text, topic = (q.get("q") or "").strip(), q.get("topic") or ""
        days = max(1, min(_int(q.get("days"), 7), QUERY_MAX_DAYS))
        context: dict[str, Any] = {
            "page": "query",
            "q": text,
            "topic": topic,
            "days": days,
            "topics": [t.name for t in self.topics],
            "result": None,
            "error": None,
            "bounds": (QUERY_MAX_SCAN, QUERY_DEADLINE_S, QUERY_MAX_RESULTS, QUERY_MAX_DAYS),
        }
        if text or topic:
            if topic and topic not in context["topics"]:
                raise web.HTTPNotFound(text="404: no such topic\n")
            try:
                context["result"] = await self._off(self._run_query, text, topic, days)
            except QuerySyntaxError as exc:
                context["error"] = str(exc)
        return await self._html("query.html", **context)

    def _run_query(self, text: str, topic: str, days: int) -> dict[str, Any]:
        specs = [t for t in self.topics if t.name == topic]
        matcher = explore.build_matcher(specs, self.lists, text or None)
        started = time.monotonic()
        articles = self.reader.articles_since(time.time() - days * 86400, QUERY_MAX_SCAN)
        hits, scanned, stopped = [], 0, None
        for article in articles:
            if time.monotonic() - started > QUERY_DEADLINE_S:
                stopped = f"stopped after {QUERY_DEADLINE_S:g} s"
                break
            scanned += 1
            for tested in explore.backtest([article], matcher):
                hits.append(tested)
            if len(hits) >= QUERY_MAX_RESULTS:
                stopped = f"stopped at {QUERY_MAX_RESULTS} matches"
                break
        if stopped is None and len(articles) == QUERY_MAX_SCAN:
            stopped = f"only the newest {QUERY_MAX_SCAN} articles were searched"
        return {
            "hits": hits,
            "scanned": scanned,
            "stopped": stopped,
            "ms": (time.monotonic() - started) * 1000,
        }

    async def css(self, request: web.Request) -> web.Response:
        return web.Response(body=self._css, content_type="text/css")

    async def csp_report(self, request: web.Request) -> web.Response:
        # What the browser reports: recorded (bounded) and logged, never acted on.
        raw = await request.content.read(16_384)
        try:
            report = json.loads(raw or b"{}")
        except ValueError:
            raise web.HTTPBadRequest(text="400: not JSON\n") from None
        if isinstance(report, dict):
            self.csp_reports.append(report)
            body = report.get("csp-report", report)
            directive = body.get("violated-directive") if isinstance(body, dict) else None
            event(log, logging.WARNING, "web.csp_violation", directive=str(directive))
        return web.Response(status=204)

    async def csp_list(self, request: web.Request) -> web.Response:
        return web.Response(
            text=json.dumps(list(self.csp_reports)), content_type="application/json"
        )


def status_pages(settings: Settings) -> StatusPages:
    """The pages for a daemon's settings: its database, topics, lists and token."""
    return StatusPages(
        WebReader(settings.database),
        settings.topic_specs(),
        settings.lists,
        settings.web_token,
    )


def authorized(header: str, token: str) -> bool:
    """``Bearer TOKEN``, or basic auth whose password is the token (any user name)."""
    scheme, _, value = header.partition(" ")
    given = ""
    if scheme.lower() == "bearer":
        given = value.strip()
    elif scheme.lower() == "basic":
        try:
            given = base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return False
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def _int(text: str | None, default: int) -> int:
    if text is None or not text.isdigit() or len(text) > 12:
        return default
    return int(text)


def _keyset_pair(text: str | None) -> tuple[float, int] | None:
    if not text:
        return None
    at, _, ident = text.partition(":")
    try:
        return float(at), int(ident)
    except ValueError:
        raise web.HTTPBadRequest(text="400: bad page marker\n") from None


__all__ = ["MAX_PAGE", "StatusPages", "status_pages"]
