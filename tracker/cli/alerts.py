"""`tracker alerts`: recent deliveries, and `alerts retry`."""

from __future__ import annotations

import time

import click

from tracker.cli.common import (
    ago,
    config_option,
    echo,
    existing_store,
    handle_errors,
    load,
    print_table,
)
from tracker.models import DeliveryStatus


@click.group(invoke_without_command=True)
@config_option
@click.option("--status", type=click.Choice(["pending", "sent", "dead"]), help="Only these.")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=30, show_default=True)
@click.pass_context
@handle_errors
def alerts(ctx: click.Context, status: str | None, limit: int) -> None:
    """Recent deliveries: channel, topic, status, attempts, last error."""
    if ctx.invoked_subcommand is not None:
        return
    store = existing_store(load(ctx))
    if store is None:
        return
    try:
        rows = store.deliveries(limit, DeliveryStatus(status) if status else None)
        counts = store.delivery_counts()
    finally:
        store.close()
    now = time.time()
    table = [("ID", "CREATED", "CHANNEL", "TOPIC", "STATUS", "TRIES", "TITLE", "LAST ERROR")]
    for r in rows:
        state: str = r.status
        if r.status is DeliveryStatus.PENDING:
            when = max(r.not_before, r.next_attempt_at)
            state = f"pending ({'digest ' if r.digest else ''}{ago(when, now)})"
        table.append(
            (
                str(r.id),
                ago(r.created_at, now),
                r.channel,
                r.topic,
                state,
                str(r.attempts),
                r.title[:50],
                (r.last_error or "")[:100],
            )
        )
    print_table(table)
    echo(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no deliveries yet")


@alerts.command("retry")
@config_option
@click.argument("ids", nargs=-1, type=int)
@click.option("--dead", "all_dead", is_flag=True, help="Every dead-lettered delivery.")
@click.pass_context
@handle_errors
def alerts_retry(ctx: click.Context, ids: tuple[int, ...], all_dead: bool) -> None:
    """Queue deliveries again (ID..., or --dead), due now with their attempts reset."""
    if bool(ids) == all_dead:
        raise click.UsageError("give delivery IDs or --dead (one of them)")
    store = existing_store(load(ctx), required=True, write=True)
    assert store is not None
    try:
        n = store.retry_deliveries(ids, all_dead=all_dead, now=time.time())
    finally:
        store.close()
    echo(
        f"{n} {'delivery' if n == 1 else 'deliveries'} queued again"
        " (sent by the running daemon, or by the next `tracker run --once`)"
    )
