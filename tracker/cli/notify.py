"""`tracker notify`: check alert channels."""

from __future__ import annotations

import asyncio
import sys

import click

from tracker.cli.common import (
    EXIT_ERROR,
    config_option,
    echo,
    handle_errors,
    load,
)
from tracker.delivery.channels import sample as delivery_test


@click.group()
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
