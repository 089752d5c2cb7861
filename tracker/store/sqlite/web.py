"""The status page's queries, on a read-only connection of their own (``mode=ro``).

Each call opens its connection in the calling thread (the page runs them in worker threads,
never on the event loop), so a page never takes the write lock nor waits for it. Every list
is bounded: keyset pages for stories and deliveries, a capped LIMIT/OFFSET for feeds.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker.errors import StoreError
from tracker.models import StoredArticle

DAY = 86400.0
MAX_PAGE = 200  # rows on one page, whatever the URL asks for
MAX_OFFSET = 10_000  # feeds: LIMIT/OFFSET, capped


@dataclass(frozen=True)
class TopicDay:
    """A topic's matches and alerts per day, oldest first, and its last alert."""

    topic: str
    matches: tuple[int, ...]
    alerts: tuple[int, ...]
    last_alert_at: float | None = None
    last_alert_headline: str | None = None
    last_alert_story: int | None = None


@dataclass(frozen=True)
class Overview:
    topics: list[TopicDay]
    channels: dict[str, dict[str, int]]  # channel → {"pending": n, "dead": n}
    feeds: dict[str, int]  # health → active feeds
    last_cycle_at: float | None
    next_due_at: float | None


@dataclass(frozen=True)
class Outlet:
    feed: str
    lang: str | None


@dataclass(frozen=True)
class StoryRow:
    id: int
    headline: str
    first_seen: float
    last_seen: float
    outlets: list[Outlet] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    article_id: int
    title: str
    url: str | None
    feed: str
    lang: str | None
    published_at: float | None
    first_seen_at: float
    join_kind: str | None
    join_score: float | None
    join_matched: int | None
    join_shared: list[str]
    also_in: list[Outlet]


@dataclass(frozen=True)
class Delivery:
    id: int
    channel: str
    status: str
    attempts: int
    last_error: str | None
    created_at: float
    sent_at: float | None
    next_attempt_at: float
    topic: str | None
    story_id: int | None
    headline: str | None
    notice: str | None


@dataclass(frozen=True)
class StoryPage:
    story: StoryRow
    reports: list[Report]
    deliveries: list[Delivery]


@dataclass(frozen=True)
class FeedRow:
    id: int
    name: str
    url: str
    health: str
    last_status: int | None
    last_error: str | None
    consecutive_errors: int
    last_checked_at: float | None
    last_success_at: float | None
    next_check_at: float
    hold_until: float | None
    moved_to: str | None
    per_day: tuple[int, ...]


