"""Routing: digests, quiet hours and rate limits move alerts later, never drop them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tracker.config import loader as config_mod
from tracker.config.settings import to_settings
from tracker.delivery.routing import Router, next_digest_at, quiet_until
from tracker.models import Article, FeedSpec, Route, TopicHit
from tracker.settings import DeliveryMode
from tracker.store.facade import Store

MX = ZoneInfo("America/Mexico_City")


def _ts(text: str, tz: ZoneInfo = MX) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


DAILY, HOURLY, MX = DeliveryMode.DAILY, DeliveryMode.HOURLY, "America/Mexico_City"


def test_next_digest_times() -> None:
    now = _ts("2026-11-28 07:30")
    assert next_digest_at(DAILY, "08:00", MX, now) == _ts("2026-11-28 08:00")
    later = _ts("2026-11-28 08:00:01")
    assert next_digest_at(DAILY, "08:00", MX, later) == _ts("2026-11-29 08:00")
    assert next_digest_at(HOURLY, "08:00", MX, now) == _ts("2026-11-28 08:00")


def test_quiet_hours_across_midnight() -> None:
    tz = "America/Mexico_City"
    assert quiet_until("22:00-07:00", tz, _ts("2026-11-28 23:30")) == _ts("2026-11-29 07:00")
    assert quiet_until("22:00-07:00", tz, _ts("2026-11-28 03:00")) == _ts("2026-11-28 07:00")
    assert quiet_until("22:00-07:00", tz, _ts("2026-11-28 12:00")) is None
    assert quiet_until("12:00-13:00", tz, _ts("2026-11-28 12:30")) == _ts("2026-11-28 13:00")
    assert quiet_until(None, tz, _ts("2026-11-28 12:30")) is None


def _setup(tmp_path: Path, channels: str, topic_extra: str = "") -> tuple[Router, Store]:
    cfg = config_mod.parse(
        "feeds: [{url: 'https://a.example/rss'}]\n"
        f"topics:\n  wall:\n    query: wall\n{topic_extra}"
        f"channels:\n{channels}",
        tmp_path,
    )
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec("https://a.example/rss", "a", 60)], now=0)
    return Router(to_settings(cfg)), store


def _queue_alerts(router: Router, store: Store, times: list[float]) -> list[Route]:
    """A "wall" article matched and routed at each of ``times``, as the pipeline does."""
    (feed,) = store.due_feeds(0, 1)
    routes = []
    for i, now in enumerate(times):
        with store.transaction():
            art = Article(f"k{i}", f"https://x/{i}", f"https://x/{i}", "wall", "", "", None, None)
            aid, _ = store.add_entry(feed.id, art, now)
            (m,) = store.add_matches(aid, [TopicHit("wall")], True, now)
            (route,) = router.routes("wall", now, store)
            store.add_delivery(m.match_id, f"key{i}", route, now)
            routes.append(route)
    return routes


HOOK = "  hook:\n    type: webhook\n    url: https://h.example/x\n"


def test_immediate_quiet_and_digest_routes(tmp_path: Path) -> None:
    router, store = _setup(
        tmp_path,
        HOOK + "    quiet_hours: '22:00-07:00'\n    timezone: America/Mexico_City\n"
        "  daily:\n    type: webhook\n    url: https://h.example/y\n    mode: daily\n"
        "    digest_at: '08:00'\n    timezone: America/Mexico_City\n",
    )
    noon = _ts("2026-11-28 12:00")
    assert router.routes("wall", noon, store) == [
        Route("hook", False, noon),
        Route("daily", True, _ts("2026-11-29 08:00")),
    ]
    night = _ts("2026-11-28 23:00")
    assert router.routes("wall", night, store)[0] == Route("hook", True, _ts("2026-11-29 07:00"))


def test_rate_limit_moves_the_excess_into_a_digest(tmp_path: Path) -> None:
    router, store = _setup(tmp_path, HOOK, "    rate_limit: 2/h\n")
    routes = _queue_alerts(router, store, [1000.0 + i for i in range(4)])
    assert [r.digest for r in routes] == [False, False, True, True]
    assert routes[2].not_before == 1000.0 + 3600  # when the first of the two leaves the window
    assert store.count("deliveries") == 4  # nothing dropped


def test_a_rate_limited_alert_never_lands_inside_quiet_hours(tmp_path: Path) -> None:
    router, store = _setup(
        tmp_path,
        HOOK + "    quiet_hours: '22:00-07:00'\n    timezone: America/Mexico_City\n",
        "    rate_limit: 1/h\n",
    )
    routes = _queue_alerts(router, store, [_ts("2026-11-28 21:30"), _ts("2026-11-28 21:50")])
    # The window has room at 22:30, inside quiet hours: it waits for their end.
    assert routes[1] == Route("hook", True, _ts("2026-11-29 07:00"))


def test_notify_lists_and_unknown_channels(tmp_path: Path) -> None:
    cfg = config_mod.parse(
        "topics:\n  a: {query: x, notify: [hook]}\n  b: {query: y}\n"
        f"channels:\n{HOOK}  other:\n    type: webhook\n    url: https://h.example/z\n"
        "delivery: {notify: [other]}\n",
        tmp_path,
    )
    assert cfg.routes("a") == ["hook"] and cfg.routes("b") == ["other"]
    try:
        config_mod.parse(f"topics:\n  a: {{query: x, notify: [nope]}}\nchannels:\n{HOOK}", tmp_path)
    except config_mod.ConfigError as exc:
        assert "topics.a.notify[0]: no channel named 'nope' (channels: hook)" in str(exc)
    else:
        raise AssertionError("unknown channel accepted")
