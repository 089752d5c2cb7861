"""The feeds aggregate: the schedule (due feeds, next check), validators, results, health."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tracker.models import FeedSpec, FeedState, HealthStatus
from tracker.store.sqlite.base import Tables

# A feed out of the config for longer than this gets a new silent baseline when it returns.
REBASELINE_AFTER_S = 3600.0
# Entries stored closer together than this came in one poll (see new_item_times).
POLL_GAP_S = 10.0


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
    moved_to: str | None = None


@dataclass(frozen=True, slots=True)
class _SyncRow:
    """What ``sync_feeds`` compares of a stored feed."""

    name: str
    active: int
    retired_at: float | None
    consecutive_errors: int
    last_checked_at: float | None
    next_check_at: float


@dataclass(frozen=True)
class FeedTables(Tables):
    """Queries on feeds: the database is the schedule."""

    def sync_feeds(self, specs: Sequence[FeedSpec], now: float) -> None:
        """Make the feeds table match the config: add new feeds (due now), retire removed ones.

        One read of the table, then writes for the rows that change only: a start or reload
        of an unchanged config of 100,000 feeds writes nothing (it wrote every row)."""
        # Each URL masked once (a regex pass and a hash per feed: 10,000 feeds at a reload).
        stored = {spec.url: self.stored_url(spec.url) for spec in specs}
        with self.transaction():
            rows: dict[str, _SyncRow] = {
                r[0]: _SyncRow(*r[1:])
                for r in self.db.execute(
                    "SELECT url, name, active, retired_at, consecutive_errors, last_checked_at,"
                    " next_check_at FROM feeds"
                ).fetchall()
            }
            renamed: list[tuple[str, str]] = []
            added: list[tuple[str, str, float, float]] = []
            revived: list[tuple[str, int, str]] = []
            sooner: list[tuple[float, str]] = []
            for spec in specs:
                url = stored[spec.url]
                if url != spec.url and url not in rows and spec.url in rows:
                    # A database from before secrets were masked: the row keeps its history.
                    renamed.append((url, spec.url))
                    rows[url] = rows.pop(spec.url)
                row = rows.get(url)
                if row is None:
                    added.append((url, spec.name, now, now))
                    continue
                if not row.active or row.name != spec.name:
                    # A feed back in the config after a while out of it starts with a silent
                    # baseline again: what it published meanwhile is not news to alert on. One
                    # back within the hour (an edit undone) resumes where it stopped.
                    rebaseline = not row.active and (row.retired_at or 0) < now - REBASELINE_AFTER_S
                    revived.append((spec.name, int(rebaseline), url))
                # A shortened interval takes effect now, not after the old, longer wait;
                # a feed backing off from errors keeps its later time.
                last = row.last_checked_at
                if (
                    row.consecutive_errors == 0
                    and last is not None
                    and row.next_check_at > last + spec.interval_s
                ):
                    sooner.append((last + spec.interval_s, url))
            urls = set(stored.values())
            retired = [(now, url) for url, row in rows.items() if row.active and url not in urls]
            self.db.conn.executemany("UPDATE OR IGNORE feeds SET url = ? WHERE url = ?", renamed)
            self.db.conn.executemany(
                "INSERT INTO feeds (url, name, next_check_at, created_at) VALUES (?, ?, ?, ?)",
                added,
            )
            self.db.conn.executemany(
                "UPDATE feeds SET name = ?, active = 1,"
                " baseline_done = CASE WHEN ? THEN 0 ELSE baseline_done END WHERE url = ?",
                revived,
            )
            self.db.conn.executemany("UPDATE feeds SET next_check_at = ? WHERE url = ?", sooner)
            self.db.conn.executemany(
                "UPDATE feeds SET active = 0, retired_at = ? WHERE url = ?", retired
            )

    def due_feeds(self, now: float, limit: int, exclude: Iterable[int] = ()) -> list[FeedState]:
        """Active feeds whose next check time has come, oldest first."""
        skip = set(exclude)
        rows = self.db.execute(
            f"SELECT {_STATE_COLUMNS} FROM feeds WHERE active = 1 AND next_check_at <= ?"
            " ORDER BY next_check_at LIMIT ?",
            [now, limit + len(skip)],
        ).fetchall()
        states = [self._feed_state(r) for r in rows if r[0] not in skip]
        return states[:limit]

    def pollable_feeds(self, now: float) -> list[FeedState]:
        """Every active feed a one-shot run may poll: all but those a server asked to wait."""
        rows = self.db.execute(
            f"SELECT {_STATE_COLUMNS} FROM feeds WHERE active = 1"
            " AND (hold_until IS NULL OR hold_until <= ?) ORDER BY id",
            [now],
        ).fetchall()
        return [self._feed_state(r) for r in rows]

    def feed_state(self, url: str) -> FeedState | None:
        row = self.db.execute(
            f"SELECT {_STATE_COLUMNS} FROM feeds WHERE url = ?", [self.stored_url(url)]
        ).fetchone()
        return self._feed_state(row) if row else None

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
        item_prints: bytes | None = None,
    ) -> None:
        """The feed answered; ``body_hash`` and ``item_prints`` None: keep the stored ones."""
        self.db.execute(
            "UPDATE feeds SET etag = ?, last_modified = ?, body_hash = COALESCE(?, body_hash),"
            " item_prints = COALESCE(?, item_prints),"
            " baseline_done = ?, last_status = ?, last_error = NULL, consecutive_errors = 0,"
            " last_checked_at = ?, last_success_at = ?, next_check_at = ?, hold_until = NULL"
            " WHERE id = ?",
            [
                etag,
                last_modified,
                body_hash,
                item_prints,
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
            [status, self.stored_text(error), now, next_check_at, hold_until, feed_id],
        )

    def feeds(self) -> list[FeedRow]:
        """Every known feed with its health, for `tracker feeds`."""
        rows = self.db.execute(
            "SELECT f.url, f.name, f.active, f.last_status, f.last_error, f.consecutive_errors,"
            " f.last_checked_at, f.last_success_at, f.next_check_at,"
            " (SELECT COUNT(*) FROM entries e WHERE e.feed_id = f.id), f.health, f.moved_to"
            " FROM feeds f ORDER BY f.active DESC, f.name"
        ).fetchall()
        return [
            FeedRow(
                *(r[0], r[1], bool(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], r[9]),
                HealthStatus(r[10]),
                r[11],
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
        """When the feed's polls brought new entries: one time per poll, newest first.

        A poll stamps each entry as it stores it, so one poll's entries lie microseconds to
        seconds apart: a row closer than ``POLL_GAP_S`` to the one before belongs to the same
        poll, and only each poll's first row counts."""
        rows = self.db.execute(
            "SELECT seen_at FROM (SELECT seen_at, seen_at - LAG(seen_at) OVER (ORDER BY seen_at)"
            " AS gap FROM entries WHERE feed_id = ?) WHERE gap IS NULL OR gap >= ?"
            " ORDER BY seen_at DESC LIMIT ?",
            [feed_id, POLL_GAP_S, limit],
        )
        return [r[0] for r in rows]

    def publication_times(self, feed_id: int, until: float, limit: int) -> list[float]:
        """The distinct publication times of the feed's entries up to ``until``, newest first
        (dates in the future are a feed's mistake, not its cadence)."""
        rows = self.db.execute(
            "SELECT DISTINCT a.published_at FROM entries e JOIN articles a ON a.id = e.article_id"
            " WHERE e.feed_id = ? AND a.published_at IS NOT NULL AND a.published_at <= ?"
            " ORDER BY a.published_at DESC LIMIT ?",
            [feed_id, until, limit],
        )
        return [r[0] for r in rows]

    def failing_feeds(self) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM feeds WHERE active = 1 AND consecutive_errors > 0"
        ).fetchone()
        return int(row[0])

    def active_feeds(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM feeds WHERE active = 1").fetchone()[0])

    def _feed_state(self, row: Sequence[Any]) -> FeedState:
        return FeedState(
            id=row[0],
            url=self.real_url(row[1]),
            name=row[2],
            etag=row[3],
            last_modified=row[4],
            body_hash=row[5],
            baseline_done=bool(row[6]),
            consecutive_errors=row[7],
            moved_to=row[8],
            item_prints=row[9],
            health=HealthStatus(row[10]),
        )

    def record_moved(self, state: FeedState, moved_to: str | None) -> bool:
        """Store where the feed permanently redirects (None: no longer); True when it is a
        new destination (to be logged once)."""
        stored = self.stored_text(moved_to) if moved_to else None
        if stored == state.moved_to:
            return False
        self.db.execute("UPDATE feeds SET moved_to = ? WHERE id = ?", [stored, state.id])
        return stored is not None


_STATE_COLUMNS = (
    "id, url, name, etag, last_modified, body_hash, baseline_done, consecutive_errors, moved_to,"
    " item_prints, health"
)
