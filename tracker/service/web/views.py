"""Rendering the status page: a jinja2 environment with autoescape for every template, and
the helpers templates use (times, a small SVG bar chart, highlighted snippets, safe links).

Every string from a feed is hostile; it reaches HTML only through autoescape, and a link
from a feed only when it is http(s).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from markupsafe import Markup, escape

TEMPLATES = files("tracker.service.web") / "templates"
STATIC = files("tracker.service.web") / "static"


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _ago(ts: float | None, now: float | None = None) -> str:
    """``5 min ago`` / ``in 3 h``: the distance to ``ts`` in its largest unit."""
    if ts is None:
        return "never"
    delta = (now if now is not None else time.time()) - ts
    future, s = delta < 0, abs(delta)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            text = f"{s / size:.0f} {unit}"
            break
    else:
        text = f"{s:.0f} s"
    return f"in {text}" if future else f"{text} ago"


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s) with a host, else None (no ``javascript:``, ``data:``…)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def highlight(snippet: str) -> Markup:
    """A matcher snippet (hits between ``**``) as escaped HTML with the hits in ``<mark>``."""
    parts = snippet.split("**")
    if len(parts) % 2 == 0:  # an odd number of markers: the text had its own ``**``
        return Markup(escape(snippet))
    out = [
        Markup("<mark>{}</mark>").format(p) if i % 2 else Markup(escape(p))
        for i, p in enumerate(parts)
    ]
    return Markup("").join(out)


def bars(
    series: Sequence[int], other: Sequence[int] = (), width: int = 150, height: int = 28
) -> Markup:
    """A small inline SVG bar chart: ``series`` per day (grey), ``other`` over it (dark).

    Attributes only, no ``style``: the page's CSP allows no inline styles.
    """
    n = max(len(series), 1)
    top = max([*series, *other, 1])
    step = width / n
    rects = []
    for i, v in enumerate(series):
        for value, cls in ((v, "m"), (other[i] if i < len(other) else 0, "a")):
            if value:
                h = max(1.0, value / top * (height - 2))
                rects.append(
                    Markup(
                        '<rect class="{}" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}"/>'
                    ).format(cls, i * step, height - h, max(step - 1, 1), h)
                )
    label = f"{sum(series)} in {len(series)} days" + (f", {sum(other)} alerts" if other else "")
    return Markup(
        '<svg class="chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img"'
        ' aria-label="{label}"><title>{label}</title>{body}</svg>'
    ).format(w=width, h=height, label=label, body=Markup("").join(rects))


def _query(base: dict[str, Any], **changes: Any) -> str:
    merged = {k: v for k, v in {**base, **changes}.items() if v not in (None, "")}
    return "?" + urlencode(merged) if merged else ""


def environment() -> jinja2.Environment:
    """The page's templates, autoescaped whatever their names."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, ago=_ago, safe_url=safe_url, highlight=highlight)
    env.globals.update(bars=bars, query=_query)
    return env


def _load(name: str) -> str | None:
    path = TEMPLATES / name
    return path.read_text(encoding="utf-8") if path.is_file() else None


def stylesheet() -> bytes:
    """The one stylesheet (served as a file: the CSP allows no inline style)."""
    return (STATIC / "style.css").read_bytes()
