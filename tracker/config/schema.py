"""The schema of config.yaml: pydantic models and their per-key validators.

pydantic lives in config/ only; the rest of the daemon gets plain dataclasses (models.py)
through the ``Config.feed_specs()`` / ``Config.topic_specs()`` accessors. Reading the file and
the checks across keys are in loader.py and checks.py.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import ssl
import typing
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union
from urllib.parse import unquote_plus, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tracker.config.paths import config_relative, resolve_secret_path
from tracker.models import FeedSpec, TopicSpec
from tracker.redact import SECRET_PARAM
from tracker.settings import (
    AppriseSettings,
    ChannelSettings,
    DeliveryMode,
    EmailSettings,
    SmtpSecurity,
    WebhookSettings,
)
from tracker.units import parse_duration, parse_listen_address, parse_size

Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]

# Where a feed's owner learns what polls them. The project has no public home yet, so this is
# a reserved .invalid name (never someone else's site): the one place to set when it has.
PROJECT_URL = "https://tracker.invalid/"
VERSION = "0.1.0"  # pyproject's; importlib.metadata would cost every start a few ms
DEFAULT_USER_AGENT = f"tracker/{VERSION} (+{PROJECT_URL}; self-hosted feed alert daemon)"


class _Model(BaseModel):
    # A field's docstring is its meaning in README's reference, read from this file by
    # config/reference.py when the docs are generated. Not pydantic's
    # use_attribute_docstrings: that tokenizes each model's source at every import, a fifth
    # of what `tracker check` cost.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_M = typing.TypeVar("_M", bound=_Model)
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*\s*[smhdw])\s*$")


def _check_clock(value: str) -> str:
    if not _CLOCK.match(value.strip()):
        raise ValueError(f"invalid time of day {value!r} (use HH:MM, e.g. 08:00)")
    return value.strip()


def _check_quiet_hours(value: str | None) -> str | None:
    if value is None:
        return None
    start, sep, end = value.partition("-")
    if not sep:
        raise ValueError(f"invalid quiet hours {value!r} (use HH:MM-HH:MM, e.g. 22:00-07:00)")
    return f"{_check_clock(start)}-{_check_clock(end)}"


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown timezone {value!r} (use an IANA name like America/Mexico_City)"
        ) from exc
    return value


def parse_rate(value: str) -> tuple[int, float]:
    """``"5/h"`` → (5, 3600.0): at most 5 alerts per hour."""
    m = _RATE.match(value)
    if not m:
        raise ValueError(f"invalid rate limit {value!r} (use e.g. 5/h, 20/d, 10/30m)")
    period = m.group(2).replace(" ", "")
    count = int(m.group(1))
    if count < 1:
        raise ValueError(f"invalid rate limit {value!r}: allow at least 1 alert per period")
    return count, parse_duration(period if period[0].isdigit() else "1" + period)


ClockTime = Annotated[str, BeforeValidator(_check_clock)]
Timezone = Annotated[str, BeforeValidator(_check_timezone)]


# An http(s) URL with a host name or IPv4 address, an optional port and no "@" (so no
# credentials) nor whitespace: what urlsplit would accept as a feed URL without a question.
# Its groups are urlsplit's netloc and path.
_PLAIN_FEED_URL = re.compile(
    r"https?://([A-Za-z0-9.-]+(?::[0-9]{1,5})?)(/[^?#@\s]*)?(?:[?#][^@\s]*)?"
)

# Query parameters that carry credentials in feed URLs (private feeds, paid APIs).
_SECRET_PARAM = SECRET_PARAM


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _with_secret_file(model: _M, field: str, info: ValidationInfo) -> _M:
    """``X_file: path`` fills the secret ``X`` from that file (or systemd credential)."""
    value, path = getattr(model, field), getattr(model, f"{field}_file")
    if value is not None and path is not None:
        raise ValueError(f"give either {field} or {field}_file, not both")
    if path is None:
        return model
    resolved = resolve_secret_path(path, info.context)
    try:
        secret = resolved.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ValueError(f"cannot read {field}_file '{resolved}': {exc.strerror}") from exc
    return model.model_copy(update={field: SecretStr(secret)})


class Auth(_Model):
    """HTTP basic auth for a feed; the password may come from a file (or systemd credential)."""

    username: str
    """User name."""
    password: SecretStr | None = None
    """Password (prefer `password_file` or `${ENV}`; it is never logged)."""
    password_file: Path | None = None
    """File holding the password (trailing newline ignored). A relative path is looked up first
    in `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`), then next to the config file.
    """

    @model_validator(mode="after")
    def _read_password_file(self, info: ValidationInfo) -> Auth:
        return _with_secret_file(self, "password", info)


class Defaults(_Model):
    """Per-feed settings that individual feeds may override."""

    interval: Duration = Field(default=900.0, gt=0)
    """How often a feed is polled."""
    jitter: Duration = 30.0
    """A random delay up to this long is added to every next check, so polls spread out."""
    max_age: Duration = Field(default=3 * 86400.0, gt=0)
    """Items published longer ago than this are stored but never alerted. Items without a date
    count as new.
    """
    alert_on_first_poll: bool = False
    """When false, a feed's first successful poll is a silent baseline."""


