"""The command line: click commands; every TrackerError becomes a clear message and exit code."""

from __future__ import annotations

import asyncio
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import config as config_mod
from . import log
from .config import Config
from .daemon import run_forever, run_once
from .errors import ConfigError, TrackerError
from .store import FeedRow, Store
from .units import format_duration

F = TypeVar("F", bound=Callable[..., Any])

EXIT_ERROR = 1
EXIT_CONFIG = 2


def _handle_errors(func: F) -> F:
    """Turn errors into one clear message (no traceback) and a non-zero exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_CONFIG)
        except TrackerError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def _load(ctx: click.Context) -> Config:
    path: Path = ctx.obj["config_path"]
    return config_mod.load(path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default="config.yaml",
    envvar="TRACKER_CONFIG",
    show_default=True,
    help="Config file (or $TRACKER_CONFIG).",
)
@click.version_option(package_name="tracker")
@click.pass_context
def cli(ctx: click.Context, config_path: Path) -> None:
    """tracker: watch news feeds for your topics and send one alert per story."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


@cli.command()
@click.option("--once", is_flag=True, help="Do one full poll cycle, print a summary and exit.")
@click.pass_context
@_handle_errors
def run(ctx: click.Context, once: bool) -> None:
    """Run the daemon (logs to stderr), or one cycle with --once."""
    config = _load(ctx)
    log.setup(config.log_level)
    if once:
        summary = asyncio.run(run_once(config))
        click.echo(summary.render())
        return
    asyncio.run(run_forever(config))


@cli.command()
@click.pass_context
@_handle_errors
def check(ctx: click.Context) -> None:
    """Validate the config and print what it sets up."""
    config = _load(ctx)
    path = ctx.obj["config_path"]
    click.echo(f"{path}: OK")
    click.echo(f"  database: {config.database_path}")
    click.echo(f"  feeds: {len(config.feeds)}")
    for spec in config.feed_specs():
        click.echo(f"    - {spec.name}  every {format_duration(spec.interval_s)}  {spec.url}")
    click.echo(f"  topics: {len(config.topics)}")
    for name, topic in config.topics.items():
        click.echo(f"    - {name}: {topic.query}")
    click.echo("  channels: 0 (alerts are kept in the database and written to the log)")


def _ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "never"
    delta = now - ts
    if delta < 0:
        return "in " + format_duration(round(-delta))
    return format_duration(round(delta)) + " ago"


def _status(row: FeedRow) -> str:
    if not row.active:
        return "removed"
    if row.last_checked_at is None:
        return "new"
    if row.consecutive_errors:
        return f"failing×{row.consecutive_errors}"
    return "ok"


@cli.command()
@click.pass_context
@_handle_errors
def feeds(ctx: click.Context) -> None:
    """Show every feed: status, last success, last error, articles."""
    config = _load(ctx)
    if not config.database_path.exists():
        click.echo(f"no database yet at {config.database_path}: run `tracker run` first")
        return
    store = Store(config.database_path)
    try:
        rows = store.feeds()
    finally:
        store.close()
    now = time.time()
    table = [("FEED", "STATUS", "LAST SUCCESS", "NEXT CHECK", "ARTICLES", "LAST ERROR")]
    for r in rows:
        table.append(
            (
                r.name,
                _status(r),
                _ago(r.last_success_at, now),
                _ago(r.next_check_at, now) if r.active else "-",
                str(r.articles),
                (r.last_error or "")[:80],
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        cells = [cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())


def main() -> None:
    """Console-script entry point."""
    try:
        cli(obj={})
    except Exception as exc:  # last resort: one line, never a traceback
        click.echo(f"error: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(70)
