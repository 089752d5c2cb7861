"""`tracker check`: validate the config and print what it sets up."""

from __future__ import annotations

import click

from tracker.cli.checkjson import check_document
from tracker.cli.clock import utc_option, wants_utc
from tracker.cli.common import (
    config_option,
    echo,
    handle_errors,
    load,
)
from tracker.cli.jsonout import emit
from tracker.cli.mute import mute_state, muted_now
from tracker.config.checks import Shrink, shrink_problems
from tracker.config.lint import config_warnings
from tracker.config.schema import Config
from tracker.redact import Redactor
from tracker.store.sqlite.peek import active_feed_urls
from tracker.units import format_duration


@click.command()
@config_option
@utc_option
@click.option("--json", "as_json", is_flag=True, help="What it sets up as one JSON document.")
@click.pass_context
@handle_errors
def check(ctx: click.Context, as_json: bool) -> None:
    """Validate the config and print what it sets up."""
    config = load(ctx)
    path = ctx.obj["config_path"]
    if as_json:
        emit(check_document(config, path))
        return
    echo(f"{path}: OK")
    for warning in config_warnings(config):
        echo(f"  warning: {warning}")
    echo(f"  database: {config.database_path}")
    echo(f"  feeds: {len(config.feeds)}")
    for spec in config.feed_specs():
        echo(f"    - {spec.name}  every {format_duration(spec.interval_s)}  {spec.url}")
    echo(f"  topics: {len(config.topics)}")
    muted = muted_now(config)
    for name, topic in config.topics.items():
        state = mute_state(config, name, muted, wants_utc(ctx))
        quiet = "" if state == "alerts" else f"  [{state}]"
        echo(f"    - {name}: {' '.join(topic.query.split())}{quiet}")
        if config.channels:
            echo(f"        notify: {', '.join(config.routes(name)) or '-'}")
        for label, values in (("only feeds", topic.feeds), ("only lang", topic.lang)):
            if values:
                echo(f"        {label}: {', '.join(values)}")
        if topic.rate_limit:
            echo(f"        rate limit: {topic.rate_limit} per channel")
    if not config.channels:
        echo("  channels: 0 (alerts are kept in the database and written to the log)")
    else:
        echo(f"  channels: {len(config.channels)}")
        for name, ch in config.channels.items():
            routed = [t for t in config.topics if name in config.routes(t)]
            echo(f"    - {name}: {ch.kind()}, {ch.mode}, topics: {', '.join(routed) or '-'}")
            timing = [f"timezone {ch.timezone}"]
            if ch.mode == "daily":
                timing.insert(0, f"digest at {ch.digest_at}")
            if ch.quiet_hours:
                timing.append(f"quiet hours {ch.quiet_hours}")
            echo(f"        {', '.join(timing)}")
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
