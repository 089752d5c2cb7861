"""The command line: the `tracker` group and its commands, one module per command group
(cli/run.py, check.py, feeds.py, topics.py, alerts.py, notify.py); every TrackerError becomes
a clear message and exit code (cli/common.py)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from tracker.redact import Redactor

# Each command's module, imported only when that command runs (or help lists it):
# `tracker --version` loads none, `tracker check` no HTTP client, `run --once` no notifier.
COMMANDS = {
    "run": "tracker.cli.run",
    "check": "tracker.cli.check",
    "feeds": "tracker.cli.feeds",
    "topics": "tracker.cli.topics",
    "alerts": "tracker.cli.alerts",
    "notify": "tracker.cli.notify",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (click's documented lazy pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            command = getattr(importlib.import_module(COMMANDS[cmd_name]), cmd_name)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


def main() -> None:
    """Console-script entry point."""
    obj: dict[str, object] = {}
    try:
        cli(obj=obj)
    except Exception as exc:  # last resort (a bug): one line, never a traceback or a secret
        redact = obj.get("redact")
        mask = redact if isinstance(redact, Redactor) else Redactor()
        from tracker.cli.common import echo

        echo(mask(f"error: internal error: {type(exc).__name__}: {exc}"), err=True)
        sys.exit(70)