class Fetch(_Model):
    """HTTP client limits shared by every feed."""

    concurrency: int = Field(default=20, ge=1, le=1000)
    """Most feeds fetched at once (1–1000). A feed is never fetched twice at once."""
    timeout: Duration = Field(default=30.0, gt=0)
    """Connect/read/write timeout of each request."""
    # Per request, redirects and body included: ``timeout`` is per read, so a server that
    # drips a byte at a time would otherwise hold a poll (and a concurrency slot) for ever.
    deadline: Duration = Field(default=120.0, gt=0)
    """Time allowed for a whole fetch, redirects and body included: a server that sends a byte at
    a time fails here instead of holding a poll for ever.
    """
    max_bytes: Size = Field(default=10 * 1000**2, gt=0)
    """Larger responses are refused (checked while streaming, before they are held in memory).
    The limit is on the decoded body: a gzip or deflate body is inflated only up to it, so a
    compression bomb stops there; stacked encodings and other compressions (br, zstd) are
    refused, while labels that compress nothing (`utf-8`, `none`) are ignored.
    """
    max_redirects: int = Field(default=5, ge=0, le=30)
    """Redirects followed per request. A redirect to another origin carries no feed headers or
    credentials, and https never redirects to http.
    """
    allow_private_redirects: bool = False
    """Follow a redirect from a feed on a public address to a loopback, private or
    link-local one (judged by the addresses the target's host resolves to). Refused by
    default: a compromised feed host could otherwise make tracker read this network. A feed
    configured on such an address may always redirect within it.
    """
    user_agent: str = DEFAULT_USER_AGENT
    """The `User-Agent` header: by default it names tracker, its version and the project URL, so
    a feed's owner can see who polls them.
    """
    per_host: int = Field(default=2, ge=1, le=1000)
    """Most requests to one host at once (by the feed URL's host name; its port does not count).
    A poll waiting for its host holds none of the `concurrency` slots. Raise it for a feed farm
    of your own.
    """
    host_spacing: Duration = Field(default=0.0, ge=0)
    """Least time between the starts of two requests to one host, e.g. `2s`. Off (`0`) by default.
    """
    honour_ttl: bool = True
    """Let a feed slow its own polling: RSS `<ttl>` (minutes), `sy:updatePeriod` with
    `sy:updateFrequency`, and a response's `Cache-Control: max-age` raise the feed's interval to
    at least what they ask, capped at 24 hours. They never make a feed polled more often. `false`
    ignores them.
    """


class Parse(_Model):
    """Limits of one feed's parse, enforced in a worker process (killed and replaced past them)."""

    timeout: Duration = Field(default=10.0, gt=0)
    """Time allowed to parse one feed body. A parse that takes longer is stopped and the poll
    fails with "parse exceeded 10s (parse.timeout)" (retried with backoff).
    """
    max_memory: Size = Field(default=200 * 1000**2, ge=16 * 1000**2)
    """Memory one parse may take beyond what the idle parser holds (at least `16MB`). A parse
    that needs more fails with "parse exceeded 200MB (parse.max_memory)".
    """


