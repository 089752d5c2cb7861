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
from tracker.config.lint import config_warnings
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
