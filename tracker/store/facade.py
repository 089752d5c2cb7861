"""The Store: one SQLite database behind one object, whose queries live in one module per
aggregate (store/sqlite/: feeds, articles, outbox) and whose schema is store/sqlite/migrations.

One writer: the daemon owns one connection on its event-loop thread. Times are stored as
UNIX seconds (REAL) so that "which feeds are due" is one indexed comparison.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from tracker.errors import StoreError
from tracker.redact import NO_SECRETS
from tracker.store.sqlite.articles import ArticleTables, NewMatch
from tracker.store.sqlite.feeds import REBASELINE_AFTER_S, FeedRow, FeedTables
from tracker.store.sqlite.migrations import NAMES, migrate
from tracker.store.sqlite.outbox import DeliveryOutcome, DeliveryRow, OutboxTables
from tracker.store.sqlite.stories import ReportRow, SentAlert, StoryMember, StoryRow

__all__ = [
    "REBASELINE_AFTER_S",
    "SCHEMA_VERSION",
    "DeliveryOutcome",
    "DeliveryRow",
    "FeedRow",
    "NewMatch",
    "ReportRow",
    "SentAlert",
    "Store",
    "StoryMember",
    "StoryRow",
]

# The schema level this tracker writes (the number of migrations it knows).
SCHEMA_VERSION = len(NAMES)


class Store(FeedTables, ArticleTables, OutboxTables):
    """The database: open, migrate, and every query the daemon makes."""

    def __init__(self, path: Path, redact: Callable[[str], str] = NO_SECRETS) -> None:
        """``redact`` masks the configured secrets in every text the store writes (errors,
        server answers, notices, feed URLs)."""
        self.path = path
        self.redact = redact
        self.real_urls = {}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit at the driver; transactions are explicit (sqlite-utils' atomic()).
            conn = sqlite3.connect(str(path), timeout=10, isolation_level=None)
            self.db = sqlite_utils.Database(conn)
            self.db.enable_wal()
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            migrate(self.db, path)
            row = self.db.execute("SELECT value FROM meta WHERE key = 'instance_id'").fetchone()
            self.instance_id: str = row[0]
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open database {path}: {redact(str(exc))}") from exc

    def close(self) -> None:
        self.db.close()

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def count(self, table: str) -> int:
        if table not in ("feeds", "articles", "entries", "matches", "deliveries", "stories"):
            raise ValueError(table)
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Read-only access for tests and reports."""
        return [tuple(r) for r in self.db.execute(sql, list(params)).fetchall()]
