"""`tracker check`: validate the config and print what it sets up."""

from __future__ import annotations

import click

from tracker.cli.common import (
    config_option,
    echo,
    handle_errors,
    load,
)
from tracker.config.checks import Shrink, shrink_problems
from tracker.config.schema import Config
from tracker.redact import Redactor
from tracker.store.sqlite.peek import active_feed_urls
from tracker.units import format_duration


@click.command()
@config_option
@click.pass_context
@handle_errors
def check(ctx: click.Context) -> None:
    """Validate the config and print what it sets up."""
    config = load(ctx)
    path = ctx.obj["config_path"]
    echo(f"{path}: OK")
    echo(f"  database: {config.database_path}")
    echo(f"  feeds: {len(config.feeds)}")
    for spec in config.feed_specs():
        echo(f"    - {spec.name}  every {format_duration(spec.interval_s)}  {spec.url}")
    echo(f"  topics: {len(config.topics)}")
    for name, topic in config.topics.items():
        echo(f"    - {name}: {' '.join(topic.query.split())}")
    if not config.channels:
        echo("  channels: 0 (alerts are kept in the database and written to the log)")
    else:
        echo(f"  channels: {len(config.channels)}")
        for name, ch in config.channels.items():
            routed = [t for t in config.topics if name in config.routes(t)]
            echo(f"    - {name}: {ch.kind()}, {ch.mode}, topics: {', '.join(routed) or '-'}")
        if config.delivery.admin:
            echo(f"  admin notices: {config.delivery.admin}")
    for shrink in shrink_warnings(config):
        confirm = "; reload with `tracker reload --force`" if shrink.confirmable else ""
        echo(f"warning: {shrink.key}: {shrink.message}{confirm}", err=True)
    if config.feeds and not config.topics:
        echo("warning: topics: none, so articles are stored and nothing alerts", err=True)


def shrink_warnings(config: Config) -> list[Shrink]:
    """What a running daemon would refuse (or want confirmed) in ``config``, judged against
    the feeds its database has active: the database does not know the topics, so an empty
    topic list only counts as a loss next to feeds; no database is a first start."""
    stored = active_feed_urls(config.database_path) or []
    redact = Redactor(config.secrets())
    configured = {_as_stored(spec.url, redact(spec.url)) for spec in config.feed_specs()}
    problems = shrink_problems(
        {url.partition("#redacted-")[0] for url in stored}, (), configured, set(config.topics)
    )
    if not config.feeds and not config.topics and not problems:
        problems.append(
            Shrink("config", "no feeds and no topics: there is nothing to track", False)
        )
    return problems


def _as_stored(url: str, masked: str) -> str:
    """A configured feed URL as the store keeps it (store.sqlite.base.stored_url), without
    the hash suffix of a masked one (the stored side drops it too)."""
    return url if masked == url else masked.partition("#")[0]
