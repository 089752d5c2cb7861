"""`tracker feeds`: every feed's status, last success, last error and articles."""

from __future__ import annotations

import time
from pathlib import Path

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
from tracker.cli.feedshow import feeds_json
from tracker.errors import TrackerError
from tracker.models import HealthStatus
from tracker.store.facade import FeedRow


def _status(row: FeedRow) -> str:
    if not row.active:
        return "removed"
    if row.last_checked_at is None:
        return "new"
    if row.consecutive_errors:
        return f"failing×{row.consecutive_errors}"
    if row.health is HealthStatus.SILENT:
        return "silent"
    return "ok"


def _note(row: FeedRow) -> str:
    """The last column: the last error, and a permanent redirect the config should follow."""
    # Whole: the cause is at the end (`feeds show NAME` has it too).
    notes = [row.last_error] if row.last_error else []
    if row.moved_to and row.active:
        notes.append(f"moved permanently to {row.moved_to}: update the config")
    return "; ".join(notes)


@click.group(invoke_without_command=True)
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed per line.")
@click.pass_context
@handle_errors
def feeds(ctx: click.Context, as_json: bool) -> None:
    """Show every feed: status, last success, last error, articles (`feeds show NAME`: one
    feed in full)."""
    if ctx.invoked_subcommand is not None:
        return  # a subcommand: `feeds show`, `feeds export`
    store = existing_store(load(ctx), required=as_json)
    if store is None:
        return
    now = time.time()
    try:
        rows = store.feeds()
        waits = store.feed_waits(now)
    finally:
        store.close()
    if as_json:
        feeds_json(rows, waits, now)
        return
    table = [("FEED", "STATUS", "LAST SUCCESS", "NEXT CHECK", "ARTICLES", "LAST ERROR")]
    for r in rows:
        table.append(
            (
                r.name,
                _status(r),
                ago(r.last_success_at, now),
                ago(r.next_check_at, now) if r.active else "-",
                str(r.articles),
                _note(r),
            )
        )
    print_table(table)


@feeds.command("export")
@config_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the OPML to this file (default: standard output).",
)
@click.pass_context
@handle_errors
def export(ctx: click.Context, out: Path | None) -> None:
    """Write the configured feeds as OPML 2.0 (names, URLs, tags as categories)."""
    from tracker.config.opml import to_opml

    config = load(ctx)
    text = to_opml((f.url, f.display_name, f.tags) for f in config.feeds)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise TrackerError(f"cannot write {out}: {exc.strerror or exc}") from exc
    echo(f"{len(config.feeds)} feeds written to {out}")