class Feed(_Model):
    """One feed to poll."""

    url: str
    """`http://` or `https://` URL of an RSS, Atom, RDF or JSON feed. Duplicates are errors, and
    so are credentials in the URL (use `auth`).
    """
    name: str | None = None
    """Display name, used in logs, `tracker feeds` and topic `feeds:` restrictions. Must be
    unique.

    Default: host and path
    """
    interval: Duration | None = Field(default=None, gt=0)
    """Poll interval of this feed.

    Default: `defaults.interval`
    """
    lang: str | None = None
    """Language used when the feed and its items declare none (`en`, `es`, …).

    Default: from the feed
    """
    alert_on_first_poll: bool | None = None
    """Alert on the items of this feed's first poll.

    Default: `defaults.alert_on_first_poll`
    """
    # A factory, not ``{}``: pydantic deep-copies a mutable default for every feed.
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers, e.g. an API key: `{X-Api-Key: "${NEWS_KEY}"}`."""
    auth: Auth | None = None
    """HTTP basic auth: `username` and either `password` or `password_file`."""
    tags: list[str] = Field(default_factory=list)
    """Tags a topic's `feeds:` can name to mean every feed that has them. Feeds read from OPML
    (`feeds_from`) get their folders and categories as tags.
    """

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        url = url.strip()
        if _PLAIN_FEED_URL.fullmatch(url):
            return url  # the common case, without urlsplit: 100,000 feeds load in seconds
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            # Not echoed: the URL holds a password. Credentials in URLs also end up in names.
            raise ValueError("the feed URL contains credentials; move them to feeds[].auth")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"invalid feed URL {url!r} (expected http:// or https://)")
        return url.strip()

    @property
    def display_name(self) -> str:
        return self.name or default_feed_name(self.url)


class Topic(_Model):
    """A topic: a query plus optional restrictions to some feeds and languages."""

    query: str
    """The topic's query (see [Topics](#topics)). A syntax error is reported when the config
    loads.
    """
    feeds: list[str] = []
    """Only match articles from these feeds (names, URLs or tags).

    Default: all feeds
    """
    lang: list[str] = []
    """Only match articles in these languages (`[en, es]`).

    Default: all languages
    """
    focus: list[Literal["title", "summary", "content"]] = []
    """Where the query looks, e.g. `[title, summary]`: a story that names the subject only
    deep in its full text (`content`) then does not match. NOT reads the same parts.

    Default: title, summary and content
    """
    focus_words: int | None = Field(default=None, ge=1)
    """Only the first N words of the body (the summary, then the content, as far as
    `focus` names them) count, e.g. `40`: the lead, not a mention further down.

    Default: the whole body
    """
    notify: list[str] | None = None
    """The channels this topic's alerts go to, e.g. `[team-email, ops-hook]`. `[]` mutes the
    topic for good: its matches are stored (`tracker matches`) but never alert; for a while,
    use `tracker topics mute`.

    Default: `delivery.notify`
    """
    rate_limit: str | None = None
    """At most this many immediate alerts per period per channel, e.g. `5/h`, `20/d`, `10/30m`;
    the excess waits and goes out as one digest when the window has room. Nothing is dropped.
    """

    updates: bool = False
    """Send one follow-up when a story that alerted gains a report in another language, or
    `updates_outlets` new outlets (threaded to the first alert in email, marked as an update in
    webhooks). Without it, outlets that join later only show in digests and `tracker stories`.
    """
    updates_outlets: int = Field(default=3, ge=1)
    """How many outlets new since the alert make a follow-up (with `updates: true`)."""

    @field_validator("rate_limit")
    @classmethod
    def _check_rate(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rate(value)
        return value


class _Channel(_Model):
    """When a channel delivers: at once, or in hourly/daily digests, outside quiet hours.

    A channel kind is a subclass with a ``type: Literal["kind"]`` field, listed in
    ``CHANNEL_MODELS``; ``settings()`` turns it into its plain settings (tracker.settings),
    for which a notifier in ``tracker.delivery.channels.<kind>`` registers.
    """

    # The optional extra a kind needs, if any: ``pip install 'tracker[<extra>]'`` installs
    # the module of that name.
    extra: ClassVar[str | None] = None

    mode: Literal["immediate", "hourly", "daily"] = "immediate"
    """`immediate`, or `hourly`/`daily` digests grouped by topic."""
    digest_at: ClockTime = "08:00"
    """Local time of the daily digest."""
    timezone: Timezone = "UTC"
    """IANA time zone for `digest_at` and `quiet_hours`, e.g. `America/Mexico_City`."""
    quiet_hours: str | None = None
    """`HH:MM-HH:MM` (may cross midnight, e.g. `22:00-07:00`): alerts that fall inside wait, as a
    digest, until it ends.
    """
    story_wait: Duration = Field(default=0.0, ge=0)
    """Hold an immediate alert this long (e.g. `10m`), so copies of the story arriving in the
    next polls join it and it names their outlets too. `0`: send at once.
    """

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        return _check_quiet_hours(value)

    @classmethod
    def kind(cls) -> str:
        """The ``type:`` that selects this model: its ``type`` field's one literal."""
        (kind,) = typing.get_args(cls.model_fields["type"].annotation)
        return str(kind)

    def settings(self) -> ChannelSettings:
        """This channel as plain settings."""
        raise NotImplementedError

    def plain_secrets(self) -> list[str]:
        """Values that are not SecretStr fields but may be secrets (tokens in URLs, headers);
        ``Config.secrets()`` keeps those long enough to be tokens."""
        return []

    def _timing(self) -> dict[str, Any]:
        return {
            "mode": DeliveryMode(self.mode),
            "digest_at": self.digest_at,
            "timezone": self.timezone,
            "quiet_hours": self.quiet_hours,
            "story_wait_s": self.story_wait,
        }


