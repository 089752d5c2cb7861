"""The story index: given a new report, which earlier report (and so which story) it joins.

This module fixes the interface the pipeline, the store and the CLI use. It is pure: no
database, no I/O. The caller owns story ids (the store's), feeds reports in publication
order, and calls ``add`` only once the report's story is committed, so a rolled-back
transaction never leaves a report in the index.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal

from tracker.text import split_words

# Default window: reports published more than this far apart never join one story.
DEFAULT_WINDOW_S = 72 * 3600.0

JoinKind = Literal["url", "near_duplicate", "entities"]


@dataclass(frozen=True)
class Report:
    """What the index needs of one article."""

    key: int  # the article's id (any int unique within one index)
    title: str
    text: str  # summary or content, plain text
    lang: str | None
    published_at: float  # epoch seconds; first-seen time when the feed gives none
    canonical_url: str | None = None


@dataclass(frozen=True)
class Joined:
    """Why a report joined a story: recorded with the article, shown by the CLI."""

    story: int
    kind: JoinKind
    matched: int  # key of the report it matched
    score: float = 1.0
    shared: tuple[str, ...] = ()  # shared entities or terms, for the user and for tuning

    def describe(self) -> str:
        """One line for the CLI: ``near_duplicate 0.83 with #12 (peña nieto, videgaray)``."""
        text = f"{self.kind} {self.score:.2f} with #{self.matched}"
        return f"{text} ({', '.join(self.shared)})" if self.shared else text


@dataclass
class StoryIndex:
    """Reports of the last ``window_s`` seconds, searchable by the story they tell.

    This first version joins on the canonical URL or an identical title only; the
    near-duplicate and cross-language detection replace ``find`` behind the same interface.
    """

    window_s: float = DEFAULT_WINDOW_S
    _by_url: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    _by_title: dict[tuple[str, ...], tuple[int, int, float]] = field(default_factory=dict)
    _order: OrderedDict[int, tuple[float, str | None, tuple[str, ...]]] = field(
        default_factory=OrderedDict
    )

    def find(self, report: Report) -> Joined | None:
        """The story ``report`` belongs to, or None for a new one. Does not change the index."""
        for found, kind in (
            (self._by_url.get(report.canonical_url or ""), "url"),
            (self._by_title.get(tuple(split_words(report.title))), "near_duplicate"),
        ):
            if found is not None and abs(report.published_at - found[2]) <= self.window_s:
                story, key, _ = found
                return Joined(story, kind, key)  # type: ignore[arg-type]
        return None

    def add(self, report: Report, story: int) -> None:
        """Record that ``report`` belongs to ``story`` (after the caller committed it)."""
        entry = (story, report.key, report.published_at)
        words = tuple(split_words(report.title))
        if report.canonical_url:
            self._by_url[report.canonical_url] = entry
        if words:
            self._by_title[words] = entry
        self._order[report.key] = (report.published_at, report.canonical_url, words)

    def prune(self, now: float) -> int:
        """Forget reports published before ``now - window_s``; returns how many."""
        cutoff = now - self.window_s
        old = [k for k, (published, _, _) in self._order.items() if published < cutoff]
        for key in old:
            _, url, words = self._order.pop(key)
            if url and self._by_url.get(url, (0, -1, 0))[1] == key:
                del self._by_url[url]
            if words and self._by_title.get(words, (0, -1, 0))[1] == key:
                del self._by_title[words]
        return len(old)

    def __len__(self) -> int:
        return len(self._order)
