"""Alert channels behind one small protocol; one module per kind, registered by kind.

A kind is a settings type in ``tracker.settings`` (its ``kind`` is the config's ``type:``)
and a module here, ``tracker/delivery/channels/<kind>.py``, whose notifier class is
decorated with ``@register(ThatSettings)``. ``build`` imports a kind's module only when a
channel of that kind is configured, so an optional extra (apprise) is needed only then.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any, Protocol, TypeVar

from tracker.models import Alert, SendResult
from tracker.settings import ChannelSettings


class Notifier(Protocol):
    """Sends alerts. ``alerts`` is one batch: one connection; a digest batch is one message."""

    name: str

    def send(self, alerts: list[Alert], digest: bool) -> AsyncGenerator[SendResult, None]:
        """Yield one result per alert, in order, as each is known (a digest yields one)."""
        ...

    async def aclose(self) -> None: ...


# A notifier class: built from the channel's name and its settings.
NotifierType = Callable[[str, Any], Notifier]
_N = TypeVar("_N", bound=NotifierType)

_REGISTRY: dict[type[ChannelSettings], NotifierType] = {}


def register(settings_type: type[ChannelSettings]) -> Callable[[_N], _N]:
    """Class decorator: the notifier for channels with settings of ``settings_type``."""

    def add(notifier: _N) -> _N:
        _REGISTRY[settings_type] = notifier
        return notifier

    return add


def notifier_type(settings: ChannelSettings) -> NotifierType:
    """The registered notifier for ``settings``, importing its kind's module on first use."""
    kind = type(settings)
    if kind not in _REGISTRY:
        importlib.import_module(f"{__name__}.{kind.kind}")
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise LookupError(f"no notifier registered for {kind.__name__}") from None


def digest_key(alerts: list[Alert]) -> str:
    """A digest's idempotency key: the same set of deliveries always gives the same key."""
    joined = ",".join(sorted(a.key for a in alerts))
    return "digest-" + hashlib.sha256(joined.encode()).hexdigest()[:24]


def build(channels: Mapping[str, ChannelSettings]) -> dict[str, Notifier]:
    """A notifier per configured channel."""
    return {name: notifier_type(ch)(name, ch) for name, ch in channels.items()}
