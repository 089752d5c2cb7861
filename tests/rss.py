"""Build small RSS documents for tests."""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import formatdate
from xml.sax.saxutils import escape


@dataclass
class Item:
    title: str
    link: str | None = None
    guid: str | None = None
    summary: str = ""
    age_s: float = 60.0


def rss(items: list[Item], title: str = "Test feed", lang: str = "en") -> bytes:
    out = [
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://feed.example/</link>"
        f"<language>{lang}</language>"
    ]
    for it in items:
        out.append("<item>")
        out.append(f"<title>{escape(it.title)}</title>")
        if it.link:
            out.append(f"<link>{escape(it.link)}</link>")
        if it.guid:
            out.append(f'<guid isPermaLink="false">{escape(it.guid)}</guid>')
        out.append(f"<description>{escape(it.summary)}</description>")
        out.append(f"<pubDate>{formatdate(time.time() - it.age_s, usegmt=True)}</pubDate>")
        out.append("</item>")
    out.append("</channel></rss>")
    return "".join(out).encode()
