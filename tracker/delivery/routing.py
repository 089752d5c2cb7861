"""Which channels an alert goes to, and when: at once, in a digest, after quiet hours, or
later when its topic is over its rate limit. Nothing is ever dropped, only moved later."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import assert_never
from zoneinfo import ZoneInfo

from tracker.models import Route
from tracker.settings import DeliveryMode, Settings
from tracker.store.facade import Store


def quiet_until(quiet_hours: str | None, timezone: str, now: float) -> float | None:
    """The end of the quiet period ``now`` falls in (UNIX seconds), or None outside one."""
    if not quiet_hours:
        return None
    tz = ZoneInfo(timezone)
    local = datetime.fromtimestamp(now, tz)
    start_s, end_s = quiet_hours.split("-")
    start, end = time.fromisoformat(start_s), time.fromisoformat(end_s)
    t = local.time()
    inside = start <= t < end if start <= end else (t >= start or t < end)
    if not inside:
        return None
    end_dt = datetime.combine(local.date(), end, tz)
    if end_dt <= local:
        end_dt += timedelta(days=1)
    return end_dt.timestamp()


def next_digest_at(mode: DeliveryMode, digest_at: str, timezone: str, now: float) -> float:
    """When the next hourly or daily digest of a channel goes out (UNIX seconds).

    APScheduler's cron trigger does the calendar arithmetic (DST included); the time is
    stored on each delivery, so a digest due while the daemon was down goes out at start.
    """
    from apscheduler.triggers.cron import CronTrigger  # only a digest channel needs it

    tz = ZoneInfo(timezone)
    match mode:
        case DeliveryMode.HOURLY:
            trigger = CronTrigger(minute=0, timezone=tz)
        case DeliveryMode.DAILY:
            hour, minute = (int(p) for p in digest_at.split(":"))
            trigger = CronTrigger(hour=hour, minute=minute, timezone=tz)
        case DeliveryMode.IMMEDIATE:
            return now
        case _:
            assert_never(mode)
    fire = trigger.get_next_fire_time(None, datetime.fromtimestamp(now, tz))
    assert fire is not None  # a cron trigger without an end date always fires again
    return float(fire.timestamp())


class Router:
    """Routes a topic's alerts per the channels, the topics' routes and their rate limits."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def routes(self, topic: str, now: float, store: Store) -> list[Route]:
        """Where and when an alert of ``topic`` goes, matched at ``now``."""
        out = []
        t = self.settings.topics.get(topic)
        rate = t.rate_limit if t is not None else None
        for name in self.settings.routes(topic):
            ch = self.settings.channels.get(name)
            if ch is None:
                continue
            # An immediate alert waits ``story_wait`` for copies of its story from the next
            # polls: it is rendered when sent, naming every outlet known by then.
            digest, not_before = False, now + ch.story_wait_s
            if ch.mode is not DeliveryMode.IMMEDIATE:
                digest, not_before = True, next_digest_at(ch.mode, ch.digest_at, ch.timezone, now)
            quiet_end = quiet_until(ch.quiet_hours, ch.timezone, not_before)
            if quiet_end is not None:
                digest, not_before = True, quiet_end
            if rate and not digest:
                recent = store.recent_deliveries(topic, name, now - rate.period_s)
                if len(recent) >= rate.count:
                    # Over the limit: wait, as part of a digest, until the window has room,
                    # and then still for the end of quiet hours if that falls inside them.
                    digest, not_before = True, recent[-rate.count] + rate.period_s
                    not_before = quiet_until(ch.quiet_hours, ch.timezone, not_before) or not_before
            out.append(Route(name, digest, not_before))
        return out
