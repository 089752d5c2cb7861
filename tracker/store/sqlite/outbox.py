"""The outbox aggregate: deliveries of alerts and admin notices, attempts and their results."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tracker.models import Alert, DeliveryStatus, NoticeKind, Route
from tracker.store.sqlite.stories import StoryTables


@dataclass(frozen=True)
class DeliveryOutcome:
    """What to record for one delivery after an attempt."""

    delivery_id: int
    status: DeliveryStatus
    detail: str
    next_attempt_at: float | None = None
    # A server's Retry-After: not_before moves there, which even one-shot runs respect.
    hold_until: float | None = None


@dataclass(frozen=True)
class DeliveryRow:
    """A delivery as `tracker alerts` shows it."""

    id: int
    created_at: float
    channel: str
    topic: str
    title: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    response: str | None
    digest: int
    not_before: float
    next_attempt_at: float
    sent_at: float | None


class OutboxTables(StoryTables):
    """Deliveries: queued in the ingest transaction, claimed and recorded by the dispatcher."""

    def add_delivery(self, match_id: int, key: str, route: Route, now: float) -> None:
        """Queue one alert for one channel (inside the ingest transaction)."""
        self.db.execute(
            "INSERT OR IGNORE INTO deliveries (match_id, channel, idempotency_key, digest,"
            " not_before, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                match_id,
                route.channel,
                key,
                int(route.digest),
                route.not_before,
                route.not_before,
                now,
            ],
        )

    def add_notice(self, kind: str, subject: str, body: str, channel: str, now: float) -> None:
        """Queue an admin notice (feed health, rejected config) for the admin channel."""
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO notices (kind, subject, body, created_at) VALUES (?, ?, ?, ?)",
                [kind, self.stored_text(subject), self.stored_text(body), now],
            )
            notice_id = int(cur.lastrowid or 0)
            self.db.execute(
                "INSERT INTO deliveries (notice_id, channel, idempotency_key, not_before,"
                " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [notice_id, channel, self._notice_key(notice_id, channel), now, now, now],
            )

    def _notice_key(self, notice_id: int, channel: str) -> str:
        return f"notice-{self.instance_id}-{notice_id}-{channel}"

    def recent_deliveries(self, topic: str, channel: str, since: float) -> list[float]:
        """Creation times of a topic's deliveries to a channel since ``since`` (rate limits)."""
        rows = self.db.execute(
            "SELECT d.created_at FROM deliveries d JOIN matches m ON m.id = d.match_id"
            " WHERE d.channel = ? AND d.created_at >= ? AND m.topic = ? AND d.digest = 0"
            " ORDER BY d.created_at",
            [channel, since, topic],
        ).fetchall()
        return [r[0] for r in rows]

    def due_alerts(
        self, now: float, ignore_backoff: bool, limit: int = 500, exclude: Iterable[str] = ()
    ) -> list[Alert]:
        """Pending deliveries whose time has come, oldest first, with what to render;
        none for the ``exclude`` channels (busy sending)."""
        backoff = "" if ignore_backoff else " AND d.next_attempt_at <= ?"
        skip = sorted(set(exclude))
        busy = f" AND d.channel NOT IN ({','.join('?' * len(skip))})" if skip else ""
        rows = self.db.execute(
            f"SELECT {_ALERT_COLUMNS} {_ALERT_JOINS} WHERE d.status = 'pending'"
            f" AND d.not_before <= ?{backoff}{busy} ORDER BY d.id LIMIT ?",
            [now, *([] if ignore_backoff else [now]), *skip, limit],
        ).fetchall()
        return self._with_reports([_alert(r) for r in rows])

    def alerts_by_id(self, ids: Sequence[int]) -> list[Alert]:
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"SELECT {_ALERT_COLUMNS} {_ALERT_JOINS} WHERE d.id IN ({marks}) ORDER BY d.id",
            list(ids),
        ).fetchall()
        return self._with_reports([_alert(r) for r in rows])

    def batch_alerts(self, batch: str) -> list[Alert]:
        """Every pending member of a digest already attempted, due or not, oldest first."""
        rows = self.db.execute(
            f"SELECT {_ALERT_COLUMNS} {_ALERT_JOINS} WHERE d.batch = ? AND d.status = 'pending'"
            " ORDER BY d.id",
            [batch],
        ).fetchall()
        return self._with_reports([_alert(r) for r in rows])

    def _with_reports(self, alerts: list[Alert]) -> list[Alert]:
        """Alerts with every report of their story known now: an alert names the outlets
        known when it is sent (``story_wait`` holds it so that more join)."""
        ids = [a.story_id for a in alerts if a.story_id is not None]
        if not ids:
            return alerts
        reports = self.story_reports(ids)
        return [
            replace(a, reports=tuple(reports.get(a.story_id, ()))) if a.story_id else a
            for a in alerts
        ]

    def begin_attempt(self, ids: Sequence[int], batch: str | None = None) -> None:
        """Count an attempt before sending, so a delivery that crashes the daemon every time
        still reaches its dead letter. (A channel has at most one task sending: no lease is
        needed, and after a crash the delivery in flight is due again at once.) ``batch``:
        the digest these deliveries are sent in, from now on their fixed set."""
        with self.transaction():
            for i in ids:
                self.db.execute(
                    "UPDATE deliveries SET attempts = attempts + 1, batch = COALESCE(?, batch)"
                    " WHERE id = ?",
                    [batch, i],
                )

    def finish_attempt(self, outcomes: Sequence[DeliveryOutcome], now: float) -> None:
        """Record what each channel answered: sent, retry at a later time, or dead."""
        with self.transaction():
            for o in outcomes:
                if o.status is DeliveryStatus.SENT:
                    self.db.execute(
                        "UPDATE deliveries SET status = 'sent', sent_at = ?, response = ?,"
                        " last_error = NULL WHERE id = ?",
                        [now, self.stored_text(o.detail), o.delivery_id],
                    )
                else:
                    detail = self.stored_text(o.detail)
                    self.db.execute(
                        "UPDATE deliveries SET status = ?, next_attempt_at = ?, last_error = ?,"
                        " response = ?, not_before = MAX(not_before, COALESCE(?, 0)) WHERE id = ?",
                        [
                            o.status,
                            o.next_attempt_at or now,
                            detail,
                            detail,
                            o.hold_until,
                            o.delivery_id,
                        ],
                    )

    def defer(self, ids: Sequence[int], until: float, hold_until: float | None) -> None:
        """Move deliveries not attempted (their channel is failing) to ``until``."""
        with self.transaction():
            for i in ids:
                self.db.execute(
                    "UPDATE deliveries SET next_attempt_at = MAX(next_attempt_at, ?),"
                    " not_before = MAX(not_before, COALESCE(?, 0)) WHERE id = ?",
                    [until, hold_until, i],
                )

    def delivery_statuses(self, ids: Sequence[int]) -> dict[int, DeliveryStatus]:
        """The status of each of ``ids`` that exists (for `alerts retry` to name the rest)."""
        out: dict[int, DeliveryStatus] = {}
        for start in range(0, len(ids), 500):  # under SQLite's limit of bound parameters
            chunk = list(ids[start : start + 500])
            rows = self.db.execute(
                f"SELECT id, status FROM deliveries WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            out.update((int(i), DeliveryStatus(status)) for i, status in rows)
        return out

    def retry_deliveries(
        self, ids: Sequence[int] = (), all_dead: bool = False, now: float = 0.0
    ) -> int:
        """Put dead (or pending) deliveries back in the queue, due now, attempts reset."""
        where, params = (
            ("status = 'dead'", [])
            if all_dead
            else (f"id IN ({','.join('?' * len(ids))}) AND status != 'sent'", list(ids))
        )
        if not all_dead and not ids:
            return 0
        cur = self.db.execute(
            "UPDATE deliveries SET status = 'pending', attempts = 0,"
            f" not_before = MIN(not_before, ?), next_attempt_at = ? WHERE {where}",
            [now, now, *params],
        )
        return int(cur.rowcount)

    def deliveries(self, limit: int, status: DeliveryStatus | None = None) -> list[DeliveryRow]:
        """Recent deliveries for `tracker alerts`, newest first."""
        where = "WHERE d.status = ?" if status else ""
        rows = self.db.execute(
            "SELECT d.id, d.created_at, d.channel, COALESCE(m.topic, 'admin'),"
            " COALESCE(a.title, n.subject), d.status, d.attempts, d.last_error, d.response,"
            f" d.digest, d.not_before, d.next_attempt_at, d.sent_at {_ALERT_JOINS} {where}"
            " ORDER BY d.id DESC LIMIT ?",
            [status, limit] if status else [limit],
        ).fetchall()
        return [
            DeliveryRow(
                *(r[0], r[1], r[2], r[3], r[4]),
                DeliveryStatus(r[5]),
                *(r[6], r[7], r[8], r[9], r[10], r[11], r[12]),
            )
            for r in rows
        ]

    def delivery_counts(self) -> dict[DeliveryStatus, int]:
        """How many deliveries are in each status."""
        rows = self.db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status")
        return {DeliveryStatus(r[0]): r[1] for r in rows}


# A delivery carries a match (topic alert) or a notice (admin); both render as an Alert.
_ALERT_COLUMNS = (
    "d.id, d.idempotency_key, d.channel, d.digest, COALESCE(m.topic, 'admin'),"
    " COALESCE(a.title, n.subject), a.url, COALESCE(a.summary, n.body),"
    " COALESCE(f.name, 'tracker'), a.published_at, a.lang, COALESCE(m.terms, '[]'),"
    " COALESCE(m.snippet, ''), d.created_at, d.attempts, d.batch,"
    " COALESCE(a.content, ''), a.canonical_url, n.kind, a.story_id, s.headline, s.first_seen,"
    " d.update_of, (SELECT u.idempotency_key FROM deliveries u WHERE u.id = d.update_of)"
)
_ALERT_JOINS = (
    "FROM deliveries d LEFT JOIN matches m ON m.id = d.match_id"
    " LEFT JOIN articles a ON a.id = m.article_id LEFT JOIN feeds f ON f.id = a.feed_id"
    " LEFT JOIN notices n ON n.id = d.notice_id LEFT JOIN stories s ON s.id = a.story_id"
)


def _alert(r: Sequence[Any]) -> Alert:
    return Alert(
        delivery_id=r[0],
        key=r[1],
        channel=r[2],
        digest=bool(r[3]),
        topic=r[4],
        title=r[5],
        url=r[6],
        summary=r[7],
        feed=r[8],
        published_at=r[9],
        lang=r[10],
        terms=tuple(json.loads(r[11])),
        snippet=r[12],
        created_at=r[13],
        attempts=r[14],
        batch=r[15],
        content=r[16],
        canonical_url=r[17],
        notice=NoticeKind.from_stored(r[18]) if r[18] is not None else None,
        story_id=r[19],
        headline=r[20],
        story_first_seen=r[21],
        update=r[22] is not None,
        thread_key=r[23],
    )
