"""Reading matches back: what matched, where and why, for `tracker matches`."""

from __future__ import annotations

import json
from dataclasses import dataclass

from tracker.store.sqlite.base import Tables


@dataclass(frozen=True)
class MatchRow:
    """One stored match with its article and the feed that brought it."""

    id: int
    created_at: float
    topic: str
    feed: str
    title: str
    url: str | None
    published_at: float | None
    terms: tuple[str, ...]
    snippet: str
    alert: bool


class MatchTables(Tables):
    """Queries over stored matches (the ingest transaction writes them: store/sqlite/articles)."""

    def recent_matches(
        self,
        since: float,
        limit: int,
        topic: str | None = None,
        feed: str | None = None,
    ) -> list[MatchRow]:
        """Matches stored at or after ``since``, newest first; ``feed`` is a feed's name."""
        where = ["m.created_at >= ?"]
        params: list[object] = [since]
        if topic is not None:
            where.append("m.topic = ?")
            params.append(topic)
        if feed is not None:
            where.append("f.name = ?")
            params.append(feed)
        rows = self.db.execute(
            "SELECT m.id, m.created_at, m.topic, f.name, a.title, a.url, a.published_at,"
            " m.terms, m.snippet, m.alert FROM matches m JOIN articles a ON a.id = m.article_id"
            f" JOIN feeds f ON f.id = a.feed_id WHERE {' AND '.join(where)}"
            " ORDER BY m.created_at DESC, m.id DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
        return [
            MatchRow(
                *(r[0], r[1], r[2], r[3], r[4], r[5], r[6]),
                terms=tuple(json.loads(r[7])),
                snippet=r[8],
                alert=bool(r[9]),
            )
            for r in rows
        ]
