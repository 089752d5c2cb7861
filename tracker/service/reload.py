"""Live reload: notice edits to config.yaml, and describe what a new config changes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tracker.settings import Settings


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
