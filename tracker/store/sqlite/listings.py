"""The CLI's detailed listings: deliveries with their feed and link (filtered), and one feed
in full (`tracker feeds show`)."""

from __future__ import annotations

from dataclasses import dataclass

from tracker.models import DeliveryStatus, HealthStatus
from tracker.store.sqlite.base import Tables


@dataclass(frozen=True)
class DeliveryView:
    """A delivery as `tracker alerts` lists it, with its article's feed and link."""

    id: int
    created_at: float
    channel: str
    topic: str
    title: str
    feed: str | None
    link: str | None
    status: DeliveryStatus
    digest: bool
    attempts: int
    not_before: float
    next_attempt_at: float
    sent_at: float | None
    last_error: str | None


@dataclass(frozen=True)
class FeedDetail:
    """Everything the store records about one feed."""

    id: int
    url: str
    name: str
    active: bool
    health: HealthStatus
    last_status: int | None
    last_error: str | None
    consecutive_errors: int
    last_checked_at: float | None
    last_success_at: float | None
    next_check_at: float
    hold_until: float | None
    has_validators: bool
    baseline_done: bool
    created_at: float
    retired_at: float | None
    articles: int
    matches: int


class ListingTables(Tables):
    """Read-only queries behind `tracker alerts` and `tracker feeds show`."""

    def delivery_views(
        self,
        limit: int,
        status: DeliveryStatus | None = None,
        topic: str | None = None,
        channel: str | None = None,
    ) -> list[DeliveryView]:
        """Recent deliveries, newest first; admin notices have topic ``admin``."""
        where, params = [], []
        for column, value in (
            ("d.status", status),
            ("COALESCE(m.topic, 'admin')", topic),
            ("d.channel", channel),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(str(value))
        rows = self.db.execute(
            "SELECT d.id, d.created_at, d.channel, COALESCE(m.topic, 'admin'),"
            " COALESCE(a.title, n.subject), f.name, a.url, d.status, d.digest, d.attempts,"
            " d.not_before, d.next_attempt_at, d.sent_at, d.last_error"
            " FROM deliveries d LEFT JOIN matches m ON m.id = d.match_id"
            " LEFT JOIN articles a ON a.id = m.article_id LEFT JOIN feeds f ON f.id = a.feed_id"
            " LEFT JOIN notices n ON n.id = d.notice_id"
            f" {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY d.id DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
        return [
            DeliveryView(
                *(r[0], r[1], r[2], r[3], r[4], r[5], r[6]),
                DeliveryStatus(r[7]),
                bool(r[8]),
                *(r[9], r[10], r[11], r[12], r[13]),
            )
            for r in rows
        ]

    def feed_detail(self, name_or_url: str) -> FeedDetail | None:
        """One feed by its name or URL (an active one first, when a name was reused)."""
        row = self.db.execute(
            "SELECT f.id, f.url, f.name, f.active, f.health, f.last_status, f.last_error,"
            " f.consecutive_errors, f.last_checked_at, f.last_success_at, f.next_check_at,"
            " f.hold_until, f.etag IS NOT NULL OR f.last_modified IS NOT NULL,"
            " f.baseline_done, f.created_at, f.retired_at,"
            " (SELECT COUNT(*) FROM entries e WHERE e.feed_id = f.id),"
            " (SELECT COUNT(*) FROM matches m JOIN articles a ON a.id = m.article_id"
            "  WHERE a.feed_id = f.id)"
            " FROM feeds f WHERE f.name = ? OR f.url = ? ORDER BY f.active DESC LIMIT 1",
            [name_or_url, self.stored_url(name_or_url)],
        ).fetchone()
        if row is None:
            return None
        return FeedDetail(
            *(row[0], self.real_url(row[1]), row[2], bool(row[3]), HealthStatus(row[4])),
            *(row[5], row[6], row[7], row[8], row[9], row[10], row[11]),
            bool(row[12]),
            bool(row[13]),
            *(row[14], row[15], row[16], row[17]),
        )

    def new_entry_polls(self, feed_id: int, limit: int) -> list[tuple[float, int]]:
        """The feed's last polls that brought new entries: (when, how many), newest first.
        One poll stores its entries within moments of each other (each with its own time),
        so times less than ``POLL_GAP_S`` apart count as one poll."""
        rows = self.db.execute(
            "SELECT seen_at FROM entries WHERE feed_id = ? ORDER BY seen_at DESC LIMIT 20000",
            [feed_id],
        ).fetchall()
        polls: list[list[float]] = []
        for (t,) in rows:
            if polls and polls[-1][0] - t < POLL_GAP_S:
                polls[-1][0] = t
                polls[-1][1] += 1
            elif len(polls) == limit:
                break
            else:
                polls.append([t, 1])
        return [(t, int(n)) for t, n in polls]


# Entries stored less than this apart belong to one poll (`new_entry_polls`).
POLL_GAP_S = 5.0
