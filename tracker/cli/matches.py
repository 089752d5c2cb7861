"""`tracker matches`: what matched recently, where and why (with or without channels)."""

from __future__ import annotations

import time

import click

from tracker.cli.clock import stamp, utc_option, wants_utc
from tracker.cli.common import config_option, echo, existing_store, handle_errors, load
from tracker.cli.jsonout import emit_lines, iso
from tracker.store.facade import MatchRow


def match_record(row: MatchRow) -> dict[str, object]:
    """The documented `tracker matches --json` record."""
    return {
        "id": row.id,
        "time": iso(row.created_at),
        "topic": row.topic,
        "feed": row.feed,
        "title": row.title,
        "link": row.url,
        "published": iso(row.published_at),
        "terms": list(row.terms),
        "snippet": row.snippet,
        "alerted": row.alert,
    }


@click.command()
@config_option
@utc_option
@click.option("--topic", "-t", help="Only this topic's matches.")
@click.option("--feed", "-f", help="Only articles this feed (by name) brought.")
@click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True),
    default=7.0,
    show_default=True,
    help="How far back to look (by when the match was stored).",
)
@click.option("--limit", "-n", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per match per line.")
@click.pass_context
@handle_errors
def matches(
    ctx: click.Context,
    topic: str | None,
    feed: str | None,
    days: float,
    limit: int,
    as_json: bool,
) -> None:
    """Recent matches, newest first: time, topic, feed, title, link and why."""
    config = load(ctx)
    if topic is not None and topic not in config.topics:
        known = ", ".join(config.topics) or "none"
        raise click.BadParameter(
            f"no topic named '{topic}' (configured: {known})", param_hint="--topic"
        )
    store = existing_store(config, required=as_json)
    if store is None:
        return
    try:
        rows = store.recent_matches(time.time() - days * 86400, limit, topic, feed)
    finally:
        store.close()
    if as_json:
        emit_lines(match_record(r) for r in rows)
        return
    utc = wants_utc(ctx)
    for r in rows:
        quiet = "" if r.alert else "  (no alert: first poll, old, or muted)"
        echo(f"{stamp(r.created_at, utc)}  [{r.topic}] {r.title}  ({r.feed}){quiet}")
        if r.url:
            echo(f"    {r.url}")
        echo(f"    why: {', '.join(r.terms)}")
        if r.snippet:
            echo(f"    {r.snippet}")
    scope = " ".join(
        p for p in (f"topic {topic}" if topic else "", f"feed {feed}" if feed else "") if p
    )
    shown = f"{len(rows)} {'match' if len(rows) == 1 else 'matches'}"
    more = f" (the newest {limit}; more with -n)" if len(rows) == limit else ""
    echo(f"{shown}{' for ' + scope if scope else ''} in the last {days:g} days{more}")
