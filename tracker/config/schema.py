"""Load and validate config.yaml: every problem is reported at once, with key path and line.

pydantic lives here only; the rest of the daemon gets plain dataclasses (models.py)
through the ``Config.feed_specs()`` / ``Config.topic_specs()`` accessors.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import ssl
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote_plus, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tracker.errors import ConfigError
from tracker.models import FeedSpec, TopicSpec
from tracker.topics.query import check_query
from tracker.units import parse_duration, parse_size

Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]

DEFAULT_USER_AGENT = "tracker/0.1 (self-hosted feed alert daemon)"


class _Model(BaseModel):
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


# Query parameters that carry credentials in feed URLs (private feeds, paid APIs).
_SECRET_PARAM = re.compile(r"token|key|secret|auth|sig|pass|session|access|credential", re.I)


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
    password: SecretStr | None = None
    password_file: Path | None = None

    @model_validator(mode="after")
    def _read_password_file(self, info: ValidationInfo) -> Auth:
        return _with_secret_file(self, "password", info)


class Defaults(_Model):
    """Per-feed settings that individual feeds may override."""

    interval: Duration = Field(default=900.0, gt=0)
    jitter: Duration = 30.0
    max_age: Duration = Field(default=3 * 86400.0, gt=0)
    alert_on_first_poll: bool = False


class Fetch(_Model):
    """HTTP client limits shared by every feed."""

    concurrency: int = Field(default=20, ge=1, le=1000)
    timeout: Duration = Field(default=30.0, gt=0)
    # Per request, redirects and body included: ``timeout`` is per read, so a server that
    # drips a byte at a time would otherwise hold a poll (and a concurrency slot) for ever.
    deadline: Duration = Field(default=120.0, gt=0)
    max_bytes: Size = Field(default=10 * 1000**2, gt=0)
    max_redirects: int = Field(default=5, ge=0, le=30)
    user_agent: str = DEFAULT_USER_AGENT


class Feed(_Model):
    """One feed to poll."""

    url: str
    name: str | None = None
    interval: Duration | None = Field(default=None, gt=0)
    lang: str | None = None
    alert_on_first_poll: bool | None = None
    headers: dict[str, str] = {}
    auth: Auth | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        parts = urlsplit(url.strip())
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
    feeds: list[str] = []
    lang: list[str] = []
    notify: list[str] | None = None
    rate_limit: str | None = None

    @field_validator("rate_limit")
    @classmethod
    def _check_rate(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rate(value)
        return value


class _Channel(_Model):
    """When a channel delivers: at once, or in hourly/daily digests, outside quiet hours."""

    mode: Literal["immediate", "hourly", "daily"] = "immediate"
    digest_at: ClockTime = "08:00"
    timezone: Timezone = "UTC"
    quiet_hours: str | None = None

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        return _check_quiet_hours(value)


class EmailChannel(_Channel):
    """SMTP delivery: one connection per batch, multipart text + HTML."""

    type: Literal["email"]
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    subject_prefix: str = "[tracker]"
    timeout: Duration = Field(default=30.0, gt=0)
    ca_file: Path | None = None  # a private CA to verify the server against

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


class WebhookChannel(_Channel):
    """HTTP POST of a JSON payload, optionally HMAC-signed."""

    type: Literal["webhook"]
    url: str
    format: Literal["json", "slack", "discord"] = "json"
    secret: SecretStr | None = None
    secret_file: Path | None = None
    headers: dict[str, str] = {}
    timeout: Duration = Field(default=10.0, gt=0)

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


class AppriseChannel(_Channel):
    """Any service apprise knows (Telegram, Matrix, ntfy, Teams…); needs tracker[apprise]."""

    type: Literal["apprise"]
    url: SecretStr | None = None
    url_file: Path | None = None
    # One notification's whole time: apprise's own timeouts are per read.
    timeout: Duration = Field(default=60.0, gt=0)

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


Channel = Annotated[EmailChannel | WebhookChannel | AppriseChannel, Field(discriminator="type")]


class Delivery(_Model):
    """Retry policy shared by every channel, the default route and the admin channel."""

    max_attempts: int = Field(default=10, ge=1, le=1000)
    retry_base: Duration = Field(default=30.0, gt=0)
    retry_max: Duration = Field(default=3600.0, gt=0)
    notify: list[str] | None = None
    admin: str | None = None


class FeedHealth(_Model):
    """When a feed counts as failing or silent (one admin notice each way, never per cycle)."""

    fail_after: int = Field(default=5, ge=1)
    silent_factor: float = Field(default=10.0, gt=1)
    min_silence: Duration = Field(default=2 * 86400.0, gt=0)


class Metrics(_Model):
    """The optional HTTP listener for /metrics and /healthz."""

    listen: str | None = None

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str | None) -> str | None:
        if value is not None:
            from tracker.service.http import parse_listen_address

            parse_listen_address(value)
        return value


class Config(_Model):
    """The whole config file."""

    database: Path = Path("tracker.db")
    log_level: str = Field(default="info", pattern=r"(?i)^(debug|info|warning|error)$")
    defaults: Defaults = Defaults()
    fetch: Fetch = Fetch()
    feeds: list[Feed] = []
    lists: dict[str, list[str]] = {}
    topics: dict[str, Topic] = {}
    channels: dict[str, Channel] = {}
    delivery: Delivery = Delivery()
    feed_health: FeedHealth = FeedHealth()
    metrics: Metrics = Metrics()
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
        for f in self.feeds:
            if f.url == url and f.auth is not None:
                password = f.auth.password.get_secret_value() if f.auth.password else ""
                return (f.auth.username, password)
        return None

    def topic_specs(self) -> list[TopicSpec]:
        """The topics as plain dataclasses, feed URLs mapped to feed names."""
        by_url = {f.url: f.display_name for f in self.feeds}
        return [
            TopicSpec(
                name=name,
                query=t.query,
                feeds=tuple(by_url.get(ref, ref) for ref in t.feeds),
                langs=tuple(lang.lower() for lang in t.lang),
            )
            for name, t in self.topics.items()
        ]

    def secrets(self) -> list[str]:
        """Every secret value in the config, so logs can be checked to never contain them."""
        found = [f.auth.password for f in self.feeds if f.auth is not None]
        plain: list[str] = []
        query: list[str] = []
        for ch in self.channels.values():
            found.append(getattr(ch, "password", None) or getattr(ch, "secret", None))
            if isinstance(ch, AppriseChannel):
                found.append(ch.url)
            elif isinstance(ch, WebhookChannel):
                # Chat webhooks (Slack, Discord) carry their token in the URL path.
                plain.append(urlsplit(ch.url).path)
        for f in self.feeds:
            plain += f.headers.values()  # API keys travel in headers
            # ... and in query strings: https://example.org/feed?token=…
            for pair in urlsplit(f.url).query.split("&"):
                key, _, raw = pair.partition("=")
                if _SECRET_PARAM.search(unquote_plus(key)) and len(raw) >= 6:
                    # As written (what log lines show) and decoded (what errors may show).
                    query += [raw, unquote_plus(raw)]
        for ch in self.channels.values():
            if isinstance(ch, WebhookChannel):
                plain += ch.headers.values()
        secrets = [s.get_secret_value() for s in found if s is not None]
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


def default_feed_name(url: str) -> str:
    """A feed without a name is called by its host and path: two feeds of one site differ."""
    parts = urlsplit(url)
    return (parts.netloc.removeprefix("www.") + parts.path).rstrip("/")


def resolve_secret_path(path: Path, context: Any) -> Path:
    """Relative secret files are looked up in systemd's credentials folder, else the config's."""
    if path.is_absolute():
        return path
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds and (Path(creds) / path).exists():
        return Path(creds) / path
    return config_relative(path, context)


def config_relative(path: Path, context: Any) -> Path:
    """A path from the config: relative ones are taken from the config file's folder."""
    if path.is_absolute():
        return path
    base = context.get("base_dir") if isinstance(context, dict) else None
    return (Path(base) if base else Path(".")) / path


