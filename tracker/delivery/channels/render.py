"""Alerts to text: subjects, plain text and HTML bodies (jinja2), safe header values.

Everything from a feed is untrusted: header values lose every control and line-break
character, HTML is autoescaped by jinja2, and the final HTML goes through nh3 once more
so only the markup of our own template can survive.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import jinja2
import markupsafe
import nh3

from tracker.models import Alert

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("tracker.delivery.channels", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)
_HIGHLIGHT = re.compile(r"\*\*(.+?)\*\*")
_ALLOWED_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "body",
    "div",
    "h2",
    "h3",
    "p",
    "a",
    "b",
    "small",
    "blockquote",
    "mark",
}
_ALLOWED_ATTRS = {"*": {"style"}, "a": {"href"}, "meta": {"charset"}}


def clean_header(text: str, limit: int = 200) -> str:
    """A single-line header value: no CR, LF or other control/format characters."""
    cleaned = "".join(" " if unicodedata.category(c)[0] in "CZ" and c != " " else c for c in text)
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def highlight_html(snippet: str) -> markupsafe.Markup:
    """``**term**`` markers become <mark>; everything else is escaped."""
    escaped = str(markupsafe.escape(snippet))
    return markupsafe.Markup(_HIGHLIGHT.sub(r"<mark>\1</mark>", escaped))


def subject(alerts: list[Alert], prefix: str = "") -> str:
    """``[tracker] border-wall: Headline`` for one alert; counts by topic for a digest."""
    lead = f"{prefix} " if prefix else ""
    if len(alerts) == 1 and not alerts[0].digest:
        return clean_header(f"{lead}{alerts[0].topic}: {alerts[0].title}")
    counts: dict[str, int] = defaultdict(int)
    for a in alerts:
        counts[a.topic] += 1
    topics = ", ".join(f"{t} ({n})" for t, n in counts.items())
    noun = "alert" if len(alerts) == 1 else "alerts"
    return clean_header(f"{lead}{len(alerts)} {noun}: {topics}")


SUMMARY_CHARS = 600


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


def _context(alerts: list[Alert], key: str, subj: str) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in alerts:
        published = (
            datetime.fromtimestamp(a.published_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
            if a.published_at
            else None
        )
        url = a.url if a.url and a.url.startswith(("http://", "https://")) else None
        groups[a.topic].append(
            {
                "title": a.title,
                "url": url,
                "feed": a.feed,
                "published": published,
                "summary": _shorten(a.summary, SUMMARY_CHARS),
                "terms": list(a.terms),
                "snippet": a.snippet,
                "snippet_html": highlight_html(a.snippet),
            }
        )
    digest = len(alerts) > 1 or any(a.digest for a in alerts)
    return {"groups": list(groups.items()), "digest": digest, "key": key, "subject": subj}


def render_text(alerts: list[Alert], key: str, subj: str) -> str:
    return _ENV.get_template("alert.txt.j2").render(_context(alerts, key, subj))


def render_html(alerts: list[Alert], key: str, subj: str) -> str:
    html = _ENV.get_template("alert.html.j2").render(_context(alerts, key, subj))
    # Defence in depth: whatever got past autoescaping, no script or handler survives.
    return "<!DOCTYPE html>\n" + nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRS,
        url_schemes={"http", "https"},
        link_rel="noopener noreferrer",
    )
