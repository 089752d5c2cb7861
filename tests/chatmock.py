"""A small HTML mock of how Slack and Discord show tracker's chat payloads, for the
screenshots in docs/ (clearly labelled as a mock: it is not either service's own UI)."""

from __future__ import annotations

import html
import re
from typing import Any

_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="margin:0;background:{bg};font-family:Lato,'Helvetica Neue',Arial,sans-serif;
color:{fg}"><div style="max-width:640px;padding:16px 20px">
<p style="margin:0 0 14px;font:12px monospace;color:#888;border:1px dashed #999;
padding:4px 8px">MOCK rendering of tracker's {kind} payload (format: {fmt}), drawn from the
JSON by tests/chatmock.py, not {kind}'s own UI</p>{body}</div></body></html>"""


def _slack_mrkdwn(text: str) -> str:
    # Slack's entities stay entities; links, bold, italics and quotes as Slack shows them.
    out = re.sub(
        r"<(https?://[^|>]+)\|([^>]+)>",
        lambda m: (
            f'<a href="{m.group(1)}" style="color:#1264a3;text-decoration:none">{m.group(2)}</a>'
        ),
        text,
    )
    out = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"<b>\1</b>", out)
    out = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"<i>\1</i>", out)
    lines = []
    for line in out.split("\n"):
        if line.startswith("&gt; ") or line.startswith("> "):
            body = line.split(" ", 1)[1]
            quote = "display:block;border-left:4px solid #ddd;padding-left:10px"
            line = f'<span style="{quote}">{body}</span>'
        lines.append(line)
    return "<br>".join(lines)


def slack_html(message: dict[str, Any]) -> str:
    parts = []
    for block in message["blocks"]:
        kind = block["type"]
        if kind == "header":
            parts.append(
                f'<div style="font-size:18px;font-weight:900;margin:4px 0 8px">'
                f"{html.escape(block['text']['text'])}</div>"
            )
        elif kind == "section":
            parts.append(
                f'<div style="font-size:15px;line-height:1.46;margin:4px 0">'
                f"{_slack_mrkdwn(block['text']['text'])}</div>"
            )
        elif kind == "context":
            text = " ".join(_slack_mrkdwn(e["text"]) for e in block["elements"])
            parts.append(f'<div style="font-size:12px;color:#616061;margin:4px 0">{text}</div>')
        elif kind == "divider":
            parts.append('<hr style="border:0;border-top:1px solid #ddd;margin:10px 0">')
    body = (
        '<div style="display:flex;gap:8px"><div style="width:36px;height:36px;border-radius:4px;'
        'background:#0b57d0;color:#fff;font-weight:700;text-align:center;line-height:36px">t</div>'
        '<div style="flex:1"><div><b>tracker</b> <span style="font-size:12px;color:#616061;'
        'background:#eee;padding:0 3px;border-radius:2px">APP</span></div>'
        + "".join(parts)
        + "</div></div>"
    )
    return _PAGE.format(
        title="Slack mock", bg="#ffffff", fg="#1d1c1d", kind="Slack", fmt="slack", body=body
    )


def _discord_markdown(text: str) -> str:
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"\\([\\*_~`|>#\[\]<@])", lambda m: f"&#{ord(m.group(1))};", escaped)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escaped)
    escaped = re.sub(r"\*(.+?)\*", r"<i>\1</i>", escaped)
    return escaped.replace("\n", "<br>")


def discord_html(message: dict[str, Any]) -> str:
    parts = []
    if message.get("content"):
        parts.append(f'<div style="margin:2px 0 6px">{_discord_markdown(message["content"])}</div>')
    for e in message["embeds"]:
        color = f"#{e.get('color', 0x202225):06x}"
        title = html.escape(e["title"])
        if e.get("url"):
            link = html.escape(e["url"])
            title = f'<a href="{link}" style="color:#00a8fc;text-decoration:none">{title}</a>'
        author = (
            f'<div style="font-size:13px;font-weight:600;margin-bottom:6px">'
            f"{html.escape(e['author']['name'])}</div>"
            if e.get("author")
            else ""
        )
        when = e["timestamp"][:16].replace("T", " ") + " UTC" if e.get("timestamp") else ""
        footer = (
            f'<div style="font-size:12px;color:#b5bac1;margin-top:8px">'
            f"{html.escape(e['footer']['text'])}{' • ' + when if when else ''}</div>"
            if e.get("footer")
            else ""
        )
        parts.append(
            f'<div style="background:#2b2d31;border-left:4px solid {color};border-radius:4px;'
            f'padding:10px 14px 12px;margin:6px 0;max-width:520px">{author}'
            f'<div style="font-weight:600;font-size:16px;margin-bottom:6px">{title}</div>'
            f'<div style="font-size:14px;line-height:1.4">'
            f"{_discord_markdown(e['description'])}</div>"
            f"{footer}</div>"
        )
    body = (
        '<div style="display:flex;gap:14px"><div style="width:40px;height:40px;border-radius:50%;'
        'background:#0b57d0;color:#fff;font-weight:700;text-align:center;line-height:40px">t</div>'
        '<div style="flex:1"><div><b style="color:#f2f3f5">tracker</b> <span style="font-size:11px;'
        'background:#5865f2;color:#fff;padding:0 4px;border-radius:3px">APP</span></div>'
        + "".join(parts)
        + "</div></div>"
    )
    return _PAGE.format(
        title="Discord mock", bg="#313338", fg="#dbdee1", kind="Discord", fmt="discord", body=body
    )
