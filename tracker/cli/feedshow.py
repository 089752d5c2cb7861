"""`tracker feeds show NAME` (one feed in full: whole last error, polls as the store records
them, why it waits and until when) and the `tracker feeds --json` records."""

from __future__ import annotations

import time

import click

from tracker.cli.clock import stamp, utc_option, wants_utc
from tracker.cli.common import ago, config_option, echo, existing_store, handle_errors, load
from tracker.cli.jsonout import emit, emit_lines, iso
from tracker.config.schema import Config
from tracker.models import HealthStatus
from tracker.store.facade import FeedDetail, FeedRow, FeedWait, Store
from tracker.units import format_duration

# How many of the feed's last polls that brought new entries `feeds show` lists.
RECENT_POLLS = 10


def feed_status(active: bool, checked: float | None, errors: int, health: HealthStatus) -> str:
    """new, ok, failing×N, silent or removed (as the `tracker feeds` table shows it)."""
    if not active:
        return "removed"
    if checked is None:
        return "new"
    if errors:
        return f"failing×{errors}"
    if health is HealthStatus.SILENT:
        return "silent"
    return "ok"


def waits_why(
    active: bool, next_at: float, errors: int, hold_until: float | None, now: float, utc: bool
) -> str:
    """Why a feed is not polled before its next check, in words, with the time."""
    if not active:
        return "not polled: removed from the config"
    if hold_until is not None and hold_until > now:
        return f"the server asked to wait (Retry-After) until {stamp(hold_until, utc)}"
    if next_at <= now:
        return "due now"
    if errors:
        return (
            f"backing off after {errors} failed {'poll' if errors == 1 else 'polls'}:"
            f" next try {stamp(next_at, utc)} ({ago(next_at, now)})"
        )
    return f"next regular check {stamp(next_at, utc)} ({ago(next_at, now)})"


def feeds_json(rows: list[FeedRow], waits: list[FeedWait], now: float) -> None:
    """The documented `tracker feeds --json` records, one per line."""
    holds = {w.url: w.hold_until for w in waits}
    emit_lines(
        {
            "name": r.name,
            "url": r.url,
            "active": r.active,
            "status": feed_status(r.active, r.last_checked_at, r.consecutive_errors, r.health),
            "health": str(r.health),
            "last_checked": iso(r.last_checked_at),
            "last_success": iso(r.last_success_at),
            "next_check": iso(r.next_check_at) if r.active else None,
            "hold_until": iso(holds.get(r.url)),
            "consecutive_errors": r.consecutive_errors,
            "last_status": r.last_status,
            "last_error": r.last_error,
            "articles": r.articles,
        }
        for r in rows
    )


def _detail_json(d: FeedDetail, polls: list[tuple[float, int]], now: float) -> dict[str, object]:
    return {
        "name": d.name,
        "url": d.url,
        "active": d.active,
        "status": feed_status(d.active, d.last_checked_at, d.consecutive_errors, d.health),
        "health": str(d.health),
        "last_checked": iso(d.last_checked_at),
        "last_success": iso(d.last_success_at),
        "last_status": d.last_status,
        "last_error": d.last_error,
        "consecutive_errors": d.consecutive_errors,
        "next_check": iso(d.next_check_at) if d.active else None,
        "hold_until": iso(d.hold_until if d.hold_until and d.hold_until > now else None),
        "waits": waits_why(
            d.active, d.next_check_at, d.consecutive_errors, d.hold_until, now, True
        ),
        "conditional_get": d.has_validators,
        "baseline_done": d.baseline_done,
        "added": iso(d.created_at),
        "removed": iso(d.retired_at) if not d.active else None,
        "articles": d.articles,
        "matches": d.matches,
        "polls_with_new_entries": [{"time": iso(t), "new_entries": n} for t, n in polls],
    }


@click.command("show")
@config_option
@utc_option
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@click.pass_context
@handle_errors
def feeds_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """One feed in full (NAME or URL): status, the whole last error, recent polls, and why
    it waits and until when."""
    config = load(ctx)
    store = existing_store(config, required=True)
    assert store is not None
    try:
        detail, polls = _read(store, name)
    finally:
        store.close()
    if detail is None and any(name in (f.display_name, f.url) for f in config.feeds):
        echo(f"{name}: in the config, not in the database yet (`tracker run` adds and polls it)")
        return
    if detail is None:
        known = ", ".join(f.display_name for f in config.feeds) or "none"
        raise click.BadParameter(f"no feed named '{name}' (feeds: {known})", param_hint="NAME")
    now = time.time()
    if as_json:
        emit(_detail_json(detail, polls, now))
        return
    utc = wants_utc(ctx)

    def when(ts: float | None) -> str:
        return "never" if ts is None else f"{stamp(ts, utc)} ({ago(ts, now)})"

    d = detail
    status = feed_status(d.active, d.last_checked_at, d.consecutive_errors, d.health)
    lines = [
        f"{d.name}",
        f"  url:           {d.url}",
        f"  status:        {status}" + (f" (health: {d.health})" if d.health != "ok" else ""),
        f"  added:         {when(d.created_at)}",
        f"  last check:    {when(d.last_checked_at)}"
        + (f", HTTP {d.last_status}" if d.last_status else ""),
        f"  last success:  {when(d.last_success_at)}",
        f"  waits:         {_waits(d, now, utc)}",
        f"  conditional GET: {'yes (ETag/Last-Modified stored)' if d.has_validators else 'no'}",
        f"  articles:      {d.articles} ({d.matches} matched)",
    ]
    if d.consecutive_errors:
        lines.append(f"  failed polls in a row: {d.consecutive_errors}")
    if d.last_error:
        lines.append("  last error:")
        lines += [f"    {line}" for line in d.last_error.splitlines() or [""]]
    if polls:
        lines.append(f"  polls that brought new entries (last {len(polls)}):")
        lines += [
            f"    {stamp(t, utc)}: {n} new {'entry' if n == 1 else 'entries'}" for t, n in polls
        ]
    else:
        lines.append("  no poll has brought new entries yet")
    lines.append(
        "  (the store keeps each feed's last poll and the polls that brought new entries;"
        f" checked every {format_duration(_interval(config, d.url, d.name))})"
    )
    echo("\n".join(lines))


def _waits(d: FeedDetail, now: float, utc: bool) -> str:
    return waits_why(d.active, d.next_check_at, d.consecutive_errors, d.hold_until, now, utc)


def _interval(config: Config, url: str, name: str) -> float:
    for spec in config.feed_specs():
        if spec.url == url or spec.name == name:
            return spec.interval_s
    return config.defaults.interval


def _read(store: Store, name: str) -> tuple[FeedDetail | None, list[tuple[float, int]]]:
    detail = store.feed_detail(name)
    if detail is None:
        return None, []
    return detail, store.new_entry_polls(detail.id, RECENT_POLLS)
