"""What every aggregate's queries share: the connection and transactions."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from tracker.store.writer import storage_fault
from tracker.text import clean_text


class Tables:
    """Base of the aggregate mixins; the Store facade (store/facade.py) opens ``db``."""

    db: sqlite_utils.Database
    path: Path
    # A random id per database, mixed into idempotency keys (migration v4).
    instance_id: str
    # Masks secrets in text written to the database (errors, server answers, notices):
    # every such write goes through it, so no stored text carries a configured secret.
    redact: Callable[[str], str]
    # A feed URL as stored -> as configured, for URLs stored with their secrets masked.
    real_urls: dict[str, str]

    def stored_text(self, text: str) -> str:
        """Text from outside (errors, server answers, notices) as stored: secrets masked, no
        NUL or bidirectional control (``text.clean_text``)."""
        return self.redact(clean_text(text))

    def stored_url(self, url: str) -> str:
        """A feed URL as the database keeps it: its secrets masked, and when that changed
        it, a hash of the whole URL after a ``#`` (never sent), so that two feeds differing
        only in their token stay two rows. The configured URL is kept in memory only."""
        masked = self.redact(url)
        if masked == url:
            return url
        digest = hashlib.sha256(f"{self.instance_id}:{url}".encode()).hexdigest()[:12]
        stored = f"{masked.partition('#')[0]}#redacted-{digest}"
        self.real_urls[stored] = url
        return stored

    def real_url(self, stored: str) -> str:
        """The configured URL of a feed row (as stored when this process never saw it)."""
        return self.real_urls.get(stored, stored)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction: all of it lands, or none of it (nested blocks are savepoints).

        The outer one begins IMMEDIATE: it takes the write lock first (waiting up to the busy
        timeout), so a read that turns into a write never fails at once with SQLITE_BUSY
        when another connection wrote in between."""
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():  # a savepoint
                yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            _rollback(conn)
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            # A COMMIT that failed (a full disk) can leave the transaction open.
            _rollback(conn)
            raise

    @contextmanager
    def optional_write(self, wait_s: float) -> Iterator[None]:
        """One transaction for a write that can wait for a later turn (a cache's write-back):
        it waits at most ``wait_s`` for another connection's write lock, not the busy
        timeout (the writer thread's next unit would wait behind it), and any write it
        cannot make raises StorageFault, which the caller keeps to itself: the writer is
        not put in fault by a write nobody needed."""
        conn = self.db.conn
        if conn.in_transaction:
            raise RuntimeError("optional_write: already in a transaction")
        timeout_ms = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
        conn.execute(f"PRAGMA busy_timeout = {int(wait_s * 1000)}")
        try:
            with self.transaction():
                yield
        except sqlite3.Error as exc:
            fault = storage_fault(exc, self.path)
            if fault is None:
                raise
            raise fault from exc
        finally:
            conn.execute(f"PRAGMA busy_timeout = {timeout_ms}")


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back what is left (an error may already have ended the transaction)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")
