"""`tracker alerts`: recent deliveries, and `alerts retry`."""

from __future__ import annotations

import time

import click

from tracker.cli.common import (
    config_option,
    echo,
    existing_store,
    handle_errors,
    load,
)
from tracker.cli.deliveries import delivery_record, print_deliveries
from tracker.cli.jsonout import emit_lines
from tracker.errors import TrackerError
from tracker.models import DeliveryStatus


@click.group(invoke_without_command=True)
@config_option
@click.option("--status", type=click.Choice([s.value for s in DeliveryStatus]), help="Only these.")
@click.option("--topic", "-t", help="Only this topic's deliveries (`admin`: notices).")
@click.option("--channel", help="Only deliveries to this channel.")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per delivery per line.")
@click.pass_context
@handle_errors
def alerts(
    ctx: click.Context,
    status: str | None,
    topic: str | None,
    channel: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Recent deliveries: channel, topic, status, attempts, feed, title, link, last error."""
    if ctx.invoked_subcommand is not None:
        return
    store = existing_store(load(ctx), required=as_json)
    if store is None:
        return
    try:
        rows = store.delivery_views(
            limit, DeliveryStatus(status) if status else None, topic, channel
        )
        counts = store.delivery_counts()
    finally:
        store.close()
    if as_json:
        emit_lines(delivery_record(r) for r in rows)
        return
    print_deliveries(rows, time.time())
    echo(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no deliveries yet")


@alerts.command("retry")
@config_option
# SQLite's INTEGER range: a larger number is a usage error, not an overflow deep inside.
@click.argument("ids", nargs=-1, type=click.IntRange(min=1, max=2**63 - 1))
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
        if ids:
            _refuse_unknown(ids, store.delivery_statuses(ids))
        n = store.retry_deliveries(ids, all_dead=all_dead, now=time.time())
    finally:
        store.close()
    echo(
        f"{n} {'delivery' if n == 1 else 'deliveries'} queued again"
        " (sent by the running daemon, or by the next `tracker run --once`)"
    )


def _refuse_unknown(ids: tuple[int, ...], statuses: dict[int, DeliveryStatus]) -> None:
    """All or nothing: an ID no delivery has (a typo) or one already sent queues none."""
    missing = sorted({i for i in ids if i not in statuses})
    sent = sorted({i for i in ids if statuses.get(i) is DeliveryStatus.SENT})
    parts = []
    if missing:
        parts.append(f"no delivery {_ids(missing)}")
    if sent:
        parts.append(f"already sent: {_ids(sent)}")
    if parts:
        raise TrackerError(
            "; ".join(parts) + ": nothing queued", hint="`tracker alerts` lists the IDs"
        )


def _ids(ids: list[int]) -> str:
    shown = ", ".join(map(str, ids[:10]))
    return shown + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
