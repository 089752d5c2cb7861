"""A write probe for /healthz: does the database take a write right now?"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def database_writable(path: str | Path, timeout_s: float = 1.0) -> tuple[bool, str]:
    """Whether the database takes a write right now: (ok, reason). Nothing is committed."""
    db = Path(path)
    if not db.exists():
        return False, f"database {db} does not exist"
    if not db.is_file():
        return False, f"database {db} is not a file"
    # mode=rw: a check must never create a database.
    uri = f"{db.absolute().as_uri()}?mode=rw"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=timeout_s, isolation_level=None)
    except sqlite3.Error as exc:
        return False, f"database {db} cannot be opened for writing: {exc}"
    try:
        conn.execute("BEGIN IMMEDIATE")  # the write lock: fails while another writer is stuck
        # Taking the lock alone succeeds even on a read-only file; rewriting one header field
        # with its own value proves writes work, and the rollback keeps it from reaching disk.
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        return False, f"database {db} is not writable: {exc}"
    finally:
        conn.close()
    return True, "ok"
