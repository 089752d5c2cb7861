"""Tuning topics: run the matcher over a feed (URL or file) or over stored articles."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tracker.config.schema import DEFAULT_USER_AGENT, default_feed_name
from tracker.errors import FetchError, TrackerError
from tracker.ingest import fetch, normalize, parse
from tracker.models import MatchInput, TopicHit, TopicSpec
from tracker.store.facade import Store
from tracker.topics.matcher import Matcher


@dataclass(frozen=True)
class Tested:
    """One entry (or stored article) with the topics it matches."""

    id: str
    link: str | None
    title: str
    feed: str
    published_at: datetime | None
    hits: tuple[TopicHit, ...]

    def as_json(self) -> dict[str, object]:
        """The documented `topics test --json` record."""
        return {
            "id": self.id,
            "link": self.link,
            "title": self.title,
            "topics": [h.topic for h in self.hits],
            "why": {h.topic: list(h.terms) for h in self.hits},
        }


def build_matcher(
    topics: Sequence[TopicSpec], lists: Mapping[str, Sequence[str]], query: str | None
) -> Matcher:
    """The configured topics, or one ad-hoc topic named ``query`` for ``--query``."""
    if query is not None:
        topics = [TopicSpec(name="query", query=query)]
    return Matcher.from_topics(topics, lists)


async def _read_source(
    source: str, timeout_s: float, max_bytes: int
) -> tuple[bytes, dict[str, str]]:
    if source.startswith(("http://", "https://")):
        client = fetch.make_client(
            timeout_s=timeout_s, user_agent=DEFAULT_USER_AGENT, concurrency=1
        )
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


def test_source(
    source: str,
    matcher: Matcher,
    feed_names: Mapping[str, str],
    feed_langs: Mapping[str, str | None],
    *,
    timeout_s: float = 30.0,
    max_bytes: int = 10_000_000,
) -> list[Tested]:
    """Every entry of a feed URL or local feed file, with the topics that match it."""
    try:
        body, headers = asyncio.run(_read_source(source, timeout_s, max_bytes))
    except FetchError as exc:
        raise TrackerError(f"{source}: {exc}") from exc
    parsed = parse.parse_feed(body, headers, source)
    is_url = source.startswith(("http://", "https://"))
    feed = feed_names.get(source) or (default_feed_name(source) if is_url else Path(source).name)
    fallback_lang = feed_langs.get(source) or parsed.lang
    out = []
    for entry in parsed.entries:
        key = normalize.entry_key(entry)
        article = normalize.to_article(entry, key, fallback_lang)
        hits = matcher.match(article.match_input(feed))
        out.append(
            Tested(
                id=entry.guid or entry.link or key,
                link=article.url,
                title=article.title,
                feed=feed,
                published_at=article.published_at,
                hits=tuple(hits),
            )
        )
    return out


def backtest(store: Store, matcher: Matcher, since: float) -> Iterator[Tested]:
    """Stored articles first seen at or after ``since`` that the matcher matches.

    The compiled matcher checks tens of thousands of articles a second, so it is its own
    prefilter (an FTS index would slow every insert for a rarely used command).
    """
    for row in store.articles_since(since):
        doc = MatchInput(
            title=row.title, summary=row.summary, content=row.content, feed=row.feed, lang=row.lang
        )
        hits = matcher.match(doc)
        if hits:
            published = datetime.fromtimestamp(row.published_at, UTC) if row.published_at else None
            yield Tested(str(row.id), row.url, row.title, row.feed, published, tuple(hits))
