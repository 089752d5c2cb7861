"""The command line: the `tracker` group and its commands, one module per command group
(cli/run.py, check.py, reload.py, feeds.py, matches.py, poll.py, topics.py, stories.py,
alerts.py, notify.py); every TrackerError becomes a clear message and exit code
(cli/common.py)."""

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
    "reload": "tracker.cli.reload",
    "feeds": "tracker.cli.feeds",
    "matches": "tracker.cli.matches",
    "poll": "tracker.cli.poll",
    "topics": "tracker.cli.topics",
    "stories": "tracker.cli.stories",
    "alerts": "tracker.cli.alerts",
    "notify": "tracker.cli.notify",
}
# Subcommands kept in modules of their own, added to their group when it is imported.
SUBCOMMANDS = {
    "topics": [
        ("tracker.cli.mute", "topics_mute"),
        ("tracker.cli.mute", "topics_unmute"),
        ("tracker.cli.suggest", "topics_suggest"),
    ],
    "alerts": [("tracker.cli.cancel", "alerts_cancel")],
    "feeds": [("tracker.cli.feedshow", "feeds_show")],
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (click's documented lazy pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            command = getattr(importlib.import_module(COMMANDS[cmd_name]), cmd_name)
            assert isinstance(command, click.Command)
            for module, name in SUBCOMMANDS.get(cmd_name, []):
                sub = getattr(importlib.import_module(module), name)
                assert isinstance(command, click.Group) and isinstance(sub, click.Command)
                command.add_command(sub)
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
