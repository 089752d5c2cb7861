"""`tracker notify test`: one sample alert through one channel, and the server's answer."""

from __future__ import annotations

import secrets
import time

from tracker.delivery.channels import build
from tracker.models import Alert, SendResult
from tracker.settings import ChannelSettings


def sample_alert(channel: str) -> Alert:
    """A clearly-labelled test alert with a fresh idempotency key."""
    return Alert(
        delivery_id=0,
        key=f"test-{secrets.token_hex(8)}",
        channel=channel,
        digest=False,
        topic="test",
        title="tracker test alert: México, aranceles y el muro fronterizo",
        url="https://example.org/tracker-test",
        summary="If you can read this, the channel works.",
        feed="tracker",
        published_at=time.time(),
        lang="en",
        terms=("test",),
        snippet="This is a **test** alert sent by `tracker notify test`.",
        created_at=time.time(),
    )


async def send_sample(name: str, channel: ChannelSettings) -> SendResult:
    """Send the sample alert through ``channel`` and return its answer."""
    notifier = build({name: channel})[name]
    try:
        (result,) = [r async for r in notifier.send([sample_alert(name)], digest=False)]
    finally:
        await notifier.aclose()
    return result
