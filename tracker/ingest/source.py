"""Read one feed, from a URL or a local file, outside the daemon (for `topics test`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tracker.errors import FetchError, ParseError, TrackerError
from tracker.ingest import fetch, items
from tracker.ingest.isolate import ParsePool
from tracker.models import FeedItem
from tracker.settings import ParseSettings


def is_url(source: str) -> bool:
    """Whether ``source`` is fetched (an http(s) URL) rather than read from a file."""
    return source.startswith(("http://", "https://"))


def read_feed(
    source: str,
    *,
    feed_lang: str | None,
    timeout_s: float,
    max_bytes: int,
    user_agent: str,
    deadline_s: float = 120.0,
    parser: ParsePool | None = None,
    limits: ParseSettings | None = None,
) -> list[FeedItem]:
    """Every entry of a feed URL or local feed file as an item, in feed order: fetched
    within ``deadline_s`` (as the daemon does), parsed by ``parser`` under ``limits`` (in
    this process without one). Any failure is a one-line TrackerError naming the source."""
    try:
        body, headers = asyncio.run(_read(source, timeout_s, max_bytes, user_agent, deadline_s))
        if parser is None:
            return items.read_items(body, headers, source, feed_lang)
        keyed = parser.parse_sync(body, headers, source, limits or ParseSettings())
        lang = keyed.lang(feed_lang)
        return [items.to_item(entry, key, lang) for entry, key in keyed.entries()]
    except (FetchError, ParseError) as exc:
        raise TrackerError(f"{source}: {one_line(exc.message)}") from exc


def one_line(message: str) -> str:
    """A message on one line (a parser's may span several)."""
    return " ".join(message.split())


async def _read(
    source: str, timeout_s: float, max_bytes: int, user_agent: str, deadline_s: float
) -> tuple[bytes, dict[str, str]]:
    if is_url(source):
        client = fetch.make_client(timeout_s=timeout_s, user_agent=user_agent, concurrency=1)
        async with client:
            result = await fetch.fetch(
                client,
                source,
                etag=None,
                last_modified=None,
                max_bytes=max_bytes,
                deadline_s=deadline_s,
            )
        return result.body or b"", result.headers
    path = Path(source)
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise TrackerError(f"cannot read {source}: {exc.strerror or exc}") from exc
    ctype = "application/feed+json" if path.suffix == ".json" else "application/xml"
    return body, {"content-type": ctype}
