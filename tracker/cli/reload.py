"""`tracker reload [--force]`: check the config, then signal the daemon running on its
database to reload it (SIGHUP; SIGUSR1 confirms a config that drops most feeds or topics)."""

from __future__ import annotations

import os
import signal

import click

from tracker.cli.check import shrink_warnings
from tracker.cli.common import config_option, echo, handle_errors, load
from tracker.config.checks import has_shrink_marker
from tracker.errors import ConfigError, TrackerError
from tracker.service.reload import CONFIRM
from tracker.service.systemd import daemon_pid


@click.command()
@config_option
@click.option(
    "--force",
    is_flag=True,
    help="Confirm a config that drops all, or more than half, of the feeds or topics.",
)
@click.pass_context
@handle_errors
def reload(ctx: click.Context, force: bool) -> None:
    """Reload the running daemon's config (after checking it here first)."""
    config = load(ctx)  # an invalid file: exit 2, nothing signalled
    path = ctx.obj["config_path"]
    confirmed = force or has_shrink_marker(path.read_text(encoding="utf-8", errors="replace"))
    shrinks = shrink_warnings(config)
    refused = [s for s in shrinks if not (s.confirmable and confirmed)]
    if refused:
        raise ConfigError(
            f"{path}: not reloaded",
            [f"{s.key}: {s.message}" + (f"; {CONFIRM}" if s.confirmable else "") for s in refused],
        )
    pid = daemon_pid(config.database_path)
    if pid is None:
        raise TrackerError(
            f"no tracker is running on {config.database_path}", hint="start it with `tracker run`"
        )
    try:
        os.kill(pid, signal.SIGUSR1 if force else signal.SIGHUP)
    except OSError as exc:
        raise TrackerError(f"cannot signal tracker (pid {pid}): {exc.strerror or exc}") from exc
    how = "SIGUSR1: a shrink confirmed" if force else "SIGHUP"
    echo(
        f"reload requested from tracker (pid {pid}, {how});"
        " its log says config.reloaded or config.rejected"
    )
