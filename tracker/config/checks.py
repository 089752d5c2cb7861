"""Checks across keys of config.yaml: duplicates, references, query syntax.

They run on the raw data (after ``${ENV}`` substitution, before pydantic) so that their
problems are reported together with the per-key ones, not only once those are fixed.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any

from tracker.config.schema import CHANNEL_KINDS, default_feed_name
from tracker.models import NOTICE_TOPIC
from tracker.topics.query import check_query


def cross_key_problems(raw: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every (key path, message) problem that no single key shows on its own."""
    yield from _semantic_problems(raw)
    yield from _delivery_problems(raw)


_T = typing.TypeVar("_T", list[Any], dict[Any, Any])


def _typed(value: Any, kind: type[_T]) -> _T:
    """``value`` if it is of the container ``kind``, else an empty one (its own error is
    reported by pydantic)."""
    return value if isinstance(value, kind) else kind()


def _semantic_problems(raw: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Checks across keys (duplicates, references, query syntax), run on the raw data so they
    are reported together with the per-key errors, not only once those are fixed."""
    feeds = _typed(raw.get("feeds"), list)
    seen_urls: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    default_names: set[str] = set()
    for i, feed in enumerate(feeds):
        if not isinstance(feed, dict) or not isinstance(feed.get("url"), str):
            continue
        url = feed["url"].strip()
        try:
            default_names.add(default_feed_name(url))
        except ValueError:
            continue  # pydantic reports the malformed URL itself
        if url in seen_urls:
            yield f"feeds[{i}].url", f"duplicate of feeds[{seen_urls[url]}]"
        seen_urls.setdefault(url, i)
        name = feed.get("name")
        if isinstance(name, str) and name:
            if name in seen_names:
                yield f"feeds[{i}].name", f"'{name}' is already feeds[{seen_names[name]}]"
            seen_names.setdefault(name, i)
    tags = {
        t
        for feed in feeds
        if isinstance(feed, dict)
        for t in _typed(feed.get("tags"), list)
        if isinstance(t, str)
    }
    known = set(seen_urls) | set(seen_names) | default_names | tags
    topics = _typed(raw.get("topics"), dict)
    lists = _typed(raw.get("lists"), dict)
    good_lists = {k: v for k, v in lists.items() if isinstance(v, list)}
    for tname, topic in topics.items():
        if str(tname).strip().casefold() == NOTICE_TOPIC:
            yield (
                f"topics.{tname}",
                f"'{tname}' is the name admin notices carry (feed failing, config rejected):"
                " a topic of that name could not be told from them; rename it",
            )
        if not isinstance(topic, dict):
            continue
        refs = _typed(topic.get("feeds"), list)
        for j, ref in enumerate(refs):
            if isinstance(ref, str) and ref not in known:
                yield f"topics.{tname}.feeds[{j}]", f"no feed named or at '{ref}'"
        channels = _typed(raw.get("channels"), dict)
        for j, ref in enumerate(_typed(topic.get("notify"), list)):
            if isinstance(ref, str) and ref not in channels:
                yield f"topics.{tname}.notify[{j}]", _no_channel(ref, channels)
        if isinstance(topic.get("query"), str):
            err = check_query(topic["query"], good_lists)
            if err:
                yield f"topics.{tname}.query", err


def _no_channel(ref: object, channels: dict[Any, Any]) -> str:
    known = ", ".join(map(str, channels)) or "none configured"
    return f"no channel named '{ref}' (channels: {known})"


def _delivery_problems(raw: dict[str, Any]) -> Iterator[tuple[str, str]]:
    channels = _typed(raw.get("channels"), dict)
    delivery = _typed(raw.get("delivery"), dict)
    for name, ch in channels.items():
        model = CHANNEL_KINDS.get(str(ch.get("type"))) if isinstance(ch, dict) else None
        if model is not None and model.extra is not None and not find_spec(model.extra):
            yield (
                f"channels.{name}.type",
                f"{model.kind()} channels need the optional extra:"
                f" pip install 'tracker[{model.extra}]'",
            )
    for j, ref in enumerate(_typed(delivery.get("notify"), list)):
        if isinstance(ref, str) and ref not in channels:
            yield f"delivery.notify[{j}]", _no_channel(ref, channels)
    admin = delivery.get("admin")
    if isinstance(admin, str) and admin not in channels:
        yield "delivery.admin", _no_channel(admin, channels)


# A line in config.yaml that confirms a reload removing more than half of the feeds or
# topics (what `tracker reload --force` confirms once, for edits made without a shell).
SHRINK_MARKER = "# tracker: allow-shrink"
_MARKER_RE = re.compile(r"^[ \t]*#[ \t]*tracker:[ \t]*allow-shrink[ \t]*$", re.M)

# Fewer removed than this never asks: replacing the one feed of a small config is an edit.
SHRINK_MIN_REMOVED = 2


@dataclass(frozen=True)
class Shrink:
    """A config that would empty or halve what runs: ``confirmable`` ones pass with a
    confirmation (`tracker reload --force`, or SHRINK_MARKER in the file); the others never."""

    key: str
    message: str
    confirmable: bool


def has_shrink_marker(text: str) -> bool:
    """Whether config text carries SHRINK_MARKER on a line of its own."""
    return _MARKER_RE.search(text) is not None


def shrink_problems(
    old_feeds: Collection[str],
    old_topics: Collection[str],
    new_feeds: Collection[str],
    new_topics: Collection[str],
) -> list[Shrink]:
    """What a change from the old feeds and topics (URLs, names) to the new ones would lose,
    beyond an ordinary edit: everything, all feeds or topics, or more than half of them."""
    if not new_feeds and not new_topics:
        if not old_feeds and not old_topics:
            return []
        return [
            Shrink(
                "config",
                "no feeds and no topics (an empty or truncated file?): to stop tracking,"
                " stop the daemon instead",
                confirmable=False,
            )
        ]
    out = []
    for key, old, new in (("feeds", old_feeds, new_feeds), ("topics", old_topics, new_topics)):
        removed = len(set(old) - set(new))
        if old and not new:
            out.append(Shrink(key, f"no {key} left (the running config has {len(old)})", True))
        elif removed >= SHRINK_MIN_REMOVED and removed * 2 > len(old):
            out.append(Shrink(key, f"removes {removed} of {len(old)} {key} (more than half)", True))
    return out
