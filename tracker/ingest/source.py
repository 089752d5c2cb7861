"""Read one feed, from a URL or a local file, outside the daemon (for `topics test`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tracker.errors import FetchError, TrackerError
from tracker.ingest import fetch, items
from tracker.models import FeedItem


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
) -> list[FeedItem]:
    """Every entry of a feed URL or local feed file as an item, in feed order."""
    try:
        body, headers = asyncio.run(_read(source, timeout_s, max_bytes, user_agent))
    except FetchError as exc:
        raise TrackerError(f"{source}: {exc}") from exc
    return items.read_items(body, headers, source, feed_lang)


async def _read(
    source: str, timeout_s: float, max_bytes: int, user_agent: str
) -> tuple[bytes, dict[str, str]]:
    if is_url(source):
        client = fetch.make_client(timeout_s=timeout_s, user_agent=user_agent, concurrency=1)
        async with client:
            result = await fetch.fetch(
                client, source, etag=None, last_modified=None, max_bytes=max_bytes
            )
        return result.body or b"", result.headers
    path = Path(source)
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise TrackerError(f"cannot read {source}: {exc.strerror or exc}") from exc
    ctype = "application/feed+json" if path.suffix == ".json" else "application/xml"
    return body, {"content-type": ctype}
