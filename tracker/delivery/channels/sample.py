"""`tracker notify test` (one sample alert through one channel, and the server's answer)
and `tracker notify preview` (sample alerts, a digest and a notice rendered to files)."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import replace
from pathlib import Path

from tracker.delivery.channels import build, digest_key
from tracker.models import NOTICE_TOPIC, Alert, NoticeKind, SendResult, StoryReport
from tracker.settings import (
    AppriseSettings,
    ChannelSettings,
    DeliveryMode,
    EmailSettings,
    SmtpSecurity,
    WebhookSettings,
)


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


# Fixed times, so a preview renders the same every time (1 May 2024, 14:03 UTC onwards).
_T0 = 1714572180.0


def _sample(
    i: int,
    topic: str,
    title: str,
    url: str,
    summary: str,
    feed: str,
    lang: str,
    terms: tuple[str, ...],
    snippet: str,
    content: str = "",
    minutes: int = 0,
) -> Alert:
    return Alert(
        delivery_id=i,
        key=f"preview-{i}",
        channel="preview",
        digest=False,
        topic=topic,
        title=title,
        url=url,
        summary=summary,
        feed=feed,
        published_at=_T0 - 60 * minutes,
        lang=lang,
        terms=terms,
        snippet=snippet,
        created_at=_T0,
        content=content,
        canonical_url=url.split("?")[0],
    )


def _story(a: Alert, story_id: int, *outlets: tuple[str, str, str, int]) -> Alert:
    """``a`` as one report of a story that these outlets (name, lang, title, minutes before
    the sample time) carried too."""
    reports = tuple(
        StoryReport(name, lang, title, a.canonical_url, _T0 - 60 * minutes, _T0 - 60 * minutes)
        for name, lang, title, minutes in outlets
    )
    return replace(a, story_id=story_id, headline=a.title, story_first_seen=_T0, reports=reports)


def preview_alerts() -> list[Alert]:
    """Sample alerts as the matcher writes them: a title match, a summary match (Spanish) of
    a story three outlets carried, content without a summary, and a story two topics
    matched."""
    alerts = _preview_alerts()
    alerts[1] = _story(
        alerts[1],
        102,
        ("El Universal", "es-MX", alerts[1].title, 42),
        ("Milenio", "es", "Economía anuncia aranceles de represalia al acero de EU", 35),
        ("Reuters", "en", "Mexico slaps retaliatory tariffs on US steel", 30),
    )
    return alerts


def _preview_alerts() -> list[Alert]:
    return [
        _sample(
            1,
            "border-wall",
            "Senate panel advances border wall funding after late-night session",
            "https://www.latimes.com/politics/story/2024-05-01/border-wall-funding?utm_source=rss",
            "Lawmakers voted 14-12 to send the $5.7 billion package to the floor, where"
            " Democrats have promised a fight over the route through the Rio Grande valley."
            " Read more | Full story",
            "Los Angeles Times",
            "en-US",
            ('"border wall"',),
            "Senate panel advances **border wall** funding after late-night session",
        ),
        _sample(
            2,
            "aranceles",
            "México responde a Washington con una batería de medidas",
            "https://www.eluniversal.com.mx/cartera/mexico-responde-a-washington",
            "La Secretaría de Economía anunció aranceles de represalia de hasta 25% al acero"
            " y al aluminio estadounidenses, y pidió consultas ante la OMC. Leer más",
            "El Universal",
            "es-MX",
            ("arancel*", "acero"),
            "La Secretaría de Economía anunció **aranceles** de represalia de hasta 25% al"
            " **acero** y al aluminio estadounidenses, y pidió consultas ante la OMC.",
            minutes=42,
        ),
        _sample(
            3,
            "aranceles",
            "Steel prices climb as Mexico answers US tariffs",
            "https://www.reuters.com/markets/commodities/steel-prices-climb-2024-05-01/",
            "",
            "Reuters",
            "en",
            ("tariff*", "steel"),
            "Hot-rolled coil futures rose 3% after Mexico's economy ministry said its"
            " **tariffs** on US **steel** would take effect within 30 days …",
            content="Hot-rolled coil futures rose 3% after Mexico's economy ministry said its"
            " tariffs on US steel would take effect within 30 days, the first retaliation"
            " since the border dispute began.",
            minutes=75,
        ),
        _sample(
            4,
            "border-wall",
            "Mexico's Senate debates the border wall and tariffs",
            "https://www.cnn.com/2024/05/01/americas/mexico-senate-wall",
            "The debate in the Senate turned on whether the new duties would pay for the"
            " wall, as the president has said.",
            "CNN",
            "en",
            ('"border wall"',),
            "Mexico's Senate debates the **border wall** and tariffs",
            minutes=120,
        ),
    ]


def preview_notice() -> Alert:
    """A sample admin notice (a feed failing)."""
    return Alert(
        delivery_id=9,
        key="preview-notice",
        channel="preview",
        digest=False,
        topic=NOTICE_TOPIC,
        title="feed failing: El Universal",
        url=None,
        summary="El Universal has failed 5 polls in a row: HTTP 503 Service Unavailable.\n"
        "tracker keeps trying with backoff and sends one more notice when it recovers.",
        feed="tracker",
        published_at=None,
        lang=None,
        terms=(),
        snippet="",
        created_at=_T0,
        notice=NoticeKind.FEED_FAILING,
    )


EXAMPLE_CHANNEL = EmailSettings(
    mode=DeliveryMode.IMMEDIATE,
    digest_at="08:00",
    timezone="America/Mexico_City",
    quiet_hours=None,
    host="localhost",
    port=25,
    security=SmtpSecurity.NONE,
    username=None,
    password=None,
    sender="tracker <tracker@example.org>",
    to=("desk@example.org",),
    subject_prefix="[tracker]",
    timeout_s=30.0,
    ca_file=None,
)


def write_preview(name: str, channel: ChannelSettings, out: Path) -> list[Path]:
    """Render the samples as ``channel`` would send them into ``out``; the files written."""
    out.mkdir(parents=True, exist_ok=True)
    alerts = preview_alerts()
    digest = [replace(a, digest=True) for a in alerts] + [
        replace(alerts[3], topic="aranceles", key="preview-5", digest=True)
    ]
    samples: list[tuple[str, list[Alert], str, bool]] = [
        *((f"alert-{a.delivery_id}", [a], a.key, False) for a in alerts),
        ("digest", digest, digest_key(digest), True),
        ("notice", [preview_notice()], "preview-notice", False),
    ]
    written: list[Path] = []
    for label, batch, key, is_digest in samples:
        base = out / f"{name}-{label}"
        if isinstance(channel, EmailSettings):
            from tracker.delivery.channels.email import build_message

            msg = build_message(channel, batch, key)
            base.with_suffix(".eml").write_bytes(msg.as_bytes())
            html = msg.get_body(("html",))
            assert html is not None
            base.with_suffix(".html").write_text(html.get_content(), encoding="utf-8")
            written += [base.with_suffix(".eml"), base.with_suffix(".html")]
        elif isinstance(channel, WebhookSettings):
            from tracker.delivery.channels.webhook import payload

            body = payload(channel.format, batch, key, is_digest, channel.timezone)
            text = json.dumps(body, ensure_ascii=False, indent=2) + "\n"
            base.with_suffix(".json").write_text(text, encoding="utf-8")
            written.append(base.with_suffix(".json"))
        elif isinstance(channel, AppriseSettings):
            from tracker.delivery.channels.render import render_text, subject

            title = subject(batch)
            body_text = render_text(batch, key, title, channel.timezone)
            base.with_suffix(".txt").write_text(f"{title}\n\n{body_text}", encoding="utf-8")
            written.append(base.with_suffix(".txt"))
        else:
            raise TypeError(f"no preview for {type(channel).__name__}")
    return written
