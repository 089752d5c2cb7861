"""Bytes + response headers → entries: feedparser for RSS/Atom/RDF, json for JSON Feed."""

from __future__ import annotations

import calendar
import functools
import json
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tracker.errors import ParseError
from tracker.ingest.hosts import feed_floor
from tracker.models import Entry, ParsedFeed
from tracker.text import valid_text


def parse_feed(body: bytes, headers: Mapping[str, str], url: str = "") -> ParsedFeed:
    """Parse a feed document; raise ParseError when nothing usable is in it."""
    ctype = headers.get("content-type", "").lower()
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    # What the body is beats what the server says: RSS served as application/json exists.
    if head.startswith(b"{") or ("json" in ctype and not head.startswith(b"<")):
        return _parse_json_feed(body)
    return _parse_xml_feed(body, headers, url)


# Any number of digits (leading zeros are legal), either case of x.
_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")


def _safe_charref(m: re.Match[bytes]) -> bytes:
    hex_digits, digits = m.group(1), m.group(2)
    significant = (hex_digits or digits).lstrip(b"0")
    if len(significant) > 8:  # past U+10FFFF in either base; int() is not even tried
        return b"&#65533;"
    code = int(significant or b"0", 16 if hex_digits else 10)
    if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return b"&#65533;"
    return m.group(0)


# feedparser's time is quadratic in the attributes of one element (20,000 took 3 s, 100,000
# took 78 s); real elements have a handful. Only tags this long can hold more than the limit.
MAX_ATTRIBUTES = 1000
_LONG_TAG = re.compile(rb"<[^<>]{%d,}" % (2 * MAX_ATTRIBUTES))


def _attribute_flood(body: bytes) -> bool:
    """Whether one tag carries more than MAX_ATTRIBUTES attributes (linear in the body)."""
    return any(len(m.group().split()) > MAX_ATTRIBUTES + 1 for m in _LONG_TAG.finditer(body))


def _feedparser(body: bytes, headers: Mapping[str, str], *, strict: bool = True) -> Any:
    feedparser, xml_available = _library()
    # sanitize_html/resolve_relative_uris off: ~40% less CPU. We strip all HTML to text
    # ourselves, and the email issue sanitises what it renders.
    if strict:
        return feedparser.parse(
            body, response_headers=dict(headers), sanitize_html=False, resolve_relative_uris=False
        )
    # feedparser falls back to its loose parser only on a SAX error; other failures of its
    # strict path (a lone surrogate in a namespace URI: ValueError) would lose the feed.
    with _LOOSE:
        feedparser.api._XML_AVAILABLE = False
        try:
            return feedparser.parse(
                body,
                response_headers=dict(headers),
                sanitize_html=False,
                resolve_relative_uris=False,
            )
        finally:
            feedparser.api._XML_AVAILABLE = xml_available


_LOOSE = threading.Lock()
_SAX_DRIVER = "xml.sax.expatreader"


@functools.cache
def _library() -> tuple[Any, bool]:
    """feedparser, imported at the first parse, and whether its strict (SAX) parser works.

    Not at import: the daemon's own process never parses (its workers do, forked from a
    forkserver that preloads feedparser), nor does a `run --once` of 304s. Read under
    ``_LOOSE``, so never while a loose parse has switched the strict parser off.
    """
    with _LOOSE:
        import feedparser

        # Never let feedparser fetch anything itself: we only hand it bytes.
        feedparser.RESOLVE_RELATIVE_URIS = 0
        feedparser.SANITIZE_HTML = 0
        # The SAX driver by name, as feedparser's own setting takes it: its default asks for
        # libxml2's first, a failed import that searched sys.path at every parse (32 us here,
        # ~2.5% of a cut parse) and that would, where those bindings are installed, parse with
        # another driver than the tests (kurtmckee/feedparser#506). Expat is the stdlib's.
        feedparser.api.PREFERRED_XML_PARSERS = [_SAX_DRIVER]
        return feedparser, bool(feedparser.api._XML_AVAILABLE)


