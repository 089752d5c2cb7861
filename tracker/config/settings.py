"""The validated config as plain settings (tracker.settings): built once per load.

Only config knows pydantic; everything below it is handed the result of ``to_settings``.
Work that would otherwise be repeated per feed or per alert happens here, once: feed auth
by URL, topic routes, rate limits parsed.
"""

from __future__ import annotations

from tracker.config.schema import Config, parse_rate
from tracker.heap import paused_gc
from tracker.settings import (
    DeliverySettings,
    FeedDefaults,
    FeedHealthSettings,
    FetchSettings,
    ParseSettings,
    RateLimit,
    Settings,
    TopicSettings,
)


def to_settings(config: Config) -> Settings:
    """Everything tracker runs on, from a validated config."""
    with paused_gc():  # 100,000 feeds: see paused_gc
        return _to_settings(config)


def _to_settings(config: Config) -> Settings:
    d, f, dl, h = config.defaults, config.fetch, config.delivery, config.feed_health
    specs = {t.name: t for t in config.topic_specs()}
    topics = {}
    for name, topic in config.topics.items():
        rate = RateLimit(*parse_rate(topic.rate_limit)) if topic.rate_limit else None
        notify = tuple(topic.notify) if topic.notify is not None else None
        topics[name] = TopicSettings(
            specs[name], tuple(config.routes(name)), rate, notify,
            updates=topic.updates, updates_outlets=topic.updates_outlets,
        )  # fmt: skip
    return Settings(
        database=config.database_path,
        log_level=config.log_level,
        defaults=FeedDefaults(d.interval, d.jitter, d.max_age, d.alert_on_first_poll),
        fetch=FetchSettings(
            concurrency=f.concurrency,
            timeout_s=f.timeout,
            deadline_s=f.deadline,
            max_bytes=f.max_bytes,
            max_redirects=f.max_redirects,
            user_agent=f.user_agent,
            allow_private_redirects=f.allow_private_redirects,
            per_host=f.per_host,
            host_spacing_s=f.host_spacing,
            honour_ttl=f.honour_ttl,
        ),
        feeds=tuple(config.feed_specs()),
        feed_auth=config.feed_auth_map(),
        lists={name: tuple(items) for name, items in config.lists.items()},
        topics=topics,
        channels={name: ch.settings() for name, ch in config.channels.items()},
        delivery=DeliverySettings(
            max_attempts=dl.max_attempts,
            retry_base_s=dl.retry_base,
            retry_max_s=dl.retry_max,
            notify=tuple(dl.notify) if dl.notify is not None else None,
            admin=dl.admin,
        ),
        feed_health=FeedHealthSettings(h.fail_after, h.silent_factor, h.min_silence),
        metrics_listen=config.metrics.listen,
        secrets=tuple(config.secrets()),
        parse=ParseSettings(config.parse.timeout, config.parse.max_memory),
        stories_window_s=config.stories.window,
        web_listen=config.web.listen,
        web_token=config.web.token.get_secret_value() if config.web.token else None,
    )
