"""Re-planning queued deliveries when a channel's timing changes (`mode`, `digest_at`,
`quiet_hours`, `timezone`): a reload moves every delivery still waiting for its digest or
for the end of quiet hours, and never attempted, to the time the new settings give."""

from __future__ import annotations

from collections.abc import Mapping

from tracker.delivery.routing import next_digest_at, quiet_until
from tracker.settings import ChannelSettings, DeliveryMode
from tracker.store.facade import Store

_TIMING = ("mode", "digest_at", "timezone", "quiet_hours")


def timing_changes(
    old: Mapping[str, ChannelSettings], new: Mapping[str, ChannelSettings]
) -> dict[str, list[str]]:
    """Channels in both configs whose timing keys changed → the names of those keys."""
    out = {}
    for name in sorted(set(old) & set(new)):
        keys = [k for k in _TIMING if getattr(old[name], k) != getattr(new[name], k)]
        if keys:
            out[name] = keys
    return out


def planned_at(ch: ChannelSettings, now: float) -> float:
    """When a waiting delivery to ``ch`` goes out under its (new) settings, from ``now``."""
    at = now
    if ch.mode is not DeliveryMode.IMMEDIATE:
        at = next_digest_at(ch.mode, ch.digest_at, ch.timezone, now)
    return quiet_until(ch.quiet_hours, ch.timezone, at) or at


def replan(
    store: Store,
    old: Mapping[str, ChannelSettings],
    new: Mapping[str, ChannelSettings],
    now: float,
) -> dict[str, str]:
    """Move the waiting deliveries of every channel whose timing changed; returns log
    fields: which keys changed per channel, and how many deliveries moved."""
    changes = timing_changes(old, new)
    if not changes:
        return {}
    moved = 0
    for name in changes:
        moved += store.replan_waiting(name, planned_at(new[name], now))
    return {
        "delivery_changed": ";".join(f"{n}:{','.join(keys)}" for n, keys in changes.items()),
        "replanned": str(moved),
    }
