"""Plain settings from the config, and the channel kinds registered by kind."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from tracker.config import loader as config_mod
from tracker.config import schema
from tracker.config.settings import to_settings
from tracker.delivery import channels
from tracker.delivery.channels.email import EmailNotifier
from tracker.delivery.channels.webhook import WebhookNotifier
from tracker.settings import (
    ChannelSettings,
    DeliveryMode,
    EmailSettings,
    RateLimit,
    Settings,
    SmtpSecurity,
    WebhookSettings,
)

CONFIG = """
feeds:
  - url: https://a.example/rss
    name: A
    auth: {username: me, password: feed-pass}
  - url: https://b.example/rss
topics:
  wall: {query: wall, feeds: [https://a.example/rss], lang: [ES], rate_limit: 5/h}
  steel: {query: steel, notify: [mail]}
channels:
  mail:
    type: email
    host: smtp.example
    from: t@example.org
    to: [d@example.org]
    username: me
    password: mail-pass
  hook:
    type: webhook
    url: https://hooks.slack.example/services/T000/B000/XXXXXXXXXXXXXXXX
    secret: hook-secret
    headers: {Authorization: Bearer 0123456789abcdef}
    mode: daily
    digest_at: "07:30"
    timezone: America/Mexico_City
    quiet_hours: 22:00-07:00
delivery: {notify: [hook], max_attempts: 3}
"""


def _settings(tmp_path: Path) -> Settings:
    return to_settings(config_mod.parse(CONFIG, tmp_path))


def test_the_config_becomes_plain_values(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    assert s.database == tmp_path / "tracker.db"
    assert [f.name for f in s.feeds] == ["A", "b.example/rss"]
    assert s.feed_auth == {"https://a.example/rss": ("me", "feed-pass")}
    wall, steel = s.topics["wall"], s.topics["steel"]
    assert wall.spec.feeds == ("A",) and wall.spec.langs == ("es",)
    assert wall.rate_limit == RateLimit(5, 3600.0)  # parsed once, here
    assert (wall.routes, steel.routes) == (("hook",), ("mail",))
    assert s.routes("not-configured") == ("hook",)  # the default route
    assert s.delivery.max_attempts == 3
    mail, hook = s.channels["mail"], s.channels["hook"]
    assert isinstance(mail, EmailSettings) and isinstance(hook, WebhookSettings)
    assert (mail.port, mail.security, mail.password) == (587, SmtpSecurity.STARTTLS, "mail-pass")
    assert (hook.mode, hook.digest_at, hook.quiet_hours) == (
        DeliveryMode.DAILY,
        "07:30",
        "22:00-07:00",
    )
    assert hook.headers == (("Authorization", "Bearer 0123456789abcdef"),)


def test_secrets_are_never_in_a_repr(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    shown = repr(s) + repr(list(s.channels.values()))
    for secret in ("feed-pass", "mail-pass", "hook-secret", "XXXXXXXXXXXXXXXX", "0123456789abcdef"):
        assert secret not in shown


def test_secrets_are_found_by_walking_the_model(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    # Every SecretStr field, wherever it is nested (feed auth, email, webhook) ...
    assert {"feed-pass", "mail-pass", "hook-secret"} <= set(s.secrets)
    # ... and the values that only look like tokens: a chat webhook's path, a long header.
    assert "/services/T000/B000/XXXXXXXXXXXXXXXX" in s.secrets
    assert "Bearer 0123456789abcdef" in s.secrets
    assert "me" not in s.secrets and "smtp.example" not in s.secrets


def test_the_channel_union_comes_from_one_list_of_kinds() -> None:
    assert set(schema.CHANNEL_KINDS) == {"email", "webhook", "apprise"}
    for kind, model in schema.CHANNEL_KINDS.items():
        assert model.kind() == kind
    assert schema.CHANNEL_KINDS["apprise"].extra == "apprise"


def test_notifiers_are_looked_up_by_their_settings_type(tmp_path: Path) -> None:
    built = channels.build(_settings(tmp_path).channels)
    assert isinstance(built["mail"], EmailNotifier)
    assert isinstance(built["hook"], WebhookNotifier)

    @dataclass(frozen=True, kw_only=True)
    class CarrierPigeon(ChannelSettings):
        kind: ClassVar[str] = "blocking"  # a module that registers nothing

    pigeon = CarrierPigeon(mode=DeliveryMode.IMMEDIATE, digest_at="08:00", timezone="UTC",
                           quiet_hours=None)  # fmt: skip
    with pytest.raises(LookupError, match="no notifier registered for CarrierPigeon"):
        channels.build({"coo": pigeon})


def test_optional_kinds_are_imported_only_when_configured(tmp_path: Path) -> None:
    # apprise is an optional extra: email and webhook channels must not load it.
    code = (
        "import sys, pathlib\n"
        "from tracker.config import loader\n"
        "from tracker.config.settings import to_settings\n"
        "from tracker.delivery import channels\n"
        f"cfg = loader.parse({CONFIG!r}, pathlib.Path('.'))\n"
        "channels.build(to_settings(cfg).channels)\n"
        "assert 'apprise' not in sys.modules, 'apprise imported'\n"
        "assert 'tracker.delivery.channels.apprise' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


def test_a_reload_names_only_topics_whose_own_entry_changed(tmp_path: Path) -> None:
    from tracker.service.reload import describe_changes

    base = "feeds: [{url: 'https://a.example/rss'}]\n"
    channel = "channels: {hook: {type: webhook, url: 'https://h.example/x'}}\n"
    topics = "topics: {t: {query: wall}, u: {query: steel}}\n"
    old = to_settings(config_mod.parse(base + topics, tmp_path))
    # A new channel changes where t and u go, not what they are.
    with_channel = to_settings(config_mod.parse(base + topics + channel, tmp_path))
    assert "topics_changed" not in describe_changes(old, with_channel)
    edited = to_settings(
        config_mod.parse(base + "topics: {t: {query: wall}, u: {query: acero}}\n", tmp_path)
    )
    assert describe_changes(old, edited)["topics_changed"] == "u"
