"""What the CLI changes under a running daemon, through the database it reads at every tick:
feeds due now (`tracker poll`) and pending deliveries cancelled (`tracker alerts cancel`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tracker.store.sqlite.base import Tables


@dataclass(frozen=True)
class FeedWait:
    """Why an active feed is not polled before ``next_check_at``."""

    id: int
    name: str
    url: str
    next_check_at: float
    consecutive_errors: int
    hold_until: float | None  # a server's Retry-After, when it has not passed


@dataclass(frozen=True)
class WaitCounts:
    """The schedule in numbers: feeds in backoff after errors, under a hold, next due."""

    feeds: int
    backoff: int  # after errors, not under a hold
    held: int  # under a server's Retry-After
    next_poll_at: float | None
    held_until: float | None  # the latest hold's end


class ControlTables(Tables):
    """Steering through the schedule: every change here is one UPDATE the daemon sees."""

    def feed_waits(self, now: float, *, held_only: bool = False) -> list[FeedWait]:
        """Every active feed with its next check and any Retry-After hold still running;
        ``held_only``: only the feeds under such a hold."""
        held = " AND hold_until > ?" if held_only else ""
        rows = self.db.execute(
            "SELECT id, name, url, next_check_at, consecutive_errors,"
            f" CASE WHEN hold_until > ? THEN hold_until END FROM feeds WHERE active = 1{held}"
            " ORDER BY name",
            [now, now] if held_only else [now],
        ).fetchall()
        return [FeedWait(*r) for r in rows]

    def feed_wait_counts(self, now: float) -> WaitCounts:
        """The active feeds counted in one pass: the schedule's numbers without a row each
        in Python (the daemon logs them at start, after each reload and hourly)."""
        row = self.db.execute(
            "SELECT COUNT(*),"
            " COALESCE(SUM(consecutive_errors != 0 AND next_check_at > ?"
            " AND NOT COALESCE(hold_until > ?, 0)), 0),"
            " COALESCE(SUM(hold_until > ?), 0), MIN(next_check_at),"
            " MAX(CASE WHEN hold_until > ? THEN hold_until END)"
            " FROM feeds WHERE active = 1",
            [now, now, now, now],
        ).fetchone()
        return WaitCounts(*row)

    def poll_now(self, feed_ids: Sequence[int], now: float, force: bool = False) -> int:
        """Make these feeds due at ``now`` (the daemon polls them at its next tick). A feed
        under a server's Retry-After keeps it unless ``force``. Returns how many moved."""
        if not feed_ids:
            return 0
        marks = ",".join("?" * len(feed_ids))
        hold = "" if force else " AND (hold_until IS NULL OR hold_until <= ?)"
        with self.transaction():
            cur = self.db.execute(
                "UPDATE feeds SET next_check_at = ?,"
                f" hold_until = CASE WHEN ? THEN NULL ELSE hold_until END"
                f" WHERE active = 1 AND id IN ({marks}){hold}",
                [now, int(force), *feed_ids, *([] if force else [now])],
            )
            return int(cur.rowcount)

    def cancel_deliveries(self, ids: Sequence[int]) -> list[int]:
        """Cancel these pending deliveries; returns the ids that were not pending (sent,
        dead, cancelled, or unknown), which are left as they were."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        with self.transaction():
            done = {
                r[0]
                for r in self.db.execute(
                    "UPDATE deliveries SET status = 'cancelled', last_error = 'cancelled'"
                    f" WHERE status = 'pending' AND id IN ({marks}) RETURNING id",
                    list(ids),
                ).fetchall()
            }
        return [i for i in ids if i not in done]

    def replan_waiting(self, channel: str, not_before: float) -> int:
        """Move this channel's deliveries waiting for a digest or quiet hours, and never
        attempted (a digest's set is fixed at its first attempt), to ``not_before``."""
        cur = self.db.execute(
            "UPDATE deliveries SET not_before = ?, next_attempt_at = ? WHERE channel = ?"
            " AND status = 'pending' AND attempts = 0 AND digest = 1 AND match_id IS NOT NULL",
            [not_before, not_before, channel],
        )
        return int(cur.rowcount)
