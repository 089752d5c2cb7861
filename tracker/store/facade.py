"""All SQL lives here: schema migrations, feed schedule, articles, matches, the outbox.

One writer: the daemon owns one connection on its event-loop thread. Times are stored as
UNIX seconds (REAL) so that "which feeds are due" is one indexed comparison.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from tracker.errors import StoreError
from tracker.models import (
    Alert,
    Article,
    DeliveryStatus,
    FeedSpec,
    FeedState,
    HealthStatus,
    Route,
    StoredArticle,
    TopicHit,
)


def _v1(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE feeds (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,
            baseline_done INTEGER NOT NULL DEFAULT 0,
            last_status INTEGER,
            last_error TEXT,
            consecutive_errors INTEGER NOT NULL DEFAULT 0,
            last_checked_at REAL,
            last_success_at REAL,
            next_check_at REAL NOT NULL,
            -- A server's Retry-After: not even `run --once` polls the feed before this time.
            hold_until REAL,
            created_at REAL NOT NULL
        );
        CREATE INDEX feeds_due ON feeds (active, next_check_at);

        -- One row per story URL: the same canonical URL from two feeds is one article.
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            canonical_url TEXT UNIQUE,
            url TEXT,
            title TEXT NOT NULL,
            summary TEXT NOT NULL,
            content TEXT NOT NULL,
            published_at REAL,
            first_seen_at REAL NOT NULL,
            lang TEXT,
            authors TEXT NOT NULL DEFAULT '[]',
            feed_id INTEGER NOT NULL REFERENCES feeds(id)
        );
        CREATE INDEX articles_seen ON articles (first_seen_at);

        -- What each feed has carried: identity within a feed is guid, link or content hash.
        CREATE TABLE entries (
            feed_id INTEGER NOT NULL REFERENCES feeds(id),
            entry_key TEXT NOT NULL,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            seen_at REAL NOT NULL,
            PRIMARY KEY (feed_id, entry_key)
        ) WITHOUT ROWID;
        CREATE INDEX entries_article ON entries (article_id);

        CREATE TABLE matches (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            topic TEXT NOT NULL,
            terms TEXT NOT NULL,
            snippet TEXT NOT NULL,
            alert INTEGER NOT NULL,
            created_at REAL NOT NULL,
            UNIQUE (article_id, topic)
        );
        CREATE INDEX matches_topic ON matches (topic, created_at);

        -- Deliveries: written in the same transaction as their match; the dispatcher sends them.
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            match_id INTEGER NOT NULL REFERENCES matches(id),
            channel TEXT NOT NULL,
            idempotency_key TEXT NOT NULL UNIQUE,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            last_error TEXT,
            created_at REAL NOT NULL,
            sent_at REAL
        );
        CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
        """
    )


def _v2(db: sqlite_utils.Database) -> None:
    # v1's outbox was never written to; deliveries replaces it with the columns routing
    # needs, and can carry admin notices (feed health, config errors) as well as matches.
    db.executescript(
        """
        DROP TABLE outbox;
        CREATE TABLE notices (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            match_id INTEGER REFERENCES matches(id),
            notice_id INTEGER REFERENCES notices(id),
            channel TEXT NOT NULL,
            idempotency_key TEXT NOT NULL UNIQUE,
            digest INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'pending',      -- pending | sent | dead
            -- Digest time or end of quiet hours: even a one-shot run waits for it.
            not_before REAL NOT NULL,
            -- Retry backoff: one-shot runs ignore it.
            next_attempt_at REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            response TEXT,
            created_at REAL NOT NULL,
            sent_at REAL,
            CHECK ((match_id IS NULL) != (notice_id IS NULL))
        );
        CREATE INDEX deliveries_due ON deliveries (status, not_before);
        CREATE INDEX deliveries_match ON deliveries (match_id);
        CREATE INDEX deliveries_channel ON deliveries (channel, created_at);
        ALTER TABLE feeds ADD COLUMN health TEXT NOT NULL DEFAULT 'ok';
        """
    )


