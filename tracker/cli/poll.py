"""`tracker poll [FEED...]`: poll now. The database is the schedule, so this moves the
feeds' `next_check_at` to now; a running daemon polls them at its next tick (1 s), without
the CLI taking its lock. A server's Retry-After is respected unless --force."""

from __future__ import annotations

import time

import click

from tracker.cli.clock import stamp, utc_option, wants_utc
from tracker.cli.common import config_option, echo, existing_store, handle_errors, load


@click.command()
@config_option
@utc_option
@click.argument("feeds", nargs=-1)
@click.option("--force", is_flag=True, help="Also poll feeds a server asked to wait (Retry-After).")
@click.pass_context
@handle_errors
def poll(ctx: click.Context, feeds: tuple[str, ...], force: bool) -> None:
    """Make FEED... (names or URLs; default: every feed) due now for the running daemon, or
    for the next `tracker run`."""
    config = load(ctx)
    store = existing_store(config, required=True)
    assert store is not None
    now = time.time()
    utc = wants_utc(ctx)
    try:
        waits = store.feed_waits(now)
        by_name = {w.name: w for w in waits}
        by_url = {w.url: w for w in waits}
        for spec in config.feed_specs():  # a configured URL, even one stored masked
            stored = store.stored_url(spec.url)
            if stored in by_url:
                by_url[spec.url] = by_url[stored]
        chosen = list(waits)
        if feeds:
            unknown = [f for f in feeds if f not in by_name and f not in by_url]
            if unknown:
                known = ", ".join(by_name) or "none"
                raise click.BadParameter(
                    f"no active feed named {', '.join(map(repr, unknown))} (feeds: {known})",
                    param_hint="FEED",
                )
            chosen = list({w.id: w for w in (by_name.get(f) or by_url[f] for f in feeds)}.values())
        held = [w for w in chosen if w.hold_until is not None and not force]
        ready = [w for w in chosen if w not in held]
        moved = store.poll_now([w.id for w in ready], now, force=force)
    finally:
        store.close()
    for w in held:
        assert w.hold_until is not None
        echo(
            f"  held {w.name}: the server asked to wait (Retry-After) until"
            f" {stamp(w.hold_until, utc)}; --force polls it anyway"
        )
    echo(
        f"{moved} {'feed' if moved == 1 else 'feeds'} due now"
        + (f", {len(held)} held" if held else "")
        + " (the running daemon polls them within a second; otherwise the next `tracker run`)"
    )