def _parse_xml_feed(body: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed:
    if _attribute_flood(body):
        raise ParseError(f"refused: an element has more than {MAX_ATTRIBUTES:,} attributes")
    if b"&#" in body:
        # feedparser's loose parser raises on references to surrogates or past U+10FFFF
        # (&#55296;, &#99999999;), losing the whole feed: make them U+FFFD first.
        body = _CHARREF.sub(_safe_charref, body)
    fallback = None
    try:
        result = _feedparser(body, headers)
    except MemoryError:
        raise
    except Exception as failed:
        fallback = f"{type(failed).__name__}: {failed}"
        result = _feedparser(body, headers, strict=False)
    entries = tuple(_xml_entry(e) for e in result.entries)
    warning = fallback
    if result.get("bozo"):
        exc = result.get("bozo_exception")
        reason = f"{type(exc).__name__}: {exc}" if exc else "ill-formed feed"
        if not entries and not result.get("version"):
            raise ParseError(f"not a feed: {reason}")
        warning = warning or reason
    if not entries and not result.get("version"):
        raise ParseError("not a feed: no RSS, Atom or JSON Feed document found")
    feed = result.get("feed", {})
    return ParsedFeed(
        entries=entries,
        title=feed.get("title"),
        lang=feed.get("language") or headers.get("content-language"),
        warning=warning,
        floor_s=feed_floor(
            feed.get("ttl"), feed.get("sy_updateperiod"), feed.get("sy_updatefrequency")
        ),
    )


def _struct_to_dt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def _xml_entry(e: Any) -> Entry:
    content_html = ""
    lang = None
    if e.get("content"):
        content_html = " ".join(c.get("value", "") for c in e["content"])
        lang = e["content"][0].get("language")
    summary_detail = e.get("summary_detail") or {}
    lang = lang or summary_detail.get("language") or (e.get("title_detail") or {}).get("language")
    authors = tuple(a.get("name", "") for a in e.get("authors", []) if a.get("name"))
    published = _struct_to_dt(e.get("published_parsed")) or _struct_to_dt(e.get("updated_parsed"))
    return Entry(
        guid=e.get("id") or None,
        link=e.get("link") or None,
        title=e.get("title", "") or "",
        summary_html=e.get("summary", "") or "",
        content_html=content_html,
        published=published,
        lang=lang,
        authors=authors,
    )


def _parse_json_feed(body: bytes) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1), which feedparser does not read.

    Leniently, as feedparser reads XML: a bad byte is replaced (U+FFFD), nesting deeper than
    MAX_JSON_DEPTH is dropped (its values become null), numbers are kept as their digits (a
    100,000-digit id is an id), and a document that still does not decode keeps the items
    that do, up to the first broken one. The warning says what was lost.
    """
    warnings = []
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        warnings.append(f"invalid UTF-8 at byte {exc.start}, replaced")
        text = body.decode("utf-8-sig", errors="replace")
    doc: object
    try:
        doc = _JSON.decode(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        flat = _flatten(text, MAX_JSON_DEPTH)
        if flat != text:
            warnings.append(f"values nested deeper than {MAX_JSON_DEPTH} dropped")
        try:
            doc = _JSON.decode(flat)
        except (json.JSONDecodeError, RecursionError):
            salvaged = _salvage_items(flat)
            if salvaged is None:
                raise ParseError(f"invalid JSON Feed: {exc}") from exc
            doc = {"items": salvaged}
            warnings.append(f"invalid JSON ({exc}): kept the {len(salvaged)} items before it")
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ParseError("invalid JSON Feed: no 'items' list")
    entries = []
    for item in doc["items"]:
        if not isinstance(item, dict):
            continue
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        if not isinstance(authors, list):  # a wrong type loses the authors, not the feed
            authors = []
        entries.append(
            Entry(
                guid=_str(item.get("id")),
                link=_str(item.get("url")) or _str(item.get("external_url")),
                title=_str(item.get("title")) or "",
                summary_html=_str(item.get("summary")) or "",
                content_html=_str(item.get("content_html")) or _str(item.get("content_text")) or "",
                published=_iso_dt(item.get("date_published")) or _iso_dt(item.get("date_modified")),
                lang=_str(item.get("language")),
                authors=tuple(
                    n for a in authors if isinstance(a, dict) and (n := _str(a.get("name")))
                ),
            )
        )
    return ParsedFeed(
        entries=tuple(entries),
        title=_str(doc.get("title")),
        lang=_str(doc.get("language")),
        warning="; ".join(warnings) or None,
    )


# Digits stay a string: int() refuses more than 4,300 digits, and an id is text anyway.
_JSON = json.JSONDecoder(parse_int=str)
MAX_JSON_DEPTH = 64
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_ITEMS = re.compile(r'"items"\s*:\s*\[')
_BETWEEN = re.compile(r"[\s,]*")


def _flatten(text: str, max_depth: int) -> str:
    """``text`` with every array or object deeper than ``max_depth`` replaced by null, brackets
    inside strings left alone (one linear scan; unbalanced input is cut where it ends)."""
    out: list[str] = []
    depth = 0
    copied = 0  # text[:copied] is in out
    skip_from = -1  # where the dropped value began, while inside it
    for m in _JSON_TOKEN.finditer(text):
        token = m.group()
        if token in "[{":
            depth += 1
            if depth == max_depth + 1 and skip_from < 0:
                skip_from = m.start()
        elif token in "]}":
            depth -= 1
            if depth == max_depth and skip_from >= 0:
                out.append(text[copied:skip_from])
                out.append("null")
                copied = m.end()
                skip_from = -1
    if skip_from >= 0:
        out.append(text[copied:skip_from])
        out.append("null")
    else:
        out.append(text[copied:])
    return "".join(out)


def _salvage_items(text: str) -> list[object] | None:
    """The items that decode, in order, up to the first that does not (a truncated or
    corrupted document); None when there is no items list at all."""
    start = _ITEMS.search(text)
    if start is None:
        return None
    found: list[object] = []
    pos = start.end()
    while True:
        pos = _BETWEEN.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text) or text[pos] == "]":
            return found
        try:
            item, pos = _JSON.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError):
            return found
        found.append(item)


def _str(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return valid_text(str(value))


def _iso_dt(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
