"""Any service apprise supports (Telegram, Matrix, ntfy, Teams, …): the optional extra
``pip install 'tracker[apprise]'``; no hand-written integrations."""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator

from tracker.delivery.channels import digest_key, register
from tracker.delivery.channels.blocking import run_blocking
from tracker.delivery.channels.render import render_text, subject
from tracker.models import Alert, SendKind, SendResult
from tracker.settings import AppriseSettings


@register(AppriseSettings)
class AppriseNotifier:
    """Sends each alert (or digest) as one apprise notification."""

    def __init__(self, name: str, ch: AppriseSettings) -> None:
        import apprise  # the optional extra; config validation checked it is installed

        self.name = name
        self.ch = ch
        self._apprise = apprise.Apprise()
        if not self._apprise.add(ch.url):
            raise ValueError(f"channel {name}: apprise does not understand its url")

    async def send(self, alerts: list[Alert], digest: bool) -> AsyncGenerator[SendResult, None]:
        for batch in [alerts] if digest else [[a] for a in alerts]:
            title = subject(batch)
            key = digest_key(batch) if digest else batch[0].key
            body = render_text(batch, key, title, self.ch.timezone)
            try:
                notify = functools.partial(self._apprise.notify, title=title, body=body)
                ok = await run_blocking(notify, self.ch.timeout_s, "apprise")
            except TimeoutError:
                yield SendResult(
                    SendKind.RETRY, f"apprise: no answer within {self.ch.timeout_s:g}s"
                )
                continue
            if ok:
                yield SendResult(SendKind.ACCEPTED, "accepted")
            else:
                yield SendResult(SendKind.RETRY, "apprise: not sent")

    async def aclose(self) -> None:
        return None