# --- loading ---------------------------------------------------------------------------------

_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _substitute_env(value: str, path: str, problems: list[str]) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, default = m.group(1), m.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        problems.append(f"{path}: environment variable {name} is not set")
        return ""

    return _ENV_REF.sub(repl, value)


def _walk_env(data: Any, path: str, problems: list[str]) -> Any:
    if isinstance(data, str):
        return _substitute_env(data, path, problems)
    if isinstance(data, list):
        return [_walk_env(v, f"{path}[{i}]", problems) for i, v in enumerate(data)]
    if isinstance(data, dict):
        return {k: _walk_env(v, _join(path, k), problems) for k, v in data.items()}
    return data


def _join(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _format_loc(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path = _join(path, part)
    return path


def _line_map(text: str) -> dict[str, int]:
    """Map each key path (``feeds[3].interval``) to its 1-based line in the YAML text."""
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, path: str) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = _join(path, key.value)
                lines[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, _join(path, i))

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, "")
    return lines


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """The allowed keys of the model found at ``loc`` (for did-you-mean hints)."""
    tp: Any = Config
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(part, int):
            args = typing.get_args(tp)
            tp = args[0] if args else None
        elif isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
            tp = tp.model_fields[part].annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [n for n, f in tp.model_fields.items() if not f.exclude]
    return []


