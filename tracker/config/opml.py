"""OPML subscription lists in and out: the feeds of an OPML file (``feeds_from:``) and the
configured feeds as OPML 2.0 (``tracker feeds export``).

Every feed reader exports OPML (Miniflux, Feedly, Inoreader, rss2email, …); their files
differ in detail, so reading is lenient where they differ and strict where XML is unsafe:
defusedxml's expat reader refuses entity declarations and external references (billion
laughs, XXE). An outline with an ``xmlUrl`` is a feed; its title (``title``, else
``text``) is its name, and the outlines around it (folders) and its ``category`` attribute
are its tags. One pass over the file with a SAX handler, so 100,000 outlines cost what
expat needs to read them, and every error carries its line.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler
from xml.sax.saxutils import quoteattr
from xml.sax.xmlreader import AttributesImpl, Locator

import defusedxml.sax
from defusedxml import DefusedXmlException


class OpmlError(ValueError):
    """An OPML file that cannot be read, with the line where it goes wrong."""


@dataclass(frozen=True)
class OpmlFeed:
    """One feed outline: its URL, its title (None when it has none), its tags, its line."""

    url: str
    title: str | None
    tags: tuple[str, ...]
    line: int


class _Handler(ContentHandler):
    def __init__(self) -> None:
        super().__init__()
        self.feeds: list[OpmlFeed] = []
        self.problems: list[tuple[int, str]] = []
        self._folders: list[str | None] = []  # one per open outline: its name if a folder
        self._locator: Locator | None = None
        self._root_seen = False

    def setDocumentLocator(self, locator: Locator) -> None:
        self._locator = locator

    @property
    def line(self) -> int:
        line = self._locator.getLineNumber() if self._locator is not None else None
        return line or 0

    def startElement(self, name: str, attrs: AttributesImpl) -> None:
        if not self._root_seen:
            self._root_seen = True
            if name != "opml":
                raise OpmlError(f"line {self.line}: not an OPML file (its root is <{name}>)")
        if name != "outline":
            return
        url = (attrs.get("xmlUrl") or attrs.get("xmlurl") or "").strip()
        title = (attrs.get("title") or attrs.get("text") or "").strip() or None
        if not url:
            self._folders.append(title)
            return
        self._folders.append(None)
        if not url.lower().startswith(("http://", "https://")):
            self.problems.append((self.line, f"xmlUrl {url!r} is not an http(s) URL"))
            return
        tags = [f for f in self._folders if f]
        for category in (attrs.get("category") or "").split(","):
            if tag := category.strip().strip("/"):
                tags.append(tag)
        self.feeds.append(OpmlFeed(url, title, tuple(dict.fromkeys(tags)), self.line))

    def endElement(self, name: str) -> None:
        if name == "outline" and self._folders:
            self._folders.pop()


def parse_opml(data: bytes, source: str = "OPML") -> list[OpmlFeed]:
    """The feed outlines of an OPML document, in file order; OpmlError names the line of
    malformed XML, of an unsafe construct, or of every outline whose URL is not http(s)."""
    handler = _Handler()
    try:
        defusedxml.sax.parse(io.BytesIO(data), handler)
    except SAXParseException as exc:
        raise OpmlError(
            f"{source}: not well-formed XML at line {exc.getLineNumber() or 0},"
            f" column {(exc.getColumnNumber() or 0) + 1}: {exc.getMessage()}"
        ) from exc
    except DefusedXmlException as exc:
        raise OpmlError(
            f"{source}: line {handler.line}: refused: {exc} (entity declarations and"
            " external references are not read)"
        ) from exc
    except OpmlError as exc:
        raise OpmlError(f"{source}: {exc}") from exc
    if not handler._root_seen:
        raise OpmlError(f"{source}: empty document")
    if handler.problems:
        raise OpmlError(
            f"{source}: " + "; ".join(f"line {line}: {msg}" for line, msg in handler.problems)
        )
    return handler.feeds


def read_opml(path: Path) -> list[OpmlFeed]:
    """The feed outlines of the OPML file at ``path`` (see parse_opml)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OpmlError(f"cannot read OPML file {path}: {exc.strerror or exc}") from exc
    return parse_opml(data, str(path))


def to_opml(feeds: Iterable[tuple[str, str, Iterable[str]]], title: str = "tracker feeds") -> str:
    """OPML 2.0 of (url, name, tags) feeds: one flat outline each, tags in ``category``
    (OPML 2.0's comma-separated, slash-rooted form), so that reading it back gives the
    same feeds, names and tags."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_text(title)}</title></head>",
        "  <body>",
    ]
    for url, name, tags in feeds:
        attrs = f'type="rss" text={quoteattr(name)} title={quoteattr(name)} xmlUrl={quoteattr(url)}'
        category = ",".join(f"/{t}" for t in tags)
        if category:
            attrs += f" category={quoteattr(category)}"
        lines.append(f"    <outline {attrs}/>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
