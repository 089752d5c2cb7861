"""The command line: the `tracker` group and its commands, one module per command group
(cli/run.py, check.py, reload.py, feeds.py, topics.py, stories.py, alerts.py, notify.py); every
TrackerError becomes a clear message and exit code (cli/common.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tracker.cli.alerts import alerts
from tracker.cli.check import check
from tracker.cli.common import echo
from tracker.cli.feeds import feeds
from tracker.cli.notify import notify
from tracker.cli.reload import reload
from tracker.cli.run import run
from tracker.cli.stories import stories
from tracker.cli.topics import topics
from tracker.redact import Redactor


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


for command in (run, check, reload, feeds, topics, stories, alerts, notify):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    obj: dict[str, object] = {}
    try:
        cli(obj=obj)
    except Exception as exc:  # last resort (a bug): one line, never a traceback or a secret
        redact = obj.get("redact")
        mask = redact if isinstance(redact, Redactor) else Redactor()
        echo(mask(f"error: internal error: {type(exc).__name__}: {exc}"), err=True)
        sys.exit(70)
