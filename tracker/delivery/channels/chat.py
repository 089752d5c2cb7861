"""Chat presets for webhooks: Slack Block Kit and Discord embeds, from render's AlertView.

Feed text is plain text in chat markup: Slack's ``&``, ``<`` and ``>`` become entities
(no ``<!channel>``, no link with a label the feed chose); Discord's markdown characters
in descriptions are escaped and ``allowed_mentions`` is empty (no ``@everyone`` or role
ping). Both keep to the services' documented limits (Slack: 50 blocks, 3,000 characters
a section, 150 a header; Discord: 10 embeds, 6,000 characters in all, 4,096 a
description, 256 a title).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tracker.delivery.channels.render import (
    NOTICE_LABELS,
    AlertView,
    Group,
    group,
    is_digest,
    subject,
)
from tracker.models import Alert

SLACK_BLOCKS = 50
SLACK_SECTION = 3000
SLACK_HEADER = 150
DISCORD_EMBEDS = 10
DISCORD_TOTAL = 6000
DISCORD_DESCRIPTION = 4096
DISCORD_TITLE = 256
DISCORD_CONTENT = 2000
BLUE = 0x0B57D0
AMBER = 0xE6A700


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------- Slack


def slack_escape(text: str) -> str:
    """Feed text as Slack mrkdwn text: no links, mentions (``<!channel>``) or entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_url(url: str) -> str:
    # A "|" would end a Slack link's URL and start a label the feed chose.
    return slack_escape(url.replace("|", "%7C"))


def _slack_story(v: AlertView) -> list[dict[str, Any]]:
    title = slack_escape(("Update: " if v.update else "") + v.title_text)
    headline = f"*<{_slack_url(v.link)}|{title}>*" if v.link else f"*{title}*"
    meta = slack_escape(v.outlet_line + (f" · {v.published}" if v.published else ""))
    lines = [headline, meta]
    if v.excerpt:
        excerpt = "".join(
            f"*{slack_escape(t.strip())}*" if hit and t.strip() else slack_escape(t)
            for t, hit in v.excerpt
        )
        lines.append("> " + excerpt.replace("\n", "\n> "))
    why = f"Why: {slack_escape(v.reason)}"
    if v.also:
        why += f" · also {slack_escape(', '.join(v.also))}"
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut("\n".join(lines), 3000)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(why, 3000)}]},
    ]


def slack(alerts: Sequence[Alert], digest: bool, tz: str) -> dict[str, Any]:
    """A Slack message: Block Kit blocks, and ``text`` for notifications and old clients."""
    alerts = list(alerts)
    fallback = slack_escape(subject(alerts))
    blocks: list[dict[str, Any]] = []
    if len(alerts) == 1 and (kind := alerts[0].notice) is not None:
        a = alerts[0]
        label = NOTICE_LABELS[kind]
        blocks = [
            _slack_header(f"Notice: {label}"),
            _slack_section(f"*{slack_escape(a.title)}*\n{slack_escape(a.summary)}"),
            _slack_context("A notice about tracker itself, not a topic alert"),
        ]
        return {"text": fallback, "blocks": blocks, "unfurl_links": False}
    groups = group(alerts, tz)
    if digest or is_digest(alerts):
        count = sum(len(g.items) for g in groups)
        blocks.append(_slack_header(f"{count} new {'result' if count == 1 else 'results'}"))
    shown = 0
    total = sum(len(g.items) for g in groups)
    for g in groups:
        room = SLACK_BLOCKS - len(blocks) - 2  # the "and N more" context and a divider
        if room < 4:
            break
        blocks.append(_slack_context(f"Topic *{slack_escape(g.topic)}*"))
        for v in g.items:
            if SLACK_BLOCKS - len(blocks) - 2 < 2:
                break
            blocks.extend(_slack_story(v))
            shown += 1
        blocks.append({"type": "divider"})
    if shown < total:
        blocks.append(_slack_context(f"… and {total - shown} more (see `tracker alerts`)"))
    topics = ", ".join(g.topic for g in groups)
    blocks.append(
        _slack_context(
            f"tracker · change or stop: edit topics in config.yaml ({slack_escape(topics)})"
        )
    )
    return {"text": fallback, "blocks": blocks[:SLACK_BLOCKS], "unfurl_links": False}


