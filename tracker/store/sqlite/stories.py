"""The stories aggregate: stories, which one each article belongs to and why, and what the
alerts, the index rebuild and `tracker stories` read back of them."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tracker.models import StoryReport
from tracker.store.sqlite.base import Tables


@dataclass(frozen=True)
class ReportRow:
    """A stored article as the story index needs it, with the story it belongs to."""

    article_id: int
    title: str
    text: str  # summary, else content
    lang: str | None
    published_at: float  # first seen when the feed gave no date
    canonical_url: str | None
    story_id: int
    features: str | None = None  # as stored (stories/codec.py): NULL before v10
    features_key: int | None = None  # the extraction that wrote them


@dataclass(frozen=True)
class Placement:
    """The story a new article goes in, and why (``kind`` None: it begins the story), with
    the article's encoded features and their key (stored in the same INSERT)."""

    story_id: int
    kind: str | None = None
    score: float | None = None
    matched: int | None = None
    shared: tuple[str, ...] = ()
    features: str | None = None
    features_key: int | None = None

    @property
    def shared_json(self) -> str:
        return json.dumps(list(self.shared), ensure_ascii=False) if self.shared else "[]"


@dataclass(frozen=True)
class SentAlert:
    """A story's first alert as one channel received it (an update is threaded to it)."""

    delivery_id: int
    channel: str
    sent_at: float


@dataclass(frozen=True)
class StoryRow:
    """One story as `tracker stories` lists it."""

    id: int
    headline: str
    first_seen: float
    last_seen: float
    articles: int
    reports: tuple[StoryReport, ...]
    topics: tuple[str, ...]


@dataclass(frozen=True)
class StoryMember:
    """One article of a story and why it joined (``kind`` None: it began the story)."""

    article_id: int
    title: str
    lang: str | None
    feeds: tuple[str, ...]
    link: str | None
    published_at: float | None
    first_seen: float
    kind: str | None
    score: float | None
    matched: int | None
    shared: tuple[str, ...]


