"""`tracker topics mute` / `unmute` and the `tracker topics` listing: a mute lives in the
database, so a running daemon honours it at its next match and it survives reloads."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from tracker.cli.clock import stamp, utc_option, wants_utc
from tracker.cli.common import config_option, echo, handle_errors, load, print_table
from tracker.config.schema import Config
from tracker.redact import Redactor
from tracker.store.sqlite import peek
from tracker.units import format_duration, parse_duration

if TYPE_CHECKING:
    from tracker.store.facade import Store


def open_store(config: Config) -> Store:
    """The database, created if no run has yet: a mute may come before the first run."""
    from tracker.store.facade import Store  # sqlite-utils: not for `check`

    return Store(config.database_path, Redactor(config.secrets()))


def muted_now(config: Config) -> dict[str, float | None]:
    """Topics muted in the database now (none when there is no database yet), read-only."""
    return peek.muted_topics(config.database_path, time.time())


def mute_state(config: Config, topic: str, muted: dict[str, float | None], utc: bool) -> str:
    """How a topic alerts now, in words: alerts, muted (until when), or `notify: []`."""
    t = config.topics.get(topic)
    if t is not None and t.notify == []:
        return "never alerts (notify: [])"
    if topic in muted:
        until = muted[topic]
        return "muted" if until is None else f"muted until {stamp(until, utc)}"
    return "alerts"


def _known(config: Config, topic: str) -> None:
    if topic not in config.topics:
        known = ", ".join(config.topics) or "none"
        raise click.BadParameter(
            f"no topic named '{topic}' (configured: {known})", param_hint="TOPIC"
        )


@click.command("mute")
@config_option
@utc_option
@click.argument("topic")
@click.option(
    "--for",
    "duration",
    help="How long (30m, 12h, 1d, 1h30m); default: until `topics unmute`.",
)
@click.pass_context
@handle_errors
def topics_mute(ctx: click.Context, topic: str, duration: str | None) -> None:
    """Mute TOPIC: its matches are still stored (see `tracker matches`), but queue no alert."""
    config = load(ctx)
    _known(config, topic)
    now = time.time()
    until = None
    if duration is not None:
        try:
            seconds = parse_duration(duration)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--for") from exc
        if seconds <= 0:
            raise click.BadParameter("must be longer than 0s", param_hint="--for")
        until = now + seconds
    store = open_store(config)
    try:
        store.mute_topic(topic, until, now)
    finally:
        store.close()
    if until is None:
        echo(f"{topic}: muted until `tracker topics unmute {topic}`")
    else:
        echo(
            f"{topic}: muted for {format_duration(round(until - now))},"
            f" until {stamp(until, wants_utc(ctx))}"
        )


@click.command("unmute")
@config_option
@click.argument("topic")
@click.pass_context
@handle_errors
def topics_unmute(ctx: click.Context, topic: str) -> None:
    """Let TOPIC alert again (from its next match on)."""
    config = load(ctx)
    _known(config, topic)
    if not config.database_path.exists():
        echo(f"{topic}: was not muted")
        return
    store = open_store(config)
    try:
        was = store.unmute_topic(topic)
    finally:
        store.close()
    echo(f"{topic}: {'unmuted' if was else 'was not muted'}")


def list_topics(ctx: click.Context) -> None:
    """Every configured topic: its routes and whether it alerts, is muted or never alerts."""
    config = load(ctx)
    muted = muted_now(config)
    utc = wants_utc(ctx)
    table = [("TOPIC", "NOTIFY", "STATE", "QUERY")]
    for name, topic in config.topics.items():
        routes = ", ".join(config.routes(name)) or "-"
        query = " ".join(topic.query.split())
        table.append((name, routes, mute_state(config, name, muted, utc), query))
    if len(table) == 1:
        echo("no topics configured")
        return
    print_table(table)
