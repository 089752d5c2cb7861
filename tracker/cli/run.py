"""`tracker run`: the daemon, or one cycle with --once."""

from __future__ import annotations

import asyncio

import click

from tracker import log
from tracker.cli.common import (
    config_option,
    echo,
    handle_errors,
    load,
)
from tracker.cli.progress import PollProgress, on_terminal
from tracker.config.settings import to_settings
from tracker.errors import ConfigError
from tracker.redact import Redactor
from tracker.service.daemon import run_forever, run_once
from tracker.store.sqlite.peek import active_feed_urls


@click.command()
@config_option
@click.option("--once", is_flag=True, help="Do one full poll cycle, print a summary and exit.")
@click.option("--quiet", "-q", is_flag=True, help="With --once: no summary, no progress.")
@click.option(
    "--init",
    is_flag=True,
    help="Start a new database although traces of an old one (-wal, -shm, .lock) remain.",
)
@click.pass_context
@handle_errors
def run(ctx: click.Context, once: bool, quiet: bool, init: bool) -> None:
    """Run the daemon (logs to stderr), or one cycle with --once."""
    config = load(ctx)
    if (
        not config.feeds
        and not config.topics
        and (active := active_feed_urls(config.database_path))
    ):
        # Starting would retire every feed, and restoring the file later re-baselines them
        # all: what they published meanwhile would never alert.
        raise ConfigError(
            f"{ctx.obj['config_path']}: no feeds and no topics, but {config.database_path}"
            f" has {len(active)} active feed{'s' if len(active) != 1 else ''}: not started",
            hint="an empty or truncated file? restore it; to start afresh, use another database",
        )
    settings = to_settings(config)
    log.setup(settings.log_level, Redactor(settings.secrets))
    if once:
        # Progress only on a terminal: a pipe, a file or journald gets nothing extra.
        progress = PollProgress() if on_terminal() and not quiet else None
        try:
            summary = asyncio.run(run_once(settings, progress, init))
        finally:
            if progress is not None:
                progress.close()
        if not quiet:
            echo(summary.render())
        return
    if quiet:
        raise click.UsageError("--quiet goes with --once")
    asyncio.run(run_forever(ctx.obj["config_path"], settings, init))
