"""Politeness: per host, at most ``per_host`` requests to one host at once, and optionally a
minimum spacing between the starts of two requests to it; per feed, the interval floor a
feed asks for (RSS ``<ttl>``, ``sy:updatePeriod``, ``Cache-Control: max-age``).

A host is the feed URL's host name, lowercased, without the port (two loopback addresses
are two hosts; two ports of one address are one). Redirects count against the feed's own
host: the limit is about the feeds one configures, not where a server sends us.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit


def host_of(url: str) -> str:
    """The host a request to ``url`` counts against."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


class _Host:
    __slots__ = ("next_start", "sem", "users")

    def __init__(self, per_host: int) -> None:
        self.sem = asyncio.Semaphore(per_host)
        self.users = 0  # polls waiting for or holding a slot
        self.next_start = 0.0  # monotonic time before which no request may start


class HostLimiter:
    """Per-host request slots, shared by every poll of one scheduler."""

    def __init__(
        self,
        per_host: int = 2,
        spacing_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_host < 1:
            raise ValueError("per_host must be at least 1")
        self.per_host = per_host
        self.spacing_s = spacing_s
        self.clock = clock
        self._hosts: dict[str, _Host] = {}

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        """Wait for a free slot on ``url``'s host (and its spacing), hold it for the block."""
        key = host_of(url)
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host(self.per_host)
        host.users += 1
        try:
            await host.sem.acquire()
            try:
                if self.spacing_s > 0:
                    now = self.clock()
                    start = max(now, host.next_start)
                    host.next_start = start + self.spacing_s  # reserved before sleeping
                    if start > now:
                        await asyncio.sleep(start - now)
                yield
            finally:
                host.sem.release()
        finally:
            host.users -= 1
            if host.users == 0 and host.next_start <= self.clock():
                self._hosts.pop(key, None)  # nothing worth keeping: hosts do not pile up

    def active(self, url: str) -> int:
        """Polls of ``url``'s host holding or waiting for a slot now (for tests and status)."""
        host = self._hosts.get(host_of(url))
        return host.users if host is not None else 0


# A feed may slow its own polling, never past this: a typo (`<ttl>99999999</ttl>`) must not
# silence a feed for years.
MAX_FLOOR_S = 24 * 3600.0

_PERIODS = {
    "hourly": 3600.0,
    "daily": 86400.0,
    "weekly": 7 * 86400.0,
    "monthly": 30 * 86400.0,
    "yearly": 365 * 86400.0,
}


def feed_floor(ttl: object, update_period: object, update_frequency: object) -> float | None:
    """The least interval a feed asks for, in seconds: RSS ``<ttl>`` (minutes), or the
    syndication module's ``sy:updatePeriod`` divided by ``sy:updateFrequency``; the larger
    of the two, None when neither is usable."""
    floors: list[float] = []
    minutes = _number(ttl)
    if minutes is not None and minutes > 0:
        floors.append(minutes * 60.0)
    if isinstance(update_period, str) and update_period.strip().lower() in _PERIODS:
        period = _PERIODS[update_period.strip().lower()]
        times = _number(update_frequency)
        floors.append(period / times if times is not None and times >= 1 else period)
    return max(floors) if floors else None


def cache_max_age(headers: dict[str, str]) -> float | None:
    """``Cache-Control: max-age`` (or ``s-maxage``) of a response, in seconds; None without."""
    value = headers.get("cache-control", "")
    best: float | None = None
    for part in value.split(","):
        name, _, arg = part.strip().partition("=")
        if name.strip().lower() in ("max-age", "s-maxage"):
            seconds = _number(arg.strip().strip('"'))
            if seconds is not None and seconds > 0:
                best = max(best or 0.0, seconds)
    return best


def floored(interval_s: float, *floors: float | None) -> float:
    """``interval_s`` raised to the largest floor, which is capped at MAX_FLOOR_S."""
    floor = max((f for f in floors if f is not None), default=0.0)
    return max(interval_s, min(floor, MAX_FLOOR_S))


def _number(value: object) -> float | None:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if number == number and number != float("inf") else None
