"""The Store: one SQLite database behind one object, whose queries live in one module per
aggregate (store/sqlite/: feeds, articles, outbox) and whose schema is store/sqlite/migrations.

One writer: the daemon's connection belongs to one thread (store/writer.py), and the event
loop awaits ``store.run(store.method, …)``; commands use the methods directly, and the ones
that only read open the file read-only. Times are stored as UNIX seconds (REAL) so that
"which feeds are due" is one indexed comparison.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import sqlite_utils

from tracker.errors import DatabaseReplaced, StorageFault, StoreError
from tracker.redact import NO_SECRETS
from tracker.store.sqlite.articles import ArticleTables, NewMatch
from tracker.store.sqlite.control import ControlTables, FeedWait, WaitCounts
from tracker.store.sqlite.feeds import REBASELINE_AFTER_S, FeedRow, FeedTables
from tracker.store.sqlite.listings import DeliveryView, FeedDetail, ListingTables
from tracker.store.sqlite.matches import MatchRow, MatchTables
from tracker.store.sqlite.migrations import NAMES, migrate
from tracker.store.sqlite.mutes import MuteTables
from tracker.store.sqlite.outbox import DeliveryOutcome, DeliveryRow, OutboxTables
from tracker.store.sqlite.stories import (
    Placement,
    ReportRow,
    SentAlert,
    StoryMember,
    StoryRow,
)
from tracker.store.sqlite.suggest import MissedReport, RetitledCopy, SuggestTables
from tracker.store.writer import BUSY_TIMEOUT_S, Writer, storage_fault

P = ParamSpec("P")
T = TypeVar("T")

__all__ = [
    "REBASELINE_AFTER_S",
    "SCHEMA_VERSION",
    "DeliveryOutcome",
    "DeliveryRow",
    "DeliveryView",
    "FeedDetail",
    "FeedRow",
    "FeedWait",
    "MatchRow",
    "MissedReport",
    "NewMatch",
    "Placement",
    "ReportRow",
    "RetitledCopy",
    "SentAlert",
    "Store",
    "StoryMember",
    "StoryRow",
    "WaitCounts",
]

# The schema level this tracker writes (the number of migrations it knows).
SCHEMA_VERSION = len(NAMES)


class Store(
    FeedTables,
    ArticleTables,
    OutboxTables,
    MatchTables,
    MuteTables,
    ControlTables,
    ListingTables,
    SuggestTables,
):
    """The database: open, migrate, and every query the daemon makes."""

    def __init__(
        self,
        path: Path,
        redact: Callable[[str], str] = NO_SECRETS,
        *,
        read_only: bool = False,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
    ) -> None:
        """``redact`` masks the configured secrets in every text the store writes (errors,
        server answers, notices, feed URLs). ``read_only`` opens an existing database for
        reading only (also on a read-only mount), with no migration and no write probe."""
        self.path = path
        self.redact = redact
        self.real_urls = {}
        self.read_only = read_only
        try:
            if read_only:
                conn = _connect_read_only(path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                _check_writable(path)
                # Autocommit at the driver; transactions are explicit (Tables.transaction).
                # The connection belongs to the writer's thread once the daemon runs.
                conn = sqlite3.connect(
                    str(path), timeout=busy_timeout_s, isolation_level=None,
                    check_same_thread=False,
                )  # fmt: skip
            self.db = sqlite_utils.Database(conn)
            if not read_only:
                self.db.enable_wal()
                self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            if not read_only:
                migrate(self.db, path)
            row = self.db.execute("SELECT value FROM meta WHERE key = 'instance_id'").fetchone()
            self.instance_id: str = row[0]
            self.writer = Writer(path, conn, busy_timeout_s)
            if not read_only:
                # A database that opens but takes no write (read-only file or mount, full
                # disk) is refused here, with the reason, rather than on the first poll.
                self.writer.probe()
        except StorageFault as exc:
            raise StoreError(
                f"database {path} cannot be written ({exc.kind}): {redact(exc.message)}",
                hint=f"tracker needs {exc.waiting_for}",
            ) from exc
        except (sqlite3.Error, OSError) as exc:
            fault = storage_fault(exc, path)
            if fault is not None and fault.kind != "io" and not read_only:
                raise StoreError(
                    f"database {path} cannot be written ({fault.kind}): {redact(str(exc))}",
                    hint=f"tracker needs {fault.waiting_for}",
                ) from exc
            raise StoreError(f"cannot open database {path}: {redact(str(exc))}") from exc

    def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Awaitable[T]:
        """Await ``fn(*args, **kwargs)`` run on the writer's thread (the daemon's way in)."""
        return self.writer.run(fn, *args, **kwargs)

    @property
    def fault(self) -> StorageFault | DatabaseReplaced | None:
        """Why writes are paused: a storage fault not yet probed away, or a lost file."""
        return self.writer.lost or self.writer.fault

    def close(self) -> None:
        writer = getattr(self, "writer", None)
        if writer is not None:
            writer.close()
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


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection: ``mode=ro`` first (sees the WAL); where even that cannot work
    (no ``-shm`` on a read-only mount), ``immutable=1``, which reads the main file alone."""
    if not path.exists():
        raise StoreError(f"no database at {path}")
    base = path.absolute().as_uri()
    try:
        conn = sqlite3.connect(f"{base}?mode=ro", uri=True, isolation_level=None)
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn = sqlite3.connect(f"{base}?immutable=1", uri=True, isolation_level=None)
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn


def _check_writable(path: Path) -> None:
    """A clear error for a database the daemon could only read (a read-only file, folder or
    mount, an immutable file), before SQLite says something vaguer."""
    for target in (path, path.parent):
        if target.exists() and not os.access(target, os.W_OK):
            raise StoreError(
                f"database {path} is read-only: {target} cannot be written (read-only file,"
                " folder or file system, or an immutable file)",
                hint="tracker run writes its database; `tracker feeds` and `tracker alerts`"
                " can read it as it is",
            )