class WebReader:
    """Read-only queries over the database at ``path`` for the status page."""

    def __init__(self, path: Path, timeout_s: float = 2.0) -> None:
        self.path = path
        self.timeout_s = timeout_s

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(
                f"{self.path.absolute().as_uri()}?mode=ro", uri=True, timeout=self.timeout_s
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc
        try:
            yield conn
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read database {self.path}: {exc}") from exc
        finally:
            conn.close()

    def overview(self, now: float, days: int = 30) -> Overview:
        """Per topic the last ``days`` days of matches and alerts; the outbox and feed counts."""
        start = _day_start(now) - (days - 1) * DAY
        with self._conn() as db:
            counts: dict[str, tuple[list[int], list[int]]] = {}
            for topic, day, n, alerts in db.execute(
                "SELECT topic, CAST((created_at - ?) / 86400 AS INTEGER), COUNT(*), SUM(alert)"
                " FROM matches WHERE created_at >= ? GROUP BY 1, 2",
                [start, start],
            ):
                m, a = counts.setdefault(topic, ([0] * days, [0] * days))
                if 0 <= day < days:
                    m[day], a[day] = int(n), int(alerts or 0)
            last: dict[str, tuple[float, str, int]] = {}
            for topic, at, headline, story in db.execute(
                "SELECT m.topic, m.created_at, s.headline, s.id FROM matches m"
                " JOIN stories s ON s.id = m.story_id WHERE m.alert = 1 AND m.id IN"
                " (SELECT MAX(id) FROM matches WHERE alert = 1 GROUP BY topic)"
            ):
                last[topic] = (float(at), str(headline), int(story))
            topics = []
            for name in sorted(set(counts) | set(last)):
                m, a = counts.get(name, ([0] * days, [0] * days))
                at, headline, story = last.get(name, (None, None, None))
                topics.append(TopicDay(name, tuple(m), tuple(a), at, headline, story))
            channels: dict[str, dict[str, int]] = {}
            for channel, status, n in db.execute(
                "SELECT channel, status, COUNT(*) FROM deliveries"
                " WHERE status IN ('pending', 'dead') GROUP BY 1, 2"
            ):
                channels.setdefault(channel, {"pending": 0, "dead": 0})[status] = int(n)
            feeds = {
                str(h): int(n)
                for h, n in db.execute(
                    "SELECT health, COUNT(*) FROM feeds WHERE active = 1 GROUP BY 1"
                )
            }
            last_cycle, next_due = db.execute(
                "SELECT MAX(last_checked_at), MIN(next_check_at) FROM feeds WHERE active = 1"
            ).fetchone()
        return Overview(topics, channels, feeds, last_cycle, next_due)

    def stories(self, before: tuple[float, int] | None, limit: int) -> list[StoryRow]:
        """Stories by last report, newest first, after the keyset ``before`` (last_seen, id)."""
        limit = _limit(limit)
        with self._conn() as db:
            if before is None:
                rows = db.execute(
                    "SELECT id, headline, first_seen, last_seen FROM stories"
                    " ORDER BY last_seen DESC, id DESC LIMIT ?",
                    [limit],
                ).fetchall()
            else:
                rows = db.execute(
                    "SELECT id, headline, first_seen, last_seen FROM stories"
                    " WHERE (last_seen, id) < (?, ?) ORDER BY last_seen DESC, id DESC LIMIT ?",
                    [before[0], before[1], limit],
                ).fetchall()
            ids = [int(r[0]) for r in rows]
            outlets = _outlets(db, ids)
            topics = _story_topics(db, ids)
        return [
            StoryRow(int(i), str(h), float(f), float(last), outlets.get(i, []), topics.get(i, []))
            for i, h, f, last in rows
        ]

    def story(self, story_id: int) -> StoryPage | None:
        """One story with every report, why it joined, and its deliveries; None if unknown."""
        with self._conn() as db:
            row = db.execute(
                "SELECT id, headline, first_seen, last_seen FROM stories WHERE id = ?", [story_id]
            ).fetchone()
            if row is None:
                return None
            reports = []
            arts = db.execute(
                "SELECT a.id, a.title, a.url, f.name, a.lang, a.published_at, a.first_seen_at,"
                " a.join_kind, a.join_score, a.join_matched, a.join_shared FROM articles a"
                " JOIN feeds f ON f.id = a.feed_id WHERE a.story_id = ?"
                " ORDER BY a.first_seen_at, a.id LIMIT 1000",
                [story_id],
            ).fetchall()
            also = _entry_outlets(db, [int(a[0]) for a in arts])
            for a in arts:
                reports.append(
                    Report(
                        int(a[0]),
                        str(a[1]),
                        a[2],
                        str(a[3]),
                        a[4],
                        a[5],
                        float(a[6]),
                        a[7],
                        a[8],
                        a[9],
                        [str(x) for x in json.loads(a[10] or "[]")],
                        [o for o in also.get(int(a[0]), []) if o.feed != a[3]],
                    )
                )
            deliveries = _deliveries(
                db,
                "m.article_id IN (SELECT id FROM articles WHERE story_id = ?)",
                [story_id],
                None,
                MAX_PAGE,
            )
            story = StoryRow(
                int(row[0]),
                str(row[1]),
                float(row[2]),
                float(row[3]),
                _outlets(db, [story_id]).get(story_id, []),
                _story_topics(db, [story_id]).get(story_id, []),
            )
        return StoryPage(story, reports, deliveries)

    def feeds(
        self, now: float, offset: int, limit: int, days: int = 14
    ) -> tuple[list[FeedRow], int]:
        """Active feeds by name (a capped LIMIT/OFFSET page), with articles per day; and the
        number of active feeds."""
        limit, offset = _limit(limit), max(0, min(offset, MAX_OFFSET))
        start = _day_start(now) - (days - 1) * DAY
        with self._conn() as db:
            total = int(db.execute("SELECT COUNT(*) FROM feeds WHERE active = 1").fetchone()[0])
            rows = db.execute(
                "SELECT id, name, url, health, last_status, last_error, consecutive_errors,"
                " last_checked_at, last_success_at, next_check_at, hold_until, moved_to"
                " FROM feeds WHERE active = 1 ORDER BY name, id LIMIT ? OFFSET ?",
                [limit, offset],
            ).fetchall()
            ids = [int(r[0]) for r in rows]
            per_day: dict[int, list[int]] = {i: [0] * days for i in ids}
            if ids:
                marks = _marks(ids)
                for fid, day, n in db.execute(
                    "SELECT e.feed_id, CAST((e.seen_at - ?) / 86400 AS INTEGER), COUNT(*)"
                    f" FROM entries e WHERE e.feed_id IN ({marks}) AND e.seen_at >= ?"
                    " GROUP BY 1, 2",
                    [start, *ids, start],
                ):
                    if 0 <= day < days:
                        per_day[int(fid)][int(day)] = int(n)
        feeds = [_feed_row(tuple(r), tuple(per_day[int(r[0])])) for r in rows]
        return feeds, total

    def deliveries(
        self,
        topic: str | None,
        channel: str | None,
        status: str | None,
        before: int | None,
        limit: int,
    ) -> list[Delivery]:
        """Deliveries newest first, filtered, after the keyset ``before`` (an id)."""
        where: list[str] = ["1"]
        params: list[object] = []
        if topic:
            where.append("m.topic = ?")
            params.append(topic)
        if channel:
            where.append("d.channel = ?")
            params.append(channel)
        if status:
            where.append("d.status = ?")
            params.append(status)
        with self._conn() as db:
            return _deliveries(db, " AND ".join(where), params, before, _limit(limit))

    def names(self) -> tuple[list[str], list[str]]:
        """The topics and channels the database knows (the alert filters' choices)."""
        with self._conn() as db:
            topics = [str(r[0]) for r in db.execute("SELECT DISTINCT topic FROM matches")]
            channels = [str(r[0]) for r in db.execute("SELECT DISTINCT channel FROM deliveries")]
        return sorted(topics), sorted(channels)

    def articles_since(self, since: float, limit: int) -> list[StoredArticle]:
        """At most ``limit`` articles first seen at or after ``since``, newest first."""
        with self._conn() as db:
            rows = db.execute(
                "SELECT a.id, a.url, a.title, a.summary, a.content, a.published_at, a.lang,"
                " f.name FROM articles a JOIN feeds f ON f.id = a.feed_id"
                " WHERE a.first_seen_at >= ? ORDER BY a.first_seen_at DESC LIMIT ?",
                [since, limit],
            ).fetchall()
        return [StoredArticle(*r) for r in rows]


def _feed_row(r: tuple[Any, ...], per_day: tuple[int, ...]) -> FeedRow:
    return FeedRow(
        int(r[0]),
        str(r[1]),
        str(r[2]),
        str(r[3]),
        r[4],
        r[5],
        int(r[6]),
        r[7],
        r[8],
        float(r[9]),
        r[10],
        r[11],
        per_day,
    )


def _limit(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE))


