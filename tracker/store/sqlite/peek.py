"""Read-only looks into a database without opening the Store (no migration, no write), for
`tracker check` and `tracker reload` comparing a config with what a daemon runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tracker.errors import StoreError


def active_feed_urls(path: Path) -> list[str] | None:
    """The active feeds' URLs as stored (secrets masked), or None when there is no database
    or it has no feeds table yet."""
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from exc
    try:
        tables = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'feeds'").fetchall()
        if not tables:
            return None
        rows = conn.execute("SELECT url FROM feeds WHERE active = 1").fetchall()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read database {path}: {exc}") from exc
    finally:
        conn.close()
    return [str(r[0]) for r in rows]


def muted_topics(path: Path, now: float) -> dict[str, float | None]:
    """Topics muted at ``now`` → when their mute ends (None: until unmuted); empty when there
    is no database or no mutes table yet. For `tracker check`, which never writes."""
    if not path.is_file():
        return {}
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from exc
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'topic_mutes'").fetchall():
            return {}
        rows = conn.execute(
            "SELECT topic, until FROM topic_mutes WHERE until IS NULL OR until > ?", [now]
        ).fetchall()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read database {path}: {exc}") from exc
    finally:
        conn.close()
    return {str(r[0]): r[1] for r in rows}