def _slack_header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(text, SLACK_HEADER)}}


def _slack_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SLACK_SECTION)}}


def _slack_context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(text, 3000)}]}


# ---------------------------------------------------------------------------- Discord

_DISCORD_SPECIAL = re.compile(r"([\\*_~`|>#\[\]<@])")


def discord_escape(text: str) -> str:
    """Feed text as Discord markdown text: every formatting character escaped."""
    return _DISCORD_SPECIAL.sub(r"\\\1", text)


def _discord_story(v: AlertView, description_limit: int) -> dict[str, Any]:
    parts = []
    if v.excerpt:
        parts.append(
            "".join(
                f"**{discord_escape(t.strip())}**" if hit and t.strip() else discord_escape(t)
                for t, hit in v.excerpt
            )
        )
    why = f"Why: {discord_escape(v.reason)}"
    if v.also:
        why += f" · also {discord_escape(', '.join(v.also))}"
    parts.append(f"*{why}*")
    embed: dict[str, Any] = {
        # Titles and author names are not markdown: as they are.
        "title": _cut(("Update: " if v.update else "") + v.title_text, DISCORD_TITLE),
        "description": _cut("\n\n".join(parts), description_limit),
        "color": BLUE,
        "author": {"name": _cut(v.outlet_line, 256)},
        "footer": {"text": _cut(f"tracker · topic {v.topic}", 2048)},
    }
    if v.link:
        embed["url"] = v.link
    if v.published_at:
        embed["timestamp"] = datetime.fromtimestamp(v.published_at, UTC).isoformat()
    return embed


def _embed_size(embed: dict[str, Any]) -> int:
    return (
        len(embed.get("title", ""))
        + len(embed.get("description", ""))
        + len(embed.get("author", {}).get("name", ""))
        + len(embed.get("footer", {}).get("text", ""))
    )


def discord(alerts: Sequence[Alert], digest: bool, tz: str) -> dict[str, Any]:
    """A Discord message: one embed per story (at most 10), mentions never parsed."""
    alerts = list(alerts)
    base: dict[str, Any] = {"allowed_mentions": {"parse": []}}
    if len(alerts) == 1 and (kind := alerts[0].notice) is not None:
        a = alerts[0]
        embed = {
            "title": _cut(f"Notice: {NOTICE_LABELS[kind]}", DISCORD_TITLE),
            "description": _cut(
                f"**{discord_escape(a.title)}**\n\n{discord_escape(a.summary)}",
                DISCORD_DESCRIPTION,
            ),
            "color": AMBER,
            "footer": {"text": "tracker · a notice about tracker itself, not a topic alert"},
        }
        return base | {"content": "", "embeds": [embed]}
    groups: list[Group] = group(alerts, tz)
    views = [v for g in groups for v in g.items]
    many = digest or is_digest(alerts)
    limit = DISCORD_DESCRIPTION if not many else 600
    embeds: list[dict[str, Any]] = []
    used = 0
    for v in views[:DISCORD_EMBEDS]:
        embed = _discord_story(v, limit)
        if used + _embed_size(embed) > DISCORD_TOTAL:
            break
        embeds.append(embed)
        used += _embed_size(embed)
    content = ""
    if many:
        topics = discord_escape(", ".join(g.topic for g in groups))
        content = f"**{len(views)} new {'result' if len(views) == 1 else 'results'}** · {topics}"
        if len(embeds) < len(views):
            content += f"\n… and {len(views) - len(embeds)} more (see `tracker alerts`)"
    return base | {"content": _cut(content, DISCORD_CONTENT), "embeds": embeds}