class EmailChannel(_Channel):
    """SMTP delivery: one connection per batch, multipart text + HTML."""

    type: Literal["email"]
    """`email`: SMTP."""
    host: str
    """SMTP server."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """By `security`.

    Default: 587 / 465 / 25
    """
    security: Literal["starttls", "tls", "none"] = "starttls"
    """`starttls`, `tls` (implicit TLS) or `none`. The server's certificate is always verified,
    and `starttls` never falls back to a clear connection when the server does not offer
    STARTTLS.
    """
    username: str | None = None
    """SMTP login. With `security: none` it is refused unless `host` is this machine
    (`localhost`, `127.0.0.1`, `::1`): the password would cross the network in clear.
    Non-ASCII user names and passwords work (UTF-8, over AUTH PLAIN or LOGIN, whichever the
    server offers)."""
    password: SecretStr | None = None
    """SMTP password; prefer `password_file`."""
    password_file: Path | None = None
    """File with the password (relative: `$CREDENTIALS_DIRECTORY`, then the config's folder)."""
    sender: str = Field(alias="from")
    """Sender, e.g. `'tracker <tracker@example.org>'`."""
    to: list[str] = Field(min_length=1)
    """List of recipients."""
    subject_prefix: str = "[tracker]"
    """Start of every subject."""
    timeout: Duration = Field(default=30.0, gt=0)
    """Network timeout."""
    ca_file: Path | None = None  # a private CA to verify the server against
    """PEM file of the CA that signed the server's certificate (a private or internal CA), used
    instead of the system's CAs; relative to the config's folder. Checked when the config
    loads.
    """
    message_id_domain: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$",
    )
    """Domain of the Message-ID and List-Id headers: `<key@DOMAIN>`,
    `<TOPIC.topic.tracker.DOMAIN>`.

    Default: the domain of `from`
    """

    @field_validator("sender", "to")
    @classmethod
    def _check_addresses(cls, value: str | list[str]) -> str | list[str]:
        for address in [value] if isinstance(value, str) else value:
            if any(c in address for c in "\r\n") or "@" not in address:
                raise ValueError(f"invalid email address {address!r}")
        return value

    @model_validator(mode="after")
    def _read_password_file(self, info: ValidationInfo) -> EmailChannel:
        return _with_secret_file(self, "password", info)

    @model_validator(mode="after")
    def _check_tls(self, info: ValidationInfo) -> EmailChannel:
        if self.security == "none" and self.username and not _is_loopback(self.host):
            # smtplib would log in over the open connection: the password in clear.
            raise ValueError(
                f"username with security: none would send the password in clear to "
                f"{self.host}; use security: starttls or tls"
            )
        if self.ca_file is None:
            return self
        if self.security == "none":
            raise ValueError("ca_file needs security: starttls or tls")
        path = config_relative(self.ca_file, info.context)
        try:
            ssl.create_default_context(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ValueError(f"cannot load CA certificates from '{path}': {reason}") from exc
        return self.model_copy(update={"ca_file": path})

    @property
    def effective_port(self) -> int:
        return self.port or {"starttls": 587, "tls": 465, "none": 25}[self.security]

    def settings(self) -> EmailSettings:
        return EmailSettings(
            **self._timing(),
            host=self.host,
            port=self.effective_port,
            security=SmtpSecurity(self.security),
            username=self.username,
            password=self.password.get_secret_value() if self.password else None,
            sender=self.sender,
            to=tuple(self.to),
            subject_prefix=self.subject_prefix,
            timeout_s=self.timeout,
            ca_file=self.ca_file,
            message_id_domain=self.message_id_domain,
        )


class WebhookChannel(_Channel):
    """HTTP POST of a JSON payload, optionally HMAC-signed."""

    type: Literal["webhook"]
    """`webhook`: a JSON POST."""
    url: str
    """`http(s)://` endpoint."""
    format: Literal["json", "slack", "discord"] = "json"
    """`json` (the payload below), `slack` or `discord` (their incoming-webhook message shapes)."""
    secret: SecretStr | None = None
    """HMAC key: requests are signed (see below)."""
    secret_file: Path | None = None
    """File holding the secret."""
    headers: dict[str, str] = {}
    """Extra request headers."""
    timeout: Duration = Field(default=10.0, gt=0)
    """Network timeout."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            # Not echoed: chat webhook URLs carry their token.
            raise ValueError("invalid webhook URL (expected http:// or https://)")
        return url

    @model_validator(mode="after")
    def _read_secret_file(self, info: ValidationInfo) -> WebhookChannel:
        return _with_secret_file(self, "secret", info)

    def settings(self) -> WebhookSettings:
        return WebhookSettings(
            **self._timing(),
            url=self.url,
            format=self.format,
            secret=self.secret.get_secret_value() if self.secret else None,
            headers=tuple(self.headers.items()),
            timeout_s=self.timeout,
        )

    def plain_secrets(self) -> list[str]:
        # Chat webhooks (Slack, Discord) carry their token in the URL path; API keys
        # travel in headers.
        return [urlsplit(self.url).path, *self.headers.values()]


class AppriseChannel(_Channel):
    """Any service apprise knows (Telegram, Matrix, ntfy, Teams…); needs tracker[apprise]."""

    extra: ClassVar[str | None] = "apprise"

    type: Literal["apprise"]
    """`apprise`: any service apprise knows."""
    url: SecretStr | None = None
    """For `apprise`: the apprise URL, e.g. `ntfy://topic` (or give `url_file`)."""
    url_file: Path | None = None
    """File holding the apprise URL (they often contain tokens)."""
    # One notification's whole time: apprise's own timeouts are per read.
    timeout: Duration = Field(default=60.0, gt=0)
    """For apprise it bounds one notification as a whole, since apprise's own timeouts are per
    read.
    """

    @model_validator(mode="after")
    def _read_url_file(self, info: ValidationInfo) -> AppriseChannel:
        model = _with_secret_file(self, "url", info)
        if model.url is None:
            raise ValueError("give url (or url_file): an apprise URL such as ntfy://topic")
        if find_spec("apprise"):
            import apprise

            if not apprise.Apprise().add(model.url.get_secret_value()):
                raise ValueError("apprise does not understand this url (see its wiki)")
        return model

    def url_tokens(self) -> list[str]:
        """The parts of the apprise URL a service may echo on their own: its password, and
        path segments and query values long enough to be tokens (``tgram://bot-token/…``)."""
        url = self.url.get_secret_value() if self.url else ""
        return url_tokens(url)

    def settings(self) -> AppriseSettings:
        assert self.url is not None  # _read_url_file refuses a channel without one
        return AppriseSettings(
            **self._timing(), url=self.url.get_secret_value(), timeout_s=self.timeout
        )


# The channel kinds: a new kind is one model here (and its settings and notifier).
CHANNEL_MODELS: tuple[type[_Channel], ...] = (EmailChannel, WebhookChannel, AppriseChannel)
CHANNEL_KINDS: dict[str, type[_Channel]] = {m.kind(): m for m in CHANNEL_MODELS}

if TYPE_CHECKING:
    Channel = _Channel
else:  # the discriminated union of every kind, derived from the one list above
    Channel = Annotated[Union[CHANNEL_MODELS], Field(discriminator="type")]  # noqa: UP007


class Delivery(_Model):
    """Retry policy shared by every channel, the default route and the admin channel."""

    max_attempts: int = Field(default=10, ge=1, le=1000)
    """Attempts before a delivery is dead-lettered."""
    retry_base: Duration = Field(default=30.0, gt=0)
    """First retry delay; doubles each attempt (±20% jitter)."""
    retry_max: Duration = Field(default=3600.0, gt=0)
    """Longest retry delay. A server's `Retry-After` is always honoured."""
    notify: list[str] | None = None
    """Default route for topics without `notify`.

    Default: every channel
    """
    admin: str | None = None
    """Channel for admin notices (a feed failing, silent or recovered; a rejected config edit),
    separate from topic alerts. Without it these are only logged.
    """


class FeedHealth(_Model):
    """When a feed counts as failing or silent (one admin notice each way, never per cycle)."""

    fail_after: int = Field(default=5, ge=1)
    """A feed failing this many polls in a row raises one admin notice; one more when it
    recovers.
    """
    silent_factor: float = Field(default=10.0, gt=1)
    """A feed that brings no new items for this many times its usual gap between new items is
    "silent" (one notice, one on recovery). The usual gap is the median gap between the
    publication times of its last 12 items (so one baseline poll of dated items is enough), or,
    for a feed without dates, between its last 12 polls that brought news.
    """
    min_silence: Duration = Field(default=2 * 86400.0, gt=0)
    """Never call a feed silent sooner than this."""


class Metrics(_Model):
    """The optional HTTP listener for /metrics and /healthz."""

    listen: str | None = None
    """`host:port` for an HTTP listener serving Prometheus `/metrics` and `/healthz`, e.g.
    `127.0.0.1:9464` (`:9464` listens on all interfaces).

    Default: off
    """

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen_address(value)
        return value


class Web(_Model):
    """The status page in the browser (overview, stories, feeds, alerts, query tester)."""

    listen: str | None = None
    """`host:port` for the status page, e.g. `127.0.0.1:9465`; it also serves `/metrics` and
    `/healthz`. A loopback address needs no login; any other address (`:9465`, `0.0.0.0:9465`,
    a LAN address) is refused unless `token` or `token_file` is set.

    Default: off
    """
    token: SecretStr | None = None
    """Access token for the page (prefer `token_file`): sent as `Authorization: Bearer TOKEN`
    or as the password of HTTP basic auth (any user name)."""
    token_file: Path | None = None
    """File holding the token (trailing newline ignored); relative paths are looked up first
    in `$CREDENTIALS_DIRECTORY`, then next to the config file."""

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen_address(value)
        return value

    @model_validator(mode="after")
    def _read_token_file(self, info: ValidationInfo) -> Web:
        model = _with_secret_file(self, "token", info)
        if model.listen is not None:
            host, _ = parse_listen_address(model.listen)
            if not _is_loopback(host) and (
                model.token is None or not model.token.get_secret_value()
            ):
                raise ValueError(
                    f"web.listen {model.listen} is not a loopback address: set web.token_file"
                    " (or web.token) so the page asks for it, or listen on 127.0.0.1"
                )
        return model


class Stories(_Model):
    """How articles are grouped into stories (one alert per story, naming every outlet)."""

    window: Duration = Field(default=72 * 3600.0, gt=0)
    """Reports published further apart than this never join one story."""


class Config(_Model):
    """The whole config file."""

    database: Path = Path("tracker.db")
    """SQLite file; a relative path is relative to the config file's folder. The shipped config
    uses `${STATE_DIRECTORY:-.}/tracker.db` so systemd's state directory is used when set.
    """
    log_level: str = Field(default="info", pattern=r"(?i)^(debug|info|warning|error)$")
    """`debug`, `info`, `warning` or `error`."""
    defaults: Defaults = Defaults()
    """Per-feed settings every feed inherits (below)."""
    fetch: Fetch = Fetch()
    """HTTP client settings (below)."""
    parse: Parse = Parse()
    """Time and memory limits of each feed's parse (below)."""
    feeds: list[Feed] = []
    """The feeds to poll (below)."""
    feeds_from: list[Path] = []
    """OPML files (a feed reader's export) whose outlines are feeds too, e.g.
    `[subscriptions.opml]`; relative to the config's folder. An outline's title is the feed's
    name (unless another feed has it) and its folders and categories its `tags`; a feed also
    listed under `feeds` keeps that entry.
    """
    lists: dict[str, list[str]] = {}
    """Named term lists, reusable in topic queries: `lists: {nafta: [NAFTA, TLCAN, USMCA,
    T-MEC]}`.
    """
    topics: dict[str, Topic] = {}
    """Topics by name (below)."""
    channels: dict[str, Channel] = {}
    """Where alerts go, by name (below). With none, alerts are stored and logged only."""
    delivery: Delivery = Delivery()
    """Retry policy, default route and admin channel (below)."""
    feed_health: FeedHealth = FeedHealth()
    """When a feed counts as failing or silent (below)."""
    metrics: Metrics = Metrics()
    """The optional `/metrics` and `/healthz` listener (below)."""
    stories: Stories = Stories()
    """How articles are grouped into stories (below)."""
    web: Web = Web()
    """The status page in the browser (below)."""
    # Where the file was read from; relative paths in it are relative to this folder.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @property
    def database_path(self) -> Path:
        return self.database if self.database.is_absolute() else self.base_dir / self.database

    def feed_specs(self) -> list[FeedSpec]:
        """The feeds as plain dataclasses, defaults applied."""
        d = self.defaults
        specs = []
        for f in self.feeds:
            headers = dict(f.headers)
            specs.append(
                FeedSpec(
                    url=f.url,
                    name=f.display_name,
                    interval_s=f.interval if f.interval is not None else d.interval,
                    alert_on_first_poll=(
                        f.alert_on_first_poll
                        if f.alert_on_first_poll is not None
                        else d.alert_on_first_poll
                    ),
                    lang=f.lang,
                    headers=tuple(sorted(headers.items())),
                )
            )
        return specs

    def feed_auth(self, url: str) -> tuple[str, str] | None:
        """The basic auth of the feed at ``url``, if any (one lookup: see feed_auth_map)."""
        return self.feed_auth_map().get(url)

    def feed_auth_map(self) -> dict[str, tuple[str, str]]:
        """(username, password) by feed URL, for the feeds with auth; built in one pass."""
        out: dict[str, tuple[str, str]] = {}
        for f in self.feeds:
            if f.auth is not None:
                password = f.auth.password.get_secret_value() if f.auth.password else ""
                out.setdefault(f.url, (f.auth.username, password))
        return out

    def topic_specs(self) -> list[TopicSpec]:
        """The topics as plain dataclasses, feed URLs mapped to feed names."""
        by_url = {f.url: f.display_name for f in self.feeds}
        by_tag: dict[str, list[str]] = {}
        for f in self.feeds:
            for tag in f.tags:
                by_tag.setdefault(tag, []).append(f.display_name)
        return [
            TopicSpec(
                name=name,
                query=t.query,
                # A reference is a feed's URL or name, or a tag: every feed that has it.
                feeds=tuple(
                    dict.fromkeys(
                        n for ref in t.feeds for n in by_tag.get(ref, [by_url.get(ref, ref)])
                    )
                ),
                langs=tuple(lang.lower() for lang in t.lang),
                focus=tuple(dict.fromkeys(t.focus)),
                focus_words=t.focus_words,
            )
            for name, t in self.topics.items()
        ]

    def secrets(self) -> list[str]:
        """Every secret value in the config, so logs can be checked to never contain them:
        every SecretStr field (found by walking the model), and values that look like
        tokens (long header values, chat webhook paths, ``?token=`` in feed URLs)."""
        found = list(_secret_fields(self))
        plain: list[str] = []
        query: list[str] = []
        for ch in self.channels.values():
            plain += ch.plain_secrets()
            if isinstance(ch, AppriseChannel):
                query += ch.url_tokens()
        for f in self.feeds:
            plain += f.headers.values()  # API keys travel in headers
            if "?" not in f.url:
                continue
            # ... and in query strings: https://example.org/feed?token=…
            for pair in urlsplit(f.url).query.split("&"):
                key, _, raw = pair.partition("=")
                if _SECRET_PARAM.search(unquote_plus(key)) and len(raw) >= 6:
                    # As written (what log lines show) and decoded (what errors may show).
                    query += [raw, unquote_plus(raw)]
        secrets = [s.get_secret_value() for s in found]
        # Header values and webhook paths are only treated as secrets when long enough to
        # be tokens; query parameters named like one (above) from 6 characters.
        return [s for s in secrets if s] + [p for p in plain if len(p) >= 12] + query

    def routes(self, topic: str) -> list[str]:
        """The channels a topic's alerts go to: its notify list, else delivery.notify, else all."""
        t = self.topics.get(topic)
        if t is not None and t.notify is not None:
            return list(t.notify)
        if self.delivery.notify is not None:
            return list(self.delivery.notify)
        return list(self.channels)


def _secret_fields(value: object) -> list[SecretStr]:
    """Every SecretStr in ``value``: through nested models, lists, tuples and dicts."""
    found: list[SecretStr] = []
    _collect_secrets(value, found)
    return found


def _collect_secrets(value: object, found: list[SecretStr]) -> None:
    if isinstance(value, SecretStr):
        found.append(value)
    elif isinstance(value, BaseModel):
        for name in _secret_bearing_fields(type(value)):
            _collect_secrets(getattr(value, name), found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect_secrets(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_secrets(item, found)


@functools.cache
def _secret_bearing_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` whose type can hold a SecretStr: the walk above visits only
    those (of a feed, only ``auth``), so 100,000 feeds cost 100,000 attribute reads."""
    return tuple(n for n, f in model.model_fields.items() if _may_hold_secret(f.annotation))


def _may_hold_secret(tp: Any) -> bool:
    if tp is SecretStr:
        return True
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return bool(_secret_bearing_fields(tp))
    return any(_may_hold_secret(arg) for arg in typing.get_args(tp))


def url_tokens(url: str) -> list[str]:
    """What in a URL may be a token: its password, and path segments, host labels before
    the first dot and query values of 6 characters or more (apprise puts tokens anywhere)."""
    try:
        parts = urlsplit(url)
        password = parts.password
        user = parts.username
    except ValueError:
        return [url]
    found = [password] if password else []
    candidates = [
        *parts.path.split("/"),
        *(v for _, _, v in (p.partition("=") for p in parts.query.split("&"))),
    ]
    host = (parts.hostname or "").split(".")[0]
    if user and not password:
        candidates.append(user)  # apprise's user-only forms (mailgun://key@…) carry keys there
    candidates.append(host)
    found += [unquote_plus(c) for c in candidates if len(c) >= 6 and c.lower() not in _PLAIN]
    return found


# Words in apprise URLs that are not tokens.
_PLAIN = frozenset({"localhost", "127.0.0.1", "webhook", "webhooks", "services", "api", "hook"})


def default_feed_name(url: str) -> str:
    """A feed without a name is called by its host and path: two feeds of one site differ."""
    if plain := _PLAIN_FEED_URL.fullmatch(url):
        netloc, path = plain.group(1), plain.group(2) or ""  # urlsplit's, read at once
    else:
        parts = urlsplit(url)
        netloc, path = parts.netloc, parts.path
    return (netloc.removeprefix("www.") + path).rstrip("/")
