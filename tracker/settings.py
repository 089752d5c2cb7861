"""Plain settings: what the rest of tracker needs from config.yaml, as frozen dataclasses.

They are built once from the validated pydantic ``Config`` (``tracker.config.settings``,
the only place that knows both) and passed down through constructors. Secrets are plain
strings here: every field holding one has ``repr=False``, so a settings object can be
logged or shown in a traceback without leaking them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Literal

from tracker.models import FeedSpec, TopicSpec


class DeliveryMode(StrEnum):
    """When a channel sends: each alert at once, or collected into digests."""

    IMMEDIATE = "immediate"
    HOURLY = "hourly"
    DAILY = "daily"


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` alerts per ``period_s`` seconds (parsed once, when config loads)."""

    count: int
    period_s: float


@dataclass(frozen=True, kw_only=True)
class ChannelSettings:
    """The part every channel kind shares: when it delivers.

    A kind subclasses this, names itself in ``kind`` (the config's ``type:``), and its
    notifier registers for it in ``tracker.delivery.channels``.
    """

    kind: ClassVar[str]

    mode: DeliveryMode
    digest_at: str  # HH:MM, local to ``timezone``
    timezone: str  # an IANA name
    quiet_hours: str | None  # HH:MM-HH:MM, or None
    story_wait_s: float = 0.0  # immediate alerts wait this long for copies of the story


class SmtpSecurity(StrEnum):
    """How an SMTP connection is protected."""

    STARTTLS = "starttls"
    TLS = "tls"
    NONE = "none"


@dataclass(frozen=True, kw_only=True)
class EmailSettings(ChannelSettings):
    """An SMTP channel."""

    kind: ClassVar[str] = "email"

    host: str
    port: int  # the effective port: the configured one, else the security's default
    security: SmtpSecurity
    username: str | None
    password: str | None = field(repr=False)
    sender: str
    to: tuple[str, ...]
    subject_prefix: str
    timeout_s: float
    ca_file: Path | None  # a private CA to verify the server against
    message_id_domain: str | None = None  # else the From address's domain


WebhookFormat = Literal["json", "slack", "discord"]


@dataclass(frozen=True, kw_only=True)
class WebhookSettings(ChannelSettings):
    """An HTTP POST channel."""

    kind: ClassVar[str] = "webhook"

    url: str = field(repr=False)  # chat webhook URLs carry their token
    format: WebhookFormat
    secret: str | None = field(repr=False)  # the HMAC key
    headers: tuple[tuple[str, str], ...] = field(repr=False)  # may carry API keys
    timeout_s: float


@dataclass(frozen=True, kw_only=True)
class AppriseSettings(ChannelSettings):
    """An apprise channel (the optional extra)."""

    kind: ClassVar[str] = "apprise"

    url: str = field(repr=False)  # apprise URLs carry tokens
    timeout_s: float  # one notification's whole time


@dataclass(frozen=True)
class FeedDefaults:
    """Per-feed values used where a feed gives none (and for feeds not configured)."""

    interval_s: float
    jitter_s: float
    max_age_s: float
    alert_on_first_poll: bool


@dataclass(frozen=True)
class FetchSettings:
    """HTTP client limits shared by every feed."""

    concurrency: int
    timeout_s: float  # per read
    deadline_s: float  # per request, redirects and body included
    max_bytes: int
    max_redirects: int
    user_agent: str
    allow_private_redirects: bool = False
    per_host: int = 2  # requests to one host at once
    host_spacing_s: float = 0.0  # least time between two request starts to one host
    honour_ttl: bool = True  # a feed's <ttl>, sy:update*, Cache-Control max-age as a floor


@dataclass(frozen=True)
class ParseSettings:
    """Limits of one feed's parse (enforced by ingest.isolate's worker processes)."""

    timeout_s: float = 10.0
    max_memory: int = 200 * 1000**2  # bytes beyond the idle worker's


@dataclass(frozen=True)
class DeliverySettings:
    """Retry policy shared by every channel, the default route and the admin channel."""

    max_attempts: int
    retry_base_s: float
    retry_max_s: float
    notify: tuple[str, ...] | None  # the default route; None: every channel
    admin: str | None


@dataclass(frozen=True)
class FeedHealthSettings:
    """When a feed counts as failing or silent."""

    fail_after: int
    silent_factor: float
    min_silence_s: float


@dataclass(frozen=True)
class TopicSettings:
    """A topic: what it matches, where its alerts go, and how many may go."""

    spec: TopicSpec
    routes: tuple[str, ...]  # channel names: its notify list, else delivery.notify, else all
    rate_limit: RateLimit | None
    # The topic's own notify list as configured (None: the default routes). ``routes`` is
    # derived from it and the channels, so a reload compares this one to say what changed.
    notify: tuple[str, ...] | None = None
    updates: bool = False  # one follow-up when the story gains a language or outlets
    updates_outlets: int = 3

    def configured(self) -> tuple[object, ...]:
        """What the topic itself sets (not what it inherits): equal when its entry is."""
        return (self.spec, self.notify, self.rate_limit, self.updates, self.updates_outlets)


@dataclass(frozen=True)
class Settings:
    """Everything from config.yaml that tracker runs on."""

    database: Path  # resolved against the config file's folder
    log_level: str
    defaults: FeedDefaults
    fetch: FetchSettings
    feeds: tuple[FeedSpec, ...]
    # Basic auth (username, password) by feed URL, built once (not scanned per feed).
    feed_auth: dict[str, tuple[str, str]] = field(repr=False)
    lists: dict[str, tuple[str, ...]]
    topics: dict[str, TopicSettings]
    channels: dict[str, ChannelSettings]
    delivery: DeliverySettings
    feed_health: FeedHealthSettings
    metrics_listen: str | None
    # Every secret value in the config, so that logs never show one.
    secrets: tuple[str, ...] = field(repr=False)
    parse: ParseSettings = field(default_factory=ParseSettings)
    stories_window_s: float = 72 * 3600.0  # reports further apart never join one story
    web_listen: str | None = None  # the status page's host:port (None: off)
    web_token: str | None = field(default=None, repr=False)  # its access token, if any

    def topic_specs(self) -> list[TopicSpec]:
        """The topics as the matcher compiles them."""
        return [t.spec for t in self.topics.values()]

    def routes(self, topic: str) -> tuple[str, ...]:
        """The channels a topic's alerts go to (a topic not configured: the default route)."""
        t = self.topics.get(topic)
        if t is not None:
            return t.routes
        if self.delivery.notify is not None:
            return self.delivery.notify
        return tuple(self.channels)
