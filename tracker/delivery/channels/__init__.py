"""Alert channels behind one small protocol; one module per kind."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, Mapping
from typing import Protocol

from tracker.config.schema import AppriseChannel, Channel, EmailChannel, WebhookChannel
from tracker.models import Alert, SendResult


class Notifier(Protocol):
    """Sends alerts. ``alerts`` is one batch: one connection; a digest batch is one message."""

    name: str

    def send(self, alerts: list[Alert], digest: bool) -> AsyncGenerator[SendResult, None]:
        """Yield one result per alert, in order, as each is known (a digest yields one)."""
        ...

    async def aclose(self) -> None: ...


def digest_key(alerts: list[Alert]) -> str:
    """A digest's idempotency key: the same set of deliveries always gives the same key."""
    joined = ",".join(sorted(a.key for a in alerts))
    return "digest-" + hashlib.sha256(joined.encode()).hexdigest()[:24]


def build(channels: Mapping[str, Channel]) -> dict[str, Notifier]:
    """A notifier per configured channel."""
    from tracker.delivery.channels.email import EmailNotifier
    from tracker.delivery.channels.webhook import WebhookNotifier

    out: dict[str, Notifier] = {}
    for name, ch in channels.items():
        if isinstance(ch, EmailChannel):
            out[name] = EmailNotifier(name, ch)
        elif isinstance(ch, WebhookChannel):
            out[name] = WebhookNotifier(name, ch)
        elif isinstance(ch, AppriseChannel):
            from tracker.delivery.channels.apprise import AppriseNotifier

            out[name] = AppriseNotifier(name, ch)
    return out