def _unwrap(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else tp
    return tp


def _describe(err: Mapping[str, Any]) -> tuple[str, str]:
    loc: tuple[int | str, ...] = tuple(err["loc"])
    kind, msg = err["type"], str(err["msg"])
    if kind == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(allowed)})"
        return _format_loc(loc), f"unknown key{hint}"
    if kind == "missing":
        return _format_loc(loc), "required key is missing"
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return _format_loc(loc), msg


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the config."""

    path: str
    message: str
    line: int | None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        sep = ": " if self.path else ""
        return f"{where}{self.path}{sep}{self.message}"


def _problems_from_validation(exc: ValidationError, lines: dict[str, int]) -> Iterator[Problem]:
    for err in exc.errors():
        path, msg = _describe(err)
        yield Problem(path, msg, _nearest_line(path, lines))


def _nearest_line(path: str, lines: dict[str, int]) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", path)
    return None


_T = typing.TypeVar("_T", list[Any], dict[Any, Any])


def _typed(value: Any, kind: type[_T]) -> _T:
    """``value`` if it is of the container ``kind``, else an empty one (its own error is
    reported by pydantic)."""
    return value if isinstance(value, kind) else kind()


def _semantic_problems(raw: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Checks across keys (duplicates, references, query syntax), run on the raw data so they
    are reported together with the per-key errors, not only once those are fixed."""
    feeds = _typed(raw.get("feeds"), list)
    seen_urls: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    for i, feed in enumerate(feeds):
        if not isinstance(feed, dict) or not isinstance(feed.get("url"), str):
            continue
        url = feed["url"].strip()
        try:
            default_feed_name(url)
        except ValueError:
            continue  # pydantic reports the malformed URL itself
        if url in seen_urls:
            yield f"feeds[{i}].url", f"duplicate of feeds[{seen_urls[url]}]"
        seen_urls.setdefault(url, i)
        name = feed.get("name")
        if isinstance(name, str) and name:
            if name in seen_names:
                yield f"feeds[{i}].name", f"'{name}' is already feeds[{seen_names[name]}]"
            seen_names.setdefault(name, i)
    known = set(seen_urls) | set(seen_names) | {default_feed_name(u) for u in seen_urls}
    topics = _typed(raw.get("topics"), dict)
    lists = _typed(raw.get("lists"), dict)
    good_lists = {k: v for k, v in lists.items() if isinstance(v, list)}
    for tname, topic in topics.items():
        if not isinstance(topic, dict):
            continue
        refs = _typed(topic.get("feeds"), list)
        for j, ref in enumerate(refs):
            if isinstance(ref, str) and ref not in known:
                yield f"topics.{tname}.feeds[{j}]", f"no feed named or at '{ref}'"
        channels = _typed(raw.get("channels"), dict)
        for j, ref in enumerate(_typed(topic.get("notify"), list)):
            if isinstance(ref, str) and ref not in channels:
                yield f"topics.{tname}.notify[{j}]", _no_channel(ref, channels)
        if isinstance(topic.get("query"), str):
            err = check_query(topic["query"], good_lists)
            if err:
                yield f"topics.{tname}.query", err


def _no_channel(ref: object, channels: dict[Any, Any]) -> str:
    known = ", ".join(map(str, channels)) or "none configured"
    return f"no channel named '{ref}' (channels: {known})"


def _delivery_problems(raw: dict[str, Any]) -> Iterator[tuple[str, str]]:
    channels = _typed(raw.get("channels"), dict)
    delivery = _typed(raw.get("delivery"), dict)
    for name, ch in channels.items():
        if isinstance(ch, dict) and ch.get("type") == "apprise" and not find_spec("apprise"):
            yield (
                f"channels.{name}.type",
                "apprise channels need the optional extra: pip install 'tracker[apprise]'",
            )
    for j, ref in enumerate(_typed(delivery.get("notify"), list)):
        if isinstance(ref, str) and ref not in channels:
            yield f"delivery.notify[{j}]", _no_channel(ref, channels)
    admin = delivery.get("admin")
    if isinstance(admin, str) and admin not in channels:
        yield "delivery.admin", _no_channel(admin, channels)


_SELF_REFERENCE = "{source}: the YAML refers to itself (an alias inside its own anchor)"


def parse(text: str, base_dir: Path, source: str = "config") -> Config:
    """Validate config text; raise one ConfigError listing every problem found."""
    try:
        raw = yaml.safe_load(text)
        lines = _line_map(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}") from exc
    except RecursionError as exc:
        raise ConfigError(_SELF_REFERENCE.format(source=source)) from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys, not a list or value")
    env_problems: list[str] = []
    try:
        data = _walk_env(raw, "", env_problems)
    except RecursionError as exc:
        raise ConfigError(_SELF_REFERENCE.format(source=source)) from exc
    problems = []
    for text_problem in env_problems:
        path, _, message = text_problem.partition(": ")
        problems.append(Problem(path, message, _nearest_line(path, lines)))
    for path, message in (*_semantic_problems(data), *_delivery_problems(data)):
        problems.append(Problem(path, message, _nearest_line(path, lines)))
    config: Config | None = None
    try:
        config = Config.model_validate(
            {**data, "base_dir": base_dir}, context={"base_dir": base_dir}
        )
    except ValidationError as exc:
        problems += list(_problems_from_validation(exc, lines))
    if problems or config is None:
        problems.sort(key=lambda p: (p.line or 0, p.path))
        count = len(problems)
        raise ConfigError(
            f"{source}: {count} problem{'s' if count != 1 else ''}",
            [str(p) for p in problems],
        )
    return config


def load(path: Path) -> Config:
    """Read and validate the config file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"config file not found: {path}", hint="pass --config FILE or set TRACKER_CONFIG"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    return parse(text, path.resolve().parent, source=str(path))
