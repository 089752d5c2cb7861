"""The schema, as sqlite-utils migrations: an append-only list; a shipped one is never edited."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import sqlite_utils
from sqlite_utils.migrations import Migrations

from tracker.errors import StoreError


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


def _v6(db: sqlite_utils.Database) -> None:
    # Where a feed's URL permanently redirects (301/308), secrets masked: shown by
    # `tracker feeds` until the config follows, and logged once when it first appears.
    db.execute("ALTER TABLE feeds ADD COLUMN moved_to TEXT")


def _v7(db: sqlite_utils.Database) -> None:
    # Stories: every article belongs to exactly one, with the reason it joined (NULL kind:
    # it began the story). Existing articles get a story each, its id the article's.
    # ``matches.story_id`` lets one partial unique index hold "at most one alert per
    # (story, topic)"; ``deliveries.update_of`` marks a follow-up to the first alert's
    # delivery (threaded to it, one per delivery by its idempotency key).
    db.executescript(
        """
        CREATE TABLE stories (
            id INTEGER PRIMARY KEY,
            headline TEXT NOT NULL,
            published_at REAL NOT NULL,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL
        );
        INSERT INTO stories (id, headline, published_at, first_seen, last_seen)
            SELECT id, title, COALESCE(published_at, first_seen_at), first_seen_at,
                   first_seen_at FROM articles;
        ALTER TABLE articles ADD COLUMN story_id INTEGER REFERENCES stories(id);
        ALTER TABLE articles ADD COLUMN join_kind TEXT;
        ALTER TABLE articles ADD COLUMN join_score REAL;
        ALTER TABLE articles ADD COLUMN join_matched INTEGER;
        ALTER TABLE articles ADD COLUMN join_shared TEXT NOT NULL DEFAULT '[]';
        UPDATE articles SET story_id = id;
        -- The one new index on the hot path: a story's reports, read for every alert.
        CREATE INDEX articles_story ON articles (story_id);
        ALTER TABLE matches ADD COLUMN story_id INTEGER REFERENCES stories(id);
        UPDATE matches SET story_id = (SELECT story_id FROM articles a WHERE a.id = article_id);
        CREATE UNIQUE INDEX matches_story_alert ON matches (story_id, topic) WHERE alert = 1;
        ALTER TABLE deliveries ADD COLUMN update_of INTEGER REFERENCES deliveries(id);
        -- Each outlet's own title and language: a Spanish feed carrying an article stored
        -- first from an English one (one canonical URL) is still a Spanish report.
        ALTER TABLE entries ADD COLUMN title TEXT;
        ALTER TABLE entries ADD COLUMN lang TEXT;
        """
    )


def _v8(db: sqlite_utils.Database) -> None:
    # Muted topics (`tracker topics mute`): the daemon reads them at each match, so a mute
    # from the CLI reaches a running daemon and survives reloads and restarts.
    db.execute(
        "CREATE TABLE topic_mutes (topic TEXT PRIMARY KEY, until REAL, created_at REAL NOT NULL)"
    )


def _v9(db: sqlite_utils.Database) -> None:
    # The fingerprints of the items a feed carried at its last clean parse (ingest.spans):
    # the next body's known items are cut before feedparser parses it.
    db.execute("ALTER TABLE feeds ADD COLUMN item_prints BLOB")


def _v10(db: sqlite_utils.Database) -> None:
    # Each article's story features (stories/codec.py), written with it, and the key of the
    # extraction that wrote them (``Weigher.key``): a start decodes them instead of reading
    # every report's words again. NULL (articles stored before) or another key: the rebuild
    # extracts them and writes them back.
    db.execute("ALTER TABLE articles ADD COLUMN features TEXT")
    db.execute("ALTER TABLE articles ADD COLUMN features_key INTEGER")


# Append only: a migration that shipped is never edited. Each is recorded by its name (v1…).
STEPS = (_v1, _v2, _v3, _v4, _v6, _v7, _v8, _v9, _v10)
NAMES = tuple(step.__name__.lstrip("_") for step in STEPS)


def _leveled(level: int, step: Callable[[sqlite_utils.Database], None]) -> Callable[..., None]:
    """``step``, then ``PRAGMA user_version = level`` in the same transaction, so an older
    tracker (which reads only that) sees exactly the steps that were applied."""

    def run(db: sqlite_utils.Database) -> None:
        step(db)
        db.execute(f"PRAGMA user_version = {level}")

    run.__name__ = step.__name__
    return run


MIGRATIONS = Migrations("tracker")
for _level, (_name, _step) in enumerate(zip(NAMES, STEPS, strict=True), start=1):
    MIGRATIONS(name=_name)(_leveled(_level, _step))


def migrate(db: sqlite_utils.Database, where: object) -> None:
    """Bring the schema up to date; refuse a database that a newer tracker wrote.

    sqlite-utils records applied migrations by name in ``_sqlite_migrations``. A database made
    before that (its level only in ``PRAGMA user_version``) is adopted: the levels it has are
    recorded as applied, not run again. ``user_version`` is still kept equal to the number
    applied, so an older tracker, which reads only that, refuses a newer database too.
    """
    applied = [m.name for m in MIGRATIONS.applied(db)]
    level = int(db.execute("PRAGMA user_version").fetchone()[0])
    if level > len(NAMES) or any(name not in NAMES for name in applied):
        raise StoreError(
            f"database {where} has schema version {max(level, len(applied))}, newer than this"
            f" tracker ({len(NAMES)})",
        )
    if level and not applied:
        with db.atomic():
            MIGRATIONS.ensure_migrations_table(db)
            db.table(MIGRATIONS.migrations_table).insert_all(
                {"migration_set": MIGRATIONS.name, "name": name, "applied_at": "adopted"}
                for name in NAMES[:level]
            )
    MIGRATIONS.apply(db)
