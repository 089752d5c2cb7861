"""`tracker stories test`: the index over feed entries, nothing stored.

The entries of every source are taken together, in publication order (ties: in the order
the sources and their entries were given), as if they arrived so; each gets the story it
joins and why. Reading the sources is the CLI's part (ingest is a layer above).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tracker.models import FeedItem
from tracker.stories.index import DEFAULT_WINDOW_S, Joined, StoryIndex

__all__ = ["DEFAULT_WINDOW_S", "Assigned", "assign"]
from tracker.stories.reports import report_of


@dataclass(frozen=True)
class Assigned:
    """One entry with its story (the number of the story's first entry) and why it joined."""

    source: str
    item: FeedItem
    story: int
    joined: Joined | None  # None: it began the story

    @property
    def id(self) -> str:
        return self.item.entry.guid or self.item.entry.link or self.item.key

    @property
    def why(self) -> str:
        return "new story" if self.joined is None else self.joined.describe()

    def as_json(self) -> dict[str, object]:
        """The documented `stories test --json` record."""
        return {
            "source": self.source,
            "id": self.id,
            "title": self.item.article.title,
            "lang": self.item.article.lang,
            "story": f"s{self.story}",
            "why": self.why,
        }


def assign(
    sources: Sequence[tuple[str, Sequence[FeedItem]]],
    now: float,
    window_s: float = DEFAULT_WINDOW_S,
    lists: Mapping[str, Sequence[str]] | None = None,
) -> list[Assigned]:
    """Every entry of ``sources`` with its story, in the order the index saw them (the
    config's ``lists`` are synonym groups, as in the daemon)."""
    order = []
    for s, (source, items) in enumerate(sources):
        for i, item in enumerate(items):
            published = item.article.published_at
            when = published.timestamp() if published else now
            order.append((when, s, i, source, item))
    order.sort(key=lambda o: (o[0], o[1], o[2]))
    index = StoryIndex(window_s=window_s, lists=lists)
    out = []
    for n, (_, _, _, source, item) in enumerate(order, start=1):
        report = report_of(n, item.article, now)
        joined = index.find(report)
        story = joined.story if joined is not None else n
        index.add(report, story)
        out.append(Assigned(source, item, story, joined))
    return out
