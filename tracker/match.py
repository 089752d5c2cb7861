"""Topic matcher: all topics compiled together, one pass per article.

This first version is a plain phrase matcher (a query is a list of phrases
separated by OR); the query language replaces it behind the same interface.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from .models import MatchInput, TopicHit, TopicSpec


def fold(text: str) -> str:
    """Lower-case and strip accents so that México matches mexico."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def check_query(query: str, lists: Mapping[str, Sequence[str]] | None = None) -> str | None:
    """Return a human-readable syntax error for ``query``, or None when it is valid."""
    if not query.strip():
        return "empty query"
    return None


class Matcher:
    """Matches articles against every configured topic."""

    def __init__(self, topics: Sequence[TopicSpec]) -> None:
        self._topics: list[tuple[TopicSpec, list[tuple[str, re.Pattern[str]]]]] = []
        for topic in topics:
            phrases = [p.strip().strip('"') for p in topic.query.split(" OR ")]
            pats = [(p, re.compile(r"\b" + re.escape(fold(p)) + r"\b")) for p in phrases if p]
            self._topics.append((topic, pats))

    @classmethod
    def from_topics(
        cls, topics: Sequence[TopicSpec], lists: Mapping[str, Sequence[str]] | None = None
    ) -> Matcher:
        return cls(topics)

    @property
    def topic_names(self) -> list[str]:
        return [t.name for t, _ in self._topics]

    def match(self, doc: MatchInput) -> list[TopicHit]:
        text = fold(" ".join((doc.title, doc.summary, doc.content)))
        hits: list[TopicHit] = []
        for topic, pats in self._topics:
            if topic.langs and (doc.lang or "") not in topic.langs:
                continue
            if topic.feeds and doc.feed not in topic.feeds:
                continue
            terms = tuple(p for p, rx in pats if rx.search(text))
            if terms:
                hits.append(TopicHit(topic.name, terms, doc.title[:200]))
        return hits
