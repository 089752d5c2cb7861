"""The write connection's own thread: the event loop hands database work to it and awaits
the result, so no SQLite call (a lock wait, a commit, a checkpoint) ever runs on the loop.

One thread, one connection: units of work run one after the other, each whole (a feed's
ingest chunk is one unit: its transaction begins and commits inside it). A unit that fails
because the database cannot be written raises ``StorageFault``, classified by SQLite's result
code, and the writer keeps that fault until a probe write succeeds. Before each unit the
writer checks that the file at the database's path is still the one it opened (device and
inode): a deleted or replaced database raises ``DatabaseReplaced`` and nothing is written.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ParamSpec, TypeVar

from tracker.errors import DatabaseReplaced, StorageFault, StoreError

P = ParamSpec("P")
T = TypeVar("T")

# How long a write waits for another process's lock before it is a fault (on the writer
# thread: the loop never waits).
BUSY_TIMEOUT_S = 5.0
# A probe write's lock wait while degraded: short, so a stop is never held up for long.
PROBE_BUSY_TIMEOUT_S = 1.0
# After a full disk, a probe succeeds only with this much free: SQLite reuses its WAL file,
# so a tiny write can succeed on a disk that has no room for the next feed.
MIN_FREE_BYTES = 256 * 1024


def storage_fault(exc: BaseException, path: Path) -> StorageFault | None:
    """``exc`` as a StorageFault when it says the database cannot take a write now."""
    if isinstance(exc, StorageFault):
        return exc
    # SQLite's primary result codes (sqlite3.h); extended codes carry them in the low byte.
    code = getattr(exc, "sqlite_errorcode", None) if isinstance(exc, sqlite3.Error) else None
    if code is None:
        return None
    detail = f"database {path}: {exc}"
    match code & 0xFF:
        case 13:  # SQLITE_FULL
            return StorageFault(detail, "full", f"free space on {path.parent}")
        case 8 | 3:  # SQLITE_READONLY, SQLITE_PERM
            return StorageFault(detail, "read-only", f"{path} to be writable again")
        case 10 | 14:  # SQLITE_IOERR, SQLITE_CANTOPEN
            return StorageFault(detail, "io", f"writes to {path} to work again")
        case 5 | 6:  # SQLITE_BUSY, SQLITE_LOCKED
            return StorageFault(
                f"{detail} (another process holds its write lock)",
                "locked",
                "the other process to release its write lock",
            )
        case _:
            return None


def identity(path: Path) -> tuple[int, int]:
    """The file's (device, inode): which file a path names right now."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


class Writer:
    """Runs database work on the write connection's one thread; tracks storage faults."""

    def __init__(
        self, path: Path, conn: sqlite3.Connection, busy_timeout_s: float = BUSY_TIMEOUT_S
    ) -> None:
        self.path = path
        self.conn = conn
        self.busy_timeout_s = busy_timeout_s
        self.identity = identity(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracker-db")
        # The fault the last write met, until a probe write succeeds; and when it began.
        self.fault: StorageFault | None = None
        self.fault_since: float | None = None
        self.lost: DatabaseReplaced | None = None

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` on the writer thread and await its result (a unit is never cut short:
        a cancelled caller stops waiting, the unit still commits or rolls back whole)."""
        loop = asyncio.get_running_loop()
        call = functools.partial(self._unit, fn, *args, **kwargs)
        try:
            return await loop.run_in_executor(self._executor, call)
        except StorageFault as exc:
            if self.fault is None:
                self.fault_since = time.time()
            self.fault = exc
            raise
        except DatabaseReplaced as exc:
            self.lost = exc
            raise

    def _unit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        self.check_identity()
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            fault = storage_fault(exc, self.path)
            if fault is None or fault is exc:
                raise
            raise fault from exc

    def check_identity(self) -> None:
        """Raise DatabaseReplaced unless the path still names the file opened."""
        try:
            now = identity(self.path)
        except FileNotFoundError:
            raise DatabaseReplaced(
                f"database {self.path} was deleted under the running daemon; stopping rather"
                " than write to an unlinked file (restore it, or start anew with"
                " `tracker run --init`)"
            ) from None
        except OSError as exc:
            raise StorageFault(
                f"database {self.path}: {exc.strerror or exc}", "io", f"{self.path} to be readable"
            ) from exc
        if now != self.identity:
            raise DatabaseReplaced(
                f"database {self.path} was replaced by another file under the running daemon;"
                " stopping rather than write to the old one (restart to use the new file)"
            )

    def probe(self) -> None:
        """One committed write (``meta.write_probe``); raises StorageFault if it fails."""
        if self.fault is not None and self.fault.kind == "full":
            free = shutil.disk_usage(self.path.parent).free
            if free < MIN_FREE_BYTES:
                raise StorageFault(
                    f"database {self.path}: {free} bytes free on {self.path.parent}",
                    "full",
                    f"free space on {self.path.parent} (at least {MIN_FREE_BYTES // 1024} KiB)",
                )
        conn = self.conn
        conn.execute(f"PRAGMA busy_timeout = {int(PROBE_BUSY_TIMEOUT_S * 1000)}")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('write_probe', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [repr(time.time())],
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")

    async def recover(self) -> bool:
        """Probe (on the writer thread); True, and the fault cleared, when a write works."""
        try:
            await self.run(self.probe)
        except StorageFault:
            return False
        self.fault, self.fault_since = None, None
        return True

    def close(self) -> None:
        """Wait for the unit in hand, then stop the thread."""
        self._executor.shutdown(wait=True)


def traces_of_lost_database(path: Path) -> list[Path]:
    """What is left of a database that is gone: its ``-wal``/``-shm`` files, or the lock file
    a daemon wrote beside it. Empty when the database exists, or never did."""
    if path.exists():
        return []
    names = (f"{path.name}-wal", f"{path.name}-shm", f"{path.name}.lock")
    return [p for p in (path.with_name(n) for n in names) if p.exists()]


def check_not_lost(path: Path, init: bool) -> None:
    """Refuse to start on a lost database (it would be re-baselined silently, and its pending
    alerts gone); with ``init``, set the old ``-wal``/``-shm`` aside and start anew."""
    traces = traces_of_lost_database(path)
    if not traces:
        return
    if not init:
        raise StoreError(
            f"database {path} does not exist, but {', '.join(p.name for p in traces)} beside it"
            " show(s) that it did: it was deleted or moved, and a new one would re-baseline"
            " every feed and lose the alerts that were pending",
            hint="restore the file, or run `tracker run --init` to start a new database",
        )
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for p in traces:
        # A stale WAL beside a new database would be replayed into it: keep it, aside.
        if not p.name.endswith(".lock"):
            p.rename(p.with_name(f"{p.name}.orphaned-{stamp}"))
