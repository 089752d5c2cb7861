"""`tracker check --json`: what the config sets up, as one documented JSON document."""

from __future__ import annotations

from pathlib import Path

from tracker.cli.jsonout import iso
from tracker.cli.mute import mute_state, muted_now
from tracker.config.lint import config_warnings
from tracker.config.schema import Config


def check_document(config: Config, path: Path) -> dict[str, object]:
    """The documented `tracker check --json` document (the config validated)."""
    muted = muted_now(config)
    langs = {f.display_name: f.lang for f in config.feeds}
    return {
        "config": str(path),
        "ok": True,
        "warnings": config_warnings(config),
        "database": str(config.database_path),
        "feeds": [
            {
                "name": spec.name,
                "url": spec.url,
                "interval_s": spec.interval_s,
                "lang": langs.get(spec.name),
            }
            for spec in config.feed_specs()
        ],
        "topics": [
            {
                "name": name,
                "query": " ".join(topic.query.split()),
                "feeds": list(topic.feeds),
                "lang": list(topic.lang),
                "notify": config.routes(name),
                "rate_limit": topic.rate_limit,
                "state": mute_state(config, name, muted, utc=True),
                "muted_until": iso(muted.get(name)),
            }
            for name, topic in config.topics.items()
        ],
        "channels": [
            {
                "name": name,
                "kind": ch.kind(),
                "mode": ch.mode,
                "digest_at": ch.digest_at if ch.mode == "daily" else None,
                "timezone": ch.timezone,
                "quiet_hours": ch.quiet_hours,
                "topics": [t for t in config.topics if name in config.routes(t)],
            }
            for name, ch in config.channels.items()
        ],
        "admin": config.delivery.admin,
    }