def _day_start(now: float) -> float:
    return now - now % DAY


def _marks(ids: Sequence[int]) -> str:
    return ",".join("?" * len(ids))


def _outlets(db: sqlite3.Connection, story_ids: Sequence[int]) -> dict[int, list[Outlet]]:
    out: dict[int, list[Outlet]] = {}
    if not story_ids:
        return out
    seen: set[tuple[int, str, str | None]] = set()
    for sid, feed, lang in db.execute(
        "SELECT a.story_id, f.name, COALESCE(e.lang, a.lang) FROM articles a"
        " JOIN entries e ON e.article_id = a.id JOIN feeds f ON f.id = e.feed_id"
        f" WHERE a.story_id IN ({_marks(story_ids)}) ORDER BY e.seen_at",
        list(story_ids),
    ):
        key = (int(sid), str(feed), lang)
        if key not in seen:
            seen.add(key)
            out.setdefault(int(sid), []).append(Outlet(str(feed), lang))
    return out


def _entry_outlets(db: sqlite3.Connection, article_ids: Sequence[int]) -> dict[int, list[Outlet]]:
    out: dict[int, list[Outlet]] = {}
    if not article_ids:
        return out
    for aid, feed, lang in db.execute(
        "SELECT e.article_id, f.name, e.lang FROM entries e JOIN feeds f ON f.id = e.feed_id"
        f" WHERE e.article_id IN ({_marks(article_ids)}) ORDER BY e.seen_at",
        list(article_ids),
    ):
        out.setdefault(int(aid), []).append(Outlet(str(feed), lang))
    return out


def _story_topics(db: sqlite3.Connection, story_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if not story_ids:
        return out
    for sid, topic in db.execute(
        "SELECT DISTINCT a.story_id, m.topic FROM articles a JOIN matches m"
        f" ON m.article_id = a.id WHERE a.story_id IN ({_marks(story_ids)}) ORDER BY 2",
        list(story_ids),
    ):
        out.setdefault(int(sid), []).append(str(topic))
    return out


def _deliveries(
    db: sqlite3.Connection, where: str, params: list[object], before: int | None, limit: int
) -> list[Delivery]:
    if before is not None:
        where += " AND d.id < ?"
        params = [*params, before]
    rows = db.execute(
        "SELECT d.id, d.channel, d.status, d.attempts, d.last_error, d.created_at, d.sent_at,"
        " d.next_attempt_at, m.topic, m.story_id, s.headline, n.subject FROM deliveries d"
        " LEFT JOIN matches m ON m.id = d.match_id LEFT JOIN stories s ON s.id = m.story_id"
        f" LEFT JOIN notices n ON n.id = d.notice_id WHERE {where} ORDER BY d.id DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [Delivery(*r) for r in rows]
