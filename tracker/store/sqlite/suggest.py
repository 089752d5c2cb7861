"""What `tracker topics suggest` reads: the reports a topic missed in stories it matched."""

from __future__ import annotations

from dataclasses import dataclass

from tracker.store.sqlite.base import Tables


@dataclass(frozen=True)
class MissedReport:
    """An article of a story ``topic`` matched through another article, itself unmatched."""

    article_id: int
    story_id: int
    title: str
    text: str  # summary, else content
    lang: str | None


_RETITLED = """
SELECT a.id, a.story_id, e.title, COALESCE(e.lang, a.lang), f.name
FROM entries e JOIN articles a ON a.id = e.article_id JOIN feeds f ON f.id = e.feed_id
WHERE e.seen_at >= ? AND e.title IS NOT NULL AND e.title != a.title AND a.story_id IS NOT NULL
AND EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.topic = ?)
ORDER BY e.seen_at, a.id, f.id
"""


@dataclass(frozen=True)
class RetitledCopy:
    """One outlet's headline for an article that matched, the headline its own."""

    article_id: int
    story_id: int
    title: str
    lang: str | None
    feed: str


class SuggestTables(Tables):
    """Read-only queries for topic suggestions."""

    def missed_reports(self, topic: str, since: float) -> list[MissedReport]:
        """Articles first seen since ``since`` whose story ``topic`` matched (through some
        other article) while they themselves did not match it; oldest first."""
        rows = self.db.execute(
            "SELECT a.id, a.story_id, a.title,"
            " CASE WHEN a.summary != '' THEN a.summary ELSE a.content END, a.lang"
            " FROM articles a WHERE a.first_seen_at >= ? AND a.story_id IN"
            " (SELECT m.story_id FROM matches m WHERE m.topic = ? AND m.story_id IS NOT NULL)"
            " AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.topic = ?)"
            " ORDER BY a.first_seen_at, a.id",
            [since, topic, topic],
        ).fetchall()
        return [MissedReport(*r) for r in rows]

    def background_texts(self, since: float, limit: int = 20000) -> list[tuple[str, str]]:
        """Title and summary (else content) of the newest articles first seen since
        ``since``, at most ``limit``: the background a term's frequency is weighed against."""
        rows = self.db.execute(
            "SELECT title, CASE WHEN summary != '' THEN summary ELSE content END FROM articles"
            " WHERE first_seen_at >= ? ORDER BY first_seen_at DESC, id DESC LIMIT ?",
            [since, limit],
        ).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def retitled_copies(self, topic: str, since: float) -> list[RetitledCopy]:
        """Entries seen since ``since`` that carry an article ``topic`` matched under a
        headline of their own (one canonical URL, another outlet's title, often in another
        language): the topic matched the article's words, never this headline's."""
        rows = self.db.execute(
            _RETITLED,
            [since, topic],
        ).fetchall()
        return [RetitledCopy(*r) for r in rows]
