"""Tuning topics: run the matcher over a feed's items or over stored articles.

Reading the feed and the store is the caller's part (the CLI): topics imports neither
ingest (a layer above it) nor the store (its sibling).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tracker.models import FeedItem, MatchInput, StoredArticle, TopicHit, TopicSpec
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
            "feed": self.feed,
            "published": (
                self.published_at.astimezone(UTC)
                .isoformat(timespec="seconds")
                .replace("+00:00", "Z")
                if self.published_at
                else None
            ),
        }


def build_matcher(
    topics: Sequence[TopicSpec], lists: Mapping[str, Sequence[str]], query: str | None
) -> Matcher:
    """The configured topics, or one ad-hoc topic named ``query`` for ``--query``."""
    if query is not None:
        topics = [TopicSpec(name="query", query=query)]
    return Matcher.from_topics(topics, lists)


def test_articles(items: Iterable[FeedItem], matcher: Matcher, feed: str) -> list[Tested]:
    """Each of a feed's items (``ingest.items``), in order, with the topics that match it;
    ``feed`` is the feed's name, as topics restricted to feeds see it."""
    out = []
    for item in items:
        article = item.article
        out.append(
            Tested(
                id=item.entry.guid or item.entry.link or item.key,
                link=article.url,
                title=article.title,
                feed=feed,
                published_at=article.published_at,
                hits=tuple(matcher.match(article.match_input(feed))),
            )
        )
    return out


def backtest(articles: Iterable[StoredArticle], matcher: Matcher) -> Iterator[Tested]:
    """Those stored ``articles`` (``Store.articles_since``) that the matcher matches.

    The compiled matcher checks tens of thousands of articles a second, so it is its own
    prefilter (an FTS index would slow every insert for a rarely used command).
    """
    for row in articles:
        doc = MatchInput(
            title=row.title, summary=row.summary, content=row.content, feed=row.feed, lang=row.lang
        )
        hits = matcher.match(doc)
        if hits:
            published = datetime.fromtimestamp(row.published_at, UTC) if row.published_at else None
            yield Tested(str(row.id), row.url, row.title, row.feed, published, tuple(hits))
