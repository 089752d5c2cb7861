"""One backoff policy for everything that retries, and the Retry-After header it honours.

Feeds (after a failed poll) and deliveries (after a failed send) each use a named
configuration of the one ``Backoff``: ``feed_backoff`` and ``delivery_backoff``. Their
numbers differ on purpose and live side by side here so that they cannot drift apart by
accident.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Jitter:
    """Random spread, so that many retries (or polls) do not come back at the same moment.

    ``scale``: the backoff is multiplied by ``uniform(low, high)`` (a server's Retry-After is
    not). ``add_s``: ``uniform(0, add_s)`` is added to the whole wait, Retry-After included.
    """

    scale: tuple[float, float] | None = None
    add_s: float | None = None


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: ``base_s × 2^(failures−1)`` up to ``max_s``, jittered, and never
    sooner than a server's Retry-After (believed up to ``retry_after_cap_s``).

    ``max_doublings`` bounds the exponent (None: only ``max_s`` bounds the wait).
    """

    base_s: float
    max_s: float
    retry_after_cap_s: float
    jitter: Jitter
    max_doublings: int | None = None

    def delay(self, failures: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait after ``failures`` consecutive failures (0 or 1: ``base_s``)."""
        doublings = max(failures - 1, 0)
        if self.max_doublings is not None:
            doublings = min(doublings, self.max_doublings)
        wait = min(self.base_s * 2**doublings, self.max_s)
        if self.jitter.scale is not None:
            wait *= random.uniform(*self.jitter.scale)
        if retry_after_s is not None:
            wait = max(wait, self.retry_after_cap(retry_after_s))
        if self.jitter.add_s is not None:
            wait += random.uniform(0, self.jitter.add_s)
        return float(wait)

    def retry_after_cap(self, retry_after_s: float) -> float:
        """A server's Retry-After as far as we believe it: a week-long (or absurd) one must
        not silence a feed or a channel for ever."""
        return min(retry_after_s, self.retry_after_cap_s)


# Feeds: a failing feed is tried at most once a day (or once per interval, if longer),
# and a server may ask for up to a week's rest.
FEED_MAX_BACKOFF_S = 86400.0
FEED_RETRY_AFTER_CAP_S = 7 * 86400.0
# At most 2^10 × the interval: the day's cap binds first for intervals over 84 s.
FEED_MAX_DOUBLINGS = 10

# Deliveries: an alert is late after a day, whatever the receiver asked for.
DELIVERY_RETRY_AFTER_CAP_S = 86400.0
DELIVERY_JITTER = (0.8, 1.2)  # spreads the retries of a whole failed batch


def feed_backoff(interval_s: float, jitter_s: float) -> Backoff:
    """A feed's schedule: its interval, doubled per consecutive failure up to a day (or
    the interval), plus up to ``jitter_s`` seconds; a Retry-After holds up to 7 days."""
    return Backoff(
        base_s=interval_s,
        max_s=max(interval_s, FEED_MAX_BACKOFF_S),
        retry_after_cap_s=FEED_RETRY_AFTER_CAP_S,
        jitter=Jitter(add_s=jitter_s),
        max_doublings=FEED_MAX_DOUBLINGS,
    )


def delivery_backoff(base_s: float, max_s: float) -> Backoff:
    """A delivery's retries: ``base_s`` doubled per attempt up to ``max_s``, ×0.8–1.2; a
    Retry-After holds up to a day."""
    return Backoff(
        base_s=base_s,
        max_s=max_s,
        retry_after_cap_s=DELIVERY_RETRY_AFTER_CAP_S,
        jitter=Jitter(scale=DELIVERY_JITTER),
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not "²", which isdigit() also accepts
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now_dt = datetime.fromtimestamp(now if now is not None else time.time(), tz=UTC)
    return max(0.0, (when - now_dt).total_seconds())