def _v3(db: sqlite_utils.Database) -> None:
    # A digest's members are fixed at its first attempt: ``batch`` holds its idempotency
    # key (a hash of the members), so a retry resends exactly that set under the same key
    # and alerts queued in the meantime go into a digest of their own.
    db.executescript(
        """
        ALTER TABLE deliveries ADD COLUMN batch TEXT;
        CREATE INDEX deliveries_batch ON deliveries (batch) WHERE batch IS NOT NULL;
        """
    )


def _v4(db: sqlite_utils.Database) -> None:
    # A random id per database, mixed into idempotency keys: keys made from row ids alone
    # repeat in every database, so after a reset, or with two trackers sending to one
    # receiver, a new alert could carry an old one's key and be dropped as a repeat.
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta (key, value) VALUES ('instance_id', ?)", [secrets.token_hex(8)])
    # When a feed left the config: one back within the hour keeps its baseline.
    db.execute("ALTER TABLE feeds ADD COLUMN retired_at REAL")


# Append only: a migration that shipped is never edited.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4]


# A feed out of the config for longer than this gets a new silent baseline when it returns.
REBASELINE_AFTER_S = 3600.0


@dataclass(frozen=True)
class FeedRow:
    """A feed's state as `tracker feeds` shows it."""

    url: str
    name: str
    active: bool
    last_status: int | None
    last_error: str | None
    consecutive_errors: int
    last_checked_at: float | None
    last_success_at: float | None
    next_check_at: float
    articles: int
    health: HealthStatus = HealthStatus.OK


@dataclass(frozen=True)
class DeliveryOutcome:
    """What to record for one delivery after an attempt."""

    delivery_id: int
    status: DeliveryStatus
    detail: str
    next_attempt_at: float | None = None
    # A server's Retry-After: not_before moves there, which even one-shot runs respect.
    hold_until: float | None = None


@dataclass(frozen=True)
class DeliveryRow:
    """A delivery as `tracker alerts` shows it."""

    id: int
    created_at: float
    channel: str
    topic: str
    title: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    response: str | None
    digest: int
    not_before: float
    next_attempt_at: float
    sent_at: float | None


@dataclass(frozen=True)
class NewMatch:
    """A stored match, for logging alerts."""

    match_id: int
    topic: str
    alert: bool


