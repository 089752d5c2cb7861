"""`tracker alerts cancel ID...`: pending deliveries that should not go out after all."""

from __future__ import annotations

import click

from tracker.cli.common import EXIT_ERROR, config_option, echo, existing_store, handle_errors, load


@click.command("cancel")
@config_option
@click.argument("ids", nargs=-1, type=click.IntRange(min=1), required=True)
@click.pass_context
@handle_errors
def alerts_cancel(ctx: click.Context, ids: tuple[int, ...]) -> None:
    """Cancel pending deliveries (IDs from `tracker alerts`); a running daemon skips them.

    Those pending are cancelled; any other ID (sent, dead, cancelled, unknown) is named and
    the exit code is 1."""
    store = existing_store(load(ctx), required=True)
    assert store is not None
    try:
        refused = store.cancel_deliveries(list(dict.fromkeys(ids)))
    finally:
        store.close()
    done = len(set(ids)) - len(refused)
    echo(f"{done} {'delivery' if done == 1 else 'deliveries'} cancelled")
    if refused:
        names = ", ".join(f"#{i}" for i in refused)
        echo(f"error: not pending (sent, dead, cancelled or unknown): {names}", err=True)
        ctx.exit(EXIT_ERROR)
