"""The articles aggregate: what each feed carried (entries), articles, and topic matches."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from tracker.models import Article, StoredArticle, TopicHit
from tracker.store.sqlite.base import Tables
from tracker.store.sqlite.stories import Placement


@dataclass(frozen=True)
class NewMatch:
    """A stored match, for logging alerts."""

    match_id: int
    topic: str
    alert: bool


# The story columns of an article stored without a story (by a caller without the step).
_UNPLACED = (None, None, None, None, "[]", None, None)


def _placed(p: Placement) -> tuple[object, ...]:
    """The story columns of a new article's INSERT, in their order there."""
    return (p.story_id, p.kind, p.score, p.matched, p.shared_json, p.features, p.features_key)


class ArticleTables(Tables):
    """Entries, articles and matches, written in the ingest transaction."""

    def known_keys(self, feed_id: int, keys: Sequence[str]) -> set[str]:
        """Which of these entry keys this feed has carried before."""
        known: set[str] = set()
        for i in range(0, len(keys), 500):
            chunk = list(keys[i : i + 500])
            marks = ",".join("?" * len(chunk))
            known.update(
                r[0]
                for r in self.db.execute(
                    f"SELECT entry_key FROM entries WHERE feed_id = ? AND entry_key IN ({marks})",
                    [feed_id, *chunk],
                )
            )
        return known

    def add_entry(
        self,
        feed_id: int,
        article: Article,
        now: float,
        place: Callable[[], Placement] | None = None,
    ) -> tuple[int, bool]:
        """Record that the feed carried ``article``; return (article id, whether it is new).

        An article whose canonical URL is already stored (from another feed) is not new.
        ``place`` gives a new article its story and its encoded story features (called only
        for a new one), stored in the same INSERT.
        """
        article_id: int | None = None
        if article.canonical_url:
            row = self.db.execute(
                "SELECT id FROM articles WHERE canonical_url = ?", [article.canonical_url]
            ).fetchone()
            article_id = row[0] if row else None
        is_new = article_id is None
        if article_id is None:
            story = place() if place is not None else None
            # Plain execute, not Table.insert: this is the hot path, and insert() rebuilds
            # its SQL for every row (~0.1 ms each).
            cur = self.db.execute(
                "INSERT INTO articles (canonical_url, url, title, summary, content, published_at,"
                " first_seen_at, lang, authors, feed_id, story_id, join_kind, join_score,"
                " join_matched, join_shared, features, features_key)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    article.canonical_url,
                    article.url,
                    article.title,
                    article.summary,
                    article.content,
                    article.published_at.timestamp() if article.published_at else None,
                    now,
                    article.lang,
                    json.dumps(list(article.authors), ensure_ascii=False),
                    feed_id,
                    *(_placed(story) if story is not None else _UNPLACED),
                ],
            )
            article_id = int(cur.lastrowid or 0)
        self.db.execute(
            "INSERT OR IGNORE INTO entries (feed_id, entry_key, article_id, seen_at, title, lang)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [feed_id, article.entry_key, article_id, now, article.title, article.lang],
        )
        return article_id, is_new

    def add_matches(
        self,
        article_id: int,
        hits: Sequence[TopicHit],
        alert: bool,
        now: float,
        story_id: int | None = None,
    ) -> list[NewMatch]:
        """Store matches; a topic already matched silently (a baseline, another feed) is
        promoted to an alert when this sighting may alert. A topic matches the story: one
        that already alerted on ``story_id`` only records this article's match. Returns
        what changed."""
        out = []
        for hit in hits:
            may = alert and (story_id is None or not self._story_alerted(story_id, hit.topic))
            terms = json.dumps(list(hit.terms), ensure_ascii=False)
            cur = self.db.execute(
                "INSERT OR IGNORE INTO matches (article_id, topic, terms, snippet, alert,"
                " created_at, story_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [article_id, hit.topic, terms, hit.snippet, int(may), now, story_id],
            )
            if cur.rowcount:
                out.append(NewMatch(int(cur.lastrowid or 0), hit.topic, may))
                continue
            if may:
                row = self.db.execute(
                    "UPDATE matches SET alert = 1, terms = ?, snippet = ? WHERE article_id = ?"
                    " AND topic = ? AND alert = 0 RETURNING id",
                    [terms, hit.snippet, article_id, hit.topic],
                ).fetchone()
                if row:
                    out.append(NewMatch(int(row[0]), hit.topic, True))
        return out

    def _story_alerted(self, story_id: int, topic: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM matches WHERE story_id = ? AND topic = ? AND alert = 1",
            [story_id, topic],
        ).fetchone()
        return row is not None

    def articles_since(self, since: float) -> Iterator[StoredArticle]:
        """Articles first seen at or after ``since``, oldest first, with their feed's name."""
        cursor = self.db.execute(
            "SELECT a.id, a.url, a.title, a.summary, a.content, a.published_at, a.lang, f.name"
            " FROM articles a JOIN feeds f ON f.id = a.feed_id WHERE a.first_seen_at >= ?"
            " ORDER BY a.first_seen_at, a.id",
            [since],
        )
        for row in cursor:
            yield StoredArticle(*row)

    def count_since(self, since: float) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM articles WHERE first_seen_at >= ?", [since]
        ).fetchone()
        return int(row[0])