class StoryTables(Tables):
    """Stories, written in the ingest transaction before the article is matched."""

    def new_story(self, headline: str, published_at: float, now: float) -> int:
        """A story begun by one article (its title is the headline)."""
        cur = self.db.execute(
            "INSERT INTO stories (headline, published_at, first_seen, last_seen)"
            " VALUES (?, ?, ?, ?)",
            [headline, published_at, now, now],
        )
        return int(cur.lastrowid or 0)

    def assign_story(self, article_id: int, place: Placement, now: float) -> None:
        """Put a stored article in a story (one stored before stories were assigned)."""
        self.db.execute(
            "UPDATE articles SET story_id = ?, join_kind = ?, join_score = ?, join_matched = ?,"
            " join_shared = ? WHERE id = ?",
            [place.story_id, place.kind, place.score, place.matched, place.shared_json,
             article_id],
        )  # fmt: skip
        self.touch_story(place.story_id, now)

    def touch_story(self, story_id: int, now: float) -> None:
        """The story was seen again (a new article, or another feed carrying one)."""
        self.db.execute(
            "UPDATE stories SET last_seen = MAX(last_seen, ?) WHERE id = ?", [now, story_id]
        )

    def article_story(self, article_id: int) -> int | None:
        row = self.db.execute("SELECT story_id FROM articles WHERE id = ?", [article_id]).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def window_reports(self, since: float) -> Iterator[ReportRow]:
        """Articles published (else first seen) at or after ``since``, in that order, with
        their story: what the story index is rebuilt from at start. (Found through the
        first-seen index: an article is seen after it is published, so one first seen before
        ``since`` was published before it too, unless its date lies in the future.)"""
        cursor = self.db.execute(
            "SELECT id, title, CASE WHEN summary != '' THEN summary ELSE content END, lang,"
            " COALESCE(published_at, first_seen_at), canonical_url, story_id, features,"
            " features_key FROM articles"
            " WHERE first_seen_at >= ? AND COALESCE(published_at, first_seen_at) >= ?"
            " AND story_id IS NOT NULL ORDER BY COALESCE(published_at, first_seen_at), id",
            [since, since],
        )
        for row in cursor:
            yield ReportRow(*row)

    def refresh_features(self, rows: Sequence[tuple[str, int, int]], wait_s: float) -> None:
        """Write back features extracted again at a rebuild, as (features, key, article id),
        in one transaction that waits at most ``wait_s`` for another connection's write
        lock; StorageFault when it could not write (nothing of it is then written)."""
        with self.optional_write(wait_s):
            self.db.conn.executemany(
                "UPDATE articles SET features = ?, features_key = ? WHERE id = ?", rows
            )

    def story_alert_match(self, story_id: int, topic: str) -> int | None:
        """The match that alerted ``topic`` of this story, if one did."""
        row = self.db.execute(
            "SELECT id FROM matches WHERE story_id = ? AND topic = ? AND alert = 1",
            [story_id, topic],
        ).fetchone()
        return None if row is None else int(row[0])

    def sent_first_alerts(self, match_id: int) -> list[SentAlert]:
        """The immediate deliveries of a story's alert that channels accepted and that have
        no update yet."""
        rows = self.db.execute(
            "SELECT d.id, d.channel, d.sent_at FROM deliveries d WHERE d.match_id = ?"
            " AND d.update_of IS NULL AND d.digest = 0 AND d.status = 'sent'"
            " AND NOT EXISTS (SELECT 1 FROM deliveries u WHERE u.update_of = d.id)",
            [match_id],
        ).fetchall()
        return [SentAlert(*r) for r in rows]

    def add_update(self, match_id: int, key: str, first: SentAlert, now: float) -> None:
        """Queue a story's follow-up to the channel that got its first alert."""
        self.db.execute(
            "INSERT OR IGNORE INTO deliveries (match_id, channel, idempotency_key, digest,"
            " not_before, next_attempt_at, created_at, update_of) VALUES (?, ?, ?, 0, ?, ?, ?, ?)",
            [match_id, first.channel, key, now, now, now, first.delivery_id],
        )

    def story_reports(self, story_ids: Sequence[int]) -> dict[int, list[StoryReport]]:
        """Every report of these stories: one per feed and article, first published first
        (then first seen)."""
        out: dict[int, list[StoryReport]] = defaultdict(list)
        ids = sorted(set(story_ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            rows = self.db.execute(
                "SELECT a.story_id, f.name, COALESCE(e.lang, a.lang), COALESCE(e.title, a.title),"
                " COALESCE(a.canonical_url, a.url),"
                " a.published_at, e.seen_at FROM entries e JOIN articles a ON a.id = e.article_id"
                " JOIN feeds f ON f.id = e.feed_id"
                f" WHERE a.story_id IN ({','.join('?' * len(chunk))})"
                " ORDER BY COALESCE(a.published_at, e.seen_at), e.seen_at, a.id, f.id",
                chunk,
            )
            for r in rows:
                out[int(r[0])].append(StoryReport(*r[1:]))
        return dict(out)

    def list_stories(
        self, since: float, topic: str | None = None, limit: int = 200
    ) -> list[StoryRow]:
        """Stories seen since ``since``, newest first; only those ``topic`` matched, if given."""
        where = "s.last_seen >= ?"
        params: list[object] = [since]
        if topic is not None:
            where += " AND EXISTS (SELECT 1 FROM matches m WHERE m.story_id = s.id AND m.topic = ?)"
            params.append(topic)
        rows = self.db.execute(
            "SELECT s.id, s.headline, s.first_seen, s.last_seen,"
            " (SELECT COUNT(*) FROM articles a WHERE a.story_id = s.id),"
            " (SELECT json_group_array(DISTINCT m.topic) FROM matches m WHERE m.story_id = s.id)"
            f" FROM stories s WHERE {where} ORDER BY s.last_seen DESC, s.id DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
        reports = self.story_reports([r[0] for r in rows])
        return [_story_row(r, reports.get(r[0], [])) for r in rows]

    def story(self, story_id: int) -> StoryRow | None:
        """One story by id."""
        rows = self.db.execute(
            "SELECT s.id, s.headline, s.first_seen, s.last_seen,"
            " (SELECT COUNT(*) FROM articles a WHERE a.story_id = s.id),"
            " (SELECT json_group_array(DISTINCT m.topic) FROM matches m WHERE m.story_id = s.id)"
            " FROM stories s WHERE s.id = ?",
            [story_id],
        ).fetchall()
        if not rows:
            return None
        return _story_row(rows[0], self.story_reports([story_id]).get(story_id, []))

    def story_members(self, story_id: int) -> list[StoryMember]:
        """A story's articles, first seen first, each with its feeds and why it joined."""
        rows = self.db.execute(
            "SELECT a.id, a.title, a.lang, (SELECT json_group_array(f.name) FROM entries e"
            " JOIN feeds f ON f.id = e.feed_id WHERE e.article_id = a.id),"
            " COALESCE(a.canonical_url, a.url), a.published_at, a.first_seen_at, a.join_kind,"
            " a.join_score, a.join_matched, a.join_shared FROM articles a WHERE a.story_id = ?"
            " ORDER BY a.first_seen_at, a.id",
            [story_id],
        ).fetchall()
        return [_member(r) for r in rows]


def _story_row(r: Sequence[Any], reports: list[StoryReport]) -> StoryRow:
    topics = tuple(sorted(t for t in json.loads(r[5]) if t is not None))
    return StoryRow(r[0], r[1], r[2], r[3], r[4], tuple(reports), topics)


def _member(r: Sequence[Any]) -> StoryMember:
    feeds = tuple(dict.fromkeys(json.loads(r[3])))
    shared = tuple(json.loads(r[10]))
    return StoryMember(r[0], r[1], r[2], feeds, r[4], r[5], r[6], r[7], r[8], r[9], shared)
