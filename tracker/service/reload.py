"""Live reload: notice edits to config.yaml, refuse one that would empty or halve what runs
unless confirmed, and describe what a new config changes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tracker.config.checks import SHRINK_MARKER, has_shrink_marker, shrink_problems
from tracker.errors import ConfigError
from tracker.settings import Settings

CONFIRM = f"confirm with `tracker reload --force`, or add the line '{SHRINK_MARKER}' to the file"


@dataclass(frozen=True)
class _Stamp:
    mtime_ns: int
    size: int
    inode: int


class ConfigWatcher:
    """Polls the config file's stat: cheap, and works with editors that replace the file
    (new inode) as well as with in-place writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = self._read()

    def _read(self) -> _Stamp | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return _Stamp(st.st_mtime_ns, st.st_size, st.st_ino)

    def changed(self) -> bool:
        """True once per change (a missing file is not a change: editors delete, then write)."""
        stamp = self._read()
        if stamp is None or stamp == self._stamp:
            return False
        self._stamp = stamp
        return True


def describe_changes(old: Settings, new: Settings) -> dict[str, str]:
    """What a reload changes, as log fields: added/removed feeds, topics, channels."""
    out: dict[str, str] = {}
    for label, before, after in (
        ("feeds", {f.url for f in old.feeds}, {f.url for f in new.feeds}),
        ("topics", set(old.topics), set(new.topics)),
        ("channels", set(old.channels), set(new.channels)),
    ):
        added, removed = len(after - before), len(before - after)
        if added or removed:
            out[label] = f"+{added}/-{removed}"
    changed = [
        t
        for t in set(old.topics) & set(new.topics)
        if old.topics[t].configured() != new.topics[t].configured()
    ]
    if changed:
        out["topics_changed"] = ",".join(sorted(changed))
    return out


def needs_restart(old: Settings, new: Settings) -> list[str]:
    """Settings a running daemon cannot switch: they apply at the next start."""
    keys = []
    if old.database != new.database:
        keys.append("database")
    if old.metrics_listen != new.metrics_listen:
        keys.append("metrics")
    if old.stories_window_s != new.stories_window_s:
        keys.append("stories.window")  # the story index is built with it at start
    return keys


def refuse_shrink(old: Settings, new: Settings, *, confirmed: bool) -> list[str]:
    """Raise ConfigError (the reload is rejected, the old config kept) when ``new`` has no
    feeds and no topics, or, unless ``confirmed``, drops all or more than half of the feeds
    or topics; returns the confirmed losses (for a warning)."""
    problems = shrink_problems(
        {f.url for f in old.feeds}, set(old.topics), {f.url for f in new.feeds}, set(new.topics)
    )
    refused = [p for p in problems if not (p.confirmable and confirmed)]
    if refused:
        lines = [
            f"{p.key}: {p.message}" + (f"; {CONFIRM}" if p.confirmable else "") for p in refused
        ]
        raise ConfigError("the new config would stop most tracking", lines)
    return [f"{p.key}: {p.message}" for p in problems]


def marked_for_shrink(path: Path) -> bool:
    """Whether the config file carries the shrink marker (read apart from the load: a
    comment is not in the parsed config)."""
    try:
        return has_shrink_marker(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return False