class Store:
    """The database: open, migrate, and every query the daemon makes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit at the driver; transactions are explicit (sqlite-utils' atomic()).
            conn = sqlite3.connect(str(path), timeout=10, isolation_level=None)
            self.db = sqlite_utils.Database(conn)
            self.db.enable_wal()
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            row = self.db.execute("SELECT value FROM meta WHERE key = 'instance_id'").fetchone()
            self.instance_id: str = row[0]
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    # --- schema -------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current = self.schema_version
        if current > len(MIGRATIONS):
            raise StoreError(
                f"database {self.path} has schema version {current}, newer than this tracker "
                f"({len(MIGRATIONS)})",
            )
        for version, step in enumerate(MIGRATIONS[current:], start=current + 1):
            with self.transaction():
                step(self.db)
                self.db.execute(f"PRAGMA user_version = {version}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction: all of it lands, or none of it (nested blocks are savepoints)."""
        with self.db.atomic():
            yield

    # --- feeds and the schedule ---------------------------------------------------------

    def sync_feeds(self, specs: Sequence[FeedSpec], now: float) -> None:
        """Make the feeds table match the config: add new feeds (due now), retire removed ones."""
        urls = {s.url for s in specs}
        with self.transaction():
            for spec in specs:
                # A feed back in the config after a while out of it starts with a silent
                # baseline again: what it published meanwhile is not news to alert on. One
                # back within the hour (an edit undone) resumes where it stopped.
                self.db.execute(
                    "INSERT INTO feeds (url, name, next_check_at, created_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT(url) DO UPDATE SET name = excluded.name, active = 1,"
                    " baseline_done = CASE WHEN feeds.active = 0"
                    " AND COALESCE(feeds.retired_at, 0) < ? THEN 0"
                    " ELSE feeds.baseline_done END",
                    [spec.url, spec.name, now, now, now - REBASELINE_AFTER_S],
                )
                # A shortened interval takes effect now, not after the old, longer wait;
                # a feed backing off from errors keeps its later time.
                self.db.execute(
                    "UPDATE feeds SET next_check_at = last_checked_at + ? WHERE url = ?"
                    " AND consecutive_errors = 0 AND last_checked_at IS NOT NULL"
                    " AND next_check_at > last_checked_at + ?",
                    [spec.interval_s, spec.url, spec.interval_s],
                )
            for (url,) in self.db.execute("SELECT url FROM feeds WHERE active = 1").fetchall():
                if url not in urls:
                    self.db.execute(
                        "UPDATE feeds SET active = 0, retired_at = ? WHERE url = ?", [now, url]
                    )

    def due_feeds(self, now: float, limit: int, exclude: Iterable[int] = ()) -> list[FeedState]:
        """Active feeds whose next check time has come, oldest first."""
        skip = set(exclude)
        rows = self.db.execute(
            f"SELECT {_STATE_COLUMNS} FROM feeds WHERE active = 1 AND next_check_at <= ?"
            " ORDER BY next_check_at LIMIT ?",
            [now, limit + len(skip)],
        ).fetchall()
        states = [_feed_state(r) for r in rows if r[0] not in skip]
        return states[:limit]

    def pollable_feeds(self, now: float) -> list[FeedState]:
        """Every active feed a one-shot run may poll: all but those a server asked to wait."""
        rows = self.db.execute(
            f"SELECT {_STATE_COLUMNS} FROM feeds WHERE active = 1"
            " AND (hold_until IS NULL OR hold_until <= ?) ORDER BY id",
            [now],
        ).fetchall()
        return [_feed_state(r) for r in rows]

    def feed_state(self, url: str) -> FeedState | None:
        row = self.db.execute(f"SELECT {_STATE_COLUMNS} FROM feeds WHERE url = ?", [url]).fetchone()
        return _feed_state(row) if row else None

    def next_due_at(self) -> float | None:
        row = self.db.execute("SELECT MIN(next_check_at) FROM feeds WHERE active = 1").fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def record_success(
        self,
        feed_id: int,
        *,
        now: float,
        next_check_at: float,
        status: int,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        baseline_done: bool,
    ) -> None:
        self.db.execute(
            "UPDATE feeds SET etag = ?, last_modified = ?, body_hash = COALESCE(?, body_hash),"
            " baseline_done = ?, last_status = ?, last_error = NULL, consecutive_errors = 0,"
            " last_checked_at = ?, last_success_at = ?, next_check_at = ?, hold_until = NULL"
            " WHERE id = ?",
            [
                etag,
                last_modified,
                body_hash,
                int(baseline_done),
                status,
                now,
                now,
                next_check_at,
                feed_id,
            ],
        )

    def record_failure(
        self,
        feed_id: int,
        *,
        now: float,
        next_check_at: float,
        status: int | None,
        error: str,
        hold_until: float | None = None,
    ) -> None:
        self.db.execute(
            "UPDATE feeds SET last_status = ?, last_error = ?,"
            " consecutive_errors = consecutive_errors + 1, last_checked_at = ?, next_check_at = ?,"
            " hold_until = ? WHERE id = ?",
            [status, error, now, next_check_at, hold_until, feed_id],
        )

    def feeds(self) -> list[FeedRow]:
        """Every known feed with its health, for `tracker feeds`."""
        rows = self.db.execute(
            "SELECT f.url, f.name, f.active, f.last_status, f.last_error, f.consecutive_errors,"
            " f.last_checked_at, f.last_success_at, f.next_check_at,"
            " (SELECT COUNT(*) FROM entries e WHERE e.feed_id = f.id), f.health"
            " FROM feeds f ORDER BY f.active DESC, f.name"
        ).fetchall()
        return [
            FeedRow(
                *(r[0], r[1], bool(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], r[9]),
                HealthStatus(r[10]),
            )
            for r in rows
        ]

    # --- feed health ----------------------------------------------------------------------

    def feed_health(self, feed_id: int) -> tuple[HealthStatus, int, str | None, float | None]:
        """(health, consecutive errors, last error, last success) of one feed."""
        row = self.db.execute(
            "SELECT health, consecutive_errors, last_error, last_success_at FROM feeds"
            " WHERE id = ?",
            [feed_id],
        ).fetchone()
        return (HealthStatus(row[0]), row[1], row[2], row[3])

    def set_feed_health(self, feed_id: int, health: HealthStatus) -> None:
        self.db.execute("UPDATE feeds SET health = ? WHERE id = ?", [health, feed_id])

    def healthy_feeds(self) -> list[tuple[int, str]]:
        """(id, name) of active feeds currently counted as healthy (silence candidates)."""
        rows = self.db.execute("SELECT id, name FROM feeds WHERE active = 1 AND health = 'ok'")
        return [(r[0], r[1]) for r in rows]

    def new_item_times(self, feed_id: int, limit: int) -> list[float]:
        """When the feed last brought new entries (distinct poll times, newest first)."""
        rows = self.db.execute(
            "SELECT DISTINCT seen_at FROM entries WHERE feed_id = ? ORDER BY seen_at DESC LIMIT ?",
            [feed_id, limit],
        )
        return [r[0] for r in rows]

    def failing_feeds(self) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM feeds WHERE active = 1 AND consecutive_errors > 0"
        ).fetchone()
        return int(row[0])

    def active_feeds(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM feeds WHERE active = 1").fetchone()[0])

    # --- entries, articles, matches -----------------------------------------------------

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

    def add_entry(self, feed_id: int, article: Article, now: float) -> tuple[int, bool]:
        """Record that the feed carried ``article``; return (article id, whether it is new).

        An article whose canonical URL is already stored (from another feed) is not new.
        """
        article_id: int | None = None
        if article.canonical_url:
            row = self.db.execute(
                "SELECT id FROM articles WHERE canonical_url = ?", [article.canonical_url]
            ).fetchone()
            article_id = row[0] if row else None
        is_new = article_id is None
        if article_id is None:
            # Plain execute, not Table.insert: this is the hot path, and insert() rebuilds
            # its SQL for every row (~0.1 ms each).
            cur = self.db.execute(
                "INSERT INTO articles (canonical_url, url, title, summary, content, published_at,"
                " first_seen_at, lang, authors, feed_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                ],
            )
            article_id = int(cur.lastrowid or 0)
        self.db.execute(
            "INSERT OR IGNORE INTO entries (feed_id, entry_key, article_id, seen_at)"
            " VALUES (?, ?, ?, ?)",
            [feed_id, article.entry_key, article_id, now],
        )
        return article_id, is_new

    def add_matches(
        self, article_id: int, hits: Sequence[TopicHit], alert: bool, now: float
    ) -> list[NewMatch]:
        """Store matches; a topic already matched silently (a baseline, another feed) is
        promoted to an alert when this sighting may alert. Returns what changed."""
        out = []
        for hit in hits:
            terms = json.dumps(list(hit.terms), ensure_ascii=False)
            cur = self.db.execute(
                "INSERT OR IGNORE INTO matches (article_id, topic, terms, snippet, alert,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [article_id, hit.topic, terms, hit.snippet, int(alert), now],
            )
            if cur.rowcount:
                out.append(NewMatch(int(cur.lastrowid or 0), hit.topic, alert))
                continue
            if alert:
                row = self.db.execute(
                    "UPDATE matches SET alert = 1, terms = ?, snippet = ? WHERE article_id = ?"
                    " AND topic = ? AND alert = 0 RETURNING id",
                    [terms, hit.snippet, article_id, hit.topic],
                ).fetchone()
                if row:
                    out.append(NewMatch(int(row[0]), hit.topic, True))
        return out

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

    # --- deliveries (the outbox) -------------------------------------------------------

    def add_delivery(self, match_id: int, key: str, route: Route, now: float) -> None:
        """Queue one alert for one channel (inside the ingest transaction)."""
        self.db.execute(
            "INSERT OR IGNORE INTO deliveries (match_id, channel, idempotency_key, digest,"
            " not_before, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                match_id,
                route.channel,
                key,
                int(route.digest),
                route.not_before,
                route.not_before,
                now,
            ],
        )

    def add_notice(self, kind: str, subject: str, body: str, channel: str, now: float) -> None:
        """Queue an admin notice (feed health, rejected config) for the admin channel."""
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO notices (kind, subject, body, created_at) VALUES (?, ?, ?, ?)",
                [kind, subject, body, now],
            )
            notice_id = int(cur.lastrowid or 0)
            self.db.execute(
                "INSERT INTO deliveries (notice_id, channel, idempotency_key, not_before,"
                " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [notice_id, channel, self._notice_key(notice_id, channel), now, now, now],
            )

    def _notice_key(self, notice_id: int, channel: str) -> str:
        return f"notice-{self.instance_id}-{notice_id}-{channel}"

    def recent_deliveries(self, topic: str, channel: str, since: float) -> list[float]:
        """Creation times of a topic's deliveries to a channel since ``since`` (rate limits)."""
        rows = self.db.execute(
            "SELECT d.created_at FROM deliveries d JOIN matches m ON m.id = d.match_id"
            " WHERE d.channel = ? AND d.created_at >= ? AND m.topic = ? AND d.digest = 0"
            " ORDER BY d.created_at",
            [channel, since, topic],
        ).fetchall()
        return [r[0] for r in rows]

    def due_alerts(
        self, now: float, ignore_backoff: bool, limit: int = 500, exclude: Iterable[str] = ()
    ) -> list[Alert]:
        """Pending deliveries whose time has come, oldest first, with what to render;
        none for the ``exclude`` channels (busy sending)."""
        backoff = "" if ignore_backoff else " AND d.next_attempt_at <= ?"
        skip = sorted(set(exclude))
        busy = f" AND d.channel NOT IN ({','.join('?' * len(skip))})" if skip else ""
        rows = self.db.execute(
            f"SELECT {_ALERT_COLUMNS} {_ALERT_JOINS} WHERE d.status = 'pending'"
            f" AND d.not_before <= ?{backoff}{busy} ORDER BY d.id LIMIT ?",
            [now, *([] if ignore_backoff else [now]), *skip, limit],
        ).fetchall()
        return [_alert(r) for r in rows]

    def alerts_by_id(self, ids: Sequence[int]) -> list[Alert]:
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"SELECT {_ALERT_COLUMNS} {_ALERT_JOINS} WHERE d.id IN ({marks}) ORDER BY d.id",
            list(ids),
        ).fetchall()
        return [_alert(r) for r in rows]

    def batch_alerts(self, batch: str) -> list[Alert]:
        """Every pending member of a digest already attempted, due or not, oldest first."""
        rows = self.db.execute(
            f"SELECT {_ALERT_COLUMNS} {_ALERT_JOINS} WHERE d.batch = ? AND d.status = 'pending'"
            " ORDER BY d.id",
            [batch],
        ).fetchall()
        return [_alert(r) for r in rows]

    def begin_attempt(self, ids: Sequence[int], batch: str | None = None) -> None:
        """Count an attempt before sending, so a delivery that crashes the daemon every time
        still reaches its dead letter. (A channel has at most one task sending: no lease is
        needed, and after a crash the delivery in flight is due again at once.) ``batch``:
        the digest these deliveries are sent in, from now on their fixed set."""
        with self.transaction():
            for i in ids:
                self.db.execute(
                    "UPDATE deliveries SET attempts = attempts + 1, batch = COALESCE(?, batch)"
                    " WHERE id = ?",
                    [batch, i],
                )

    def finish_attempt(self, outcomes: Sequence[DeliveryOutcome], now: float) -> None:
        """Record what each channel answered: sent, retry at a later time, or dead."""
        with self.transaction():
            for o in outcomes:
                if o.status is DeliveryStatus.SENT:
                    self.db.execute(
                        "UPDATE deliveries SET status = 'sent', sent_at = ?, response = ?,"
                        " last_error = NULL WHERE id = ?",
                        [now, o.detail, o.delivery_id],
                    )
                else:
                    self.db.execute(
                        "UPDATE deliveries SET status = ?, next_attempt_at = ?, last_error = ?,"
                        " response = ?, not_before = MAX(not_before, COALESCE(?, 0)) WHERE id = ?",
                        [
                            o.status,
                            o.next_attempt_at or now,
                            o.detail,
                            o.detail,
                            o.hold_until,
                            o.delivery_id,
                        ],
                    )

    def defer(self, ids: Sequence[int], until: float, hold_until: float | None) -> None:
        """Move deliveries not attempted (their channel is failing) to ``until``."""
        with self.transaction():
            for i in ids:
                self.db.execute(
                    "UPDATE deliveries SET next_attempt_at = MAX(next_attempt_at, ?),"
                    " not_before = MAX(not_before, COALESCE(?, 0)) WHERE id = ?",
                    [until, hold_until, i],
                )

    def retry_deliveries(
        self, ids: Sequence[int] = (), all_dead: bool = False, now: float = 0.0
    ) -> int:
        """Put dead (or pending) deliveries back in the queue, due now, attempts reset."""
        where, params = (
            ("status = 'dead'", [])
            if all_dead
            else (f"id IN ({','.join('?' * len(ids))}) AND status != 'sent'", list(ids))
        )
        if not all_dead and not ids:
            return 0
        cur = self.db.execute(
            "UPDATE deliveries SET status = 'pending', attempts = 0,"
            f" not_before = MIN(not_before, ?), next_attempt_at = ? WHERE {where}",
            [now, now, *params],
        )
        return int(cur.rowcount)

    def deliveries(self, limit: int, status: DeliveryStatus | None = None) -> list[DeliveryRow]:
        """Recent deliveries for `tracker alerts`, newest first."""
        where = "WHERE d.status = ?" if status else ""
        rows = self.db.execute(
            "SELECT d.id, d.created_at, d.channel, COALESCE(m.topic, 'admin'),"
            " COALESCE(a.title, n.subject), d.status, d.attempts, d.last_error, d.response,"
            f" d.digest, d.not_before, d.next_attempt_at, d.sent_at {_ALERT_JOINS} {where}"
            " ORDER BY d.id DESC LIMIT ?",
            [status, limit] if status else [limit],
        ).fetchall()
        return [
            DeliveryRow(
                *(r[0], r[1], r[2], r[3], r[4]),
                DeliveryStatus(r[5]),
                *(r[6], r[7], r[8], r[9], r[10], r[11], r[12]),
            )
            for r in rows
        ]

    def delivery_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status")
        return {r[0]: r[1] for r in rows}

    def count(self, table: str) -> int:
        if table not in ("feeds", "articles", "entries", "matches", "deliveries"):
            raise ValueError(table)
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Read-only access for tests and reports."""
        return [tuple(r) for r in self.db.execute(sql, list(params)).fetchall()]


# A delivery carries a match (topic alert) or a notice (admin); both render as an Alert.
_ALERT_COLUMNS = (
    "d.id, d.idempotency_key, d.channel, d.digest, COALESCE(m.topic, 'admin'),"
    " COALESCE(a.title, n.subject), a.url, COALESCE(a.summary, n.body),"
    " COALESCE(f.name, 'tracker'), a.published_at, a.lang, COALESCE(m.terms, '[]'),"
    " COALESCE(m.snippet, ''), d.created_at, d.attempts, d.batch"
)
_ALERT_JOINS = (
    "FROM deliveries d LEFT JOIN matches m ON m.id = d.match_id"
    " LEFT JOIN articles a ON a.id = m.article_id LEFT JOIN feeds f ON f.id = a.feed_id"
    " LEFT JOIN notices n ON n.id = d.notice_id"
)


def _alert(r: Sequence[Any]) -> Alert:
    return Alert(
        delivery_id=r[0],
        key=r[1],
        channel=r[2],
        digest=bool(r[3]),
        topic=r[4],
        title=r[5],
        url=r[6],
        summary=r[7],
        feed=r[8],
        published_at=r[9],
        lang=r[10],
        terms=tuple(json.loads(r[11])),
        snippet=r[12],
        created_at=r[13],
        attempts=r[14],
        batch=r[15],
    )


_STATE_COLUMNS = "id, url, name, etag, last_modified, body_hash, baseline_done, consecutive_errors"


def _feed_state(row: Sequence[Any]) -> FeedState:
    return FeedState(
        id=row[0],
        url=row[1],
        name=row[2],
        etag=row[3],
        last_modified=row[4],
        body_hash=row[5],
        baseline_done=bool(row[6]),
        consecutive_errors=row[7],
    )
