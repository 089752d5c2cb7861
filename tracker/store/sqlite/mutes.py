"""Muted topics (migration v8): a muted topic's matches are stored, but queue no alert."""

from __future__ import annotations

from tracker.store.sqlite.base import Tables


class MuteTables(Tables):
    """``topic_mutes``: one row per muted topic, with when the mute ends (NULL: never)."""

    def mute_topic(self, topic: str, until: float | None, now: float) -> None:
        """Mute ``topic`` until ``until`` (None: until unmuted); a second mute replaces it."""
        self.db.execute(
            "INSERT INTO topic_mutes (topic, until, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT(topic) DO UPDATE SET until = excluded.until,"
            " created_at = excluded.created_at",
            [topic, until, now],
        )

    def unmute_topic(self, topic: str) -> bool:
        """End a mute; False when the topic was not muted."""
        cur = self.db.execute("DELETE FROM topic_mutes WHERE topic = ?", [topic])
        return bool(cur.rowcount)

    def muted_topics(self, now: float) -> dict[str, float | None]:
        """Topics muted at ``now`` → when their mute ends (None: until unmuted)."""
        rows = self.db.execute(
            "SELECT topic, until FROM topic_mutes WHERE until IS NULL OR until > ?", [now]
        )
        return {r[0]: r[1] for r in rows}
