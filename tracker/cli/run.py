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
from tracker.config.settings import to_settings
from tracker.redact import Redactor
from tracker.service.daemon import run_forever, run_once


@click.command()
@config_option
@click.option("--once", is_flag=True, help="Do one full poll cycle, print a summary and exit.")
@click.option(
    "--init",
    is_flag=True,
    help="Start a new database although traces of an old one (-wal, -shm, .lock) remain.",
)
@click.pass_context
@handle_errors
def run(ctx: click.Context, once: bool, init: bool) -> None:
    """Run the daemon (logs to stderr), or one cycle with --once."""
    settings = to_settings(load(ctx))
    log.setup(settings.log_level, Redactor(settings.secrets))
    if once:
        summary = asyncio.run(run_once(settings, init))
        echo(summary.render())
        return
    asyncio.run(run_forever(ctx.obj["config_path"], settings, init))
