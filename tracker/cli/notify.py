"""`tracker notify`: check alert channels."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from tracker.cli.common import (
    EXIT_ERROR,
    config_option,
    echo,
    handle_errors,
    load,
)
from tracker.delivery.channels import sample as delivery_test
from tracker.errors import TrackerError


@click.group()
@config_option
def notify() -> None:
    """Check alert channels."""


@notify.command("test")
@config_option
@click.argument("channel")
@click.pass_context
@handle_errors
def notify_test(ctx: click.Context, channel: str) -> None:
    """Send a sample alert through CHANNEL and print what the server answered."""
    config = load(ctx)
    if channel not in config.channels:
        known = ", ".join(config.channels) or "none configured"
        # A name the config does not have is a usage error (exit 2); a refusal is exit 1.
        raise click.BadParameter(
            f"no channel named '{channel}' (channels: {known})", param_hint="CHANNEL"
        )
    result = asyncio.run(delivery_test.send_sample(channel, config.channels[channel].settings()))
    echo(f"{channel}: {'ok' if result.ok else 'FAILED'}: {result.detail}")
    if not result.ok:
        sys.exit(EXIT_ERROR)


@notify.command("preview")
@config_option
@click.argument("channel", required=False)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("preview"),
    show_default=True,
    help="Folder for the rendered files.",
)
@click.pass_context
@handle_errors
def notify_preview(ctx: click.Context, channel: str | None, out: Path) -> None:
    """Render sample alerts, a digest and a notice as CHANNEL sends them (default: every
    channel; an example email channel when none is configured) into files; nothing is sent."""
    config = load(ctx)
    if channel is not None and channel not in config.channels:
        known = ", ".join(config.channels) or "none configured"
        raise click.BadParameter(
            f"no channel named '{channel}' (channels: {known})", param_hint="CHANNEL"
        )
    names = [channel] if channel else list(config.channels)
    targets = [(n, config.channels[n].settings()) for n in names] or [
        ("example", delivery_test.EXAMPLE_CHANNEL)
    ]
    for name, settings in targets:
        try:
            written = delivery_test.write_preview(name, settings, out)
        except OSError as exc:
            raise TrackerError(f"cannot write the preview to {out}: {exc.strerror}") from exc
        echo(f"{name}: {len(written)} files in {out}")
        for path in written:
            echo(f"  {path.name}")
