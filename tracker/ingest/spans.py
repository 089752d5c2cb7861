"""A feed document's items as byte spans, each with a fingerprint, so that the items a feed
carried at its last parse are cut out before feedparser reads the rest.

A changed feed mostly carries what it carried before (2 new items of 20): parsing those
again was most of its cost. ``split`` finds each top-level ``<item>`` (RSS, RDF) or
``<entry>`` (Atom) by a byte scan that steps over CDATA sections, comments and processing
instructions, and fingerprints each span (a hash of its bytes, with the document's root
start tag and Content-Type: the context they were parsed in). The pipeline remembers the
fingerprints of a body that parsed cleanly, and the next body's spans that match are cut
before feedparser parses what is left (the feed's head and its new items). feedparser
remains the only parser: this module decides nothing about what an item says.

The scan answers None, and the body is parsed whole, whenever it cannot be sure that
cutting keeps the other items as they are:
- an encoding other than UTF-8 or ASCII (declared, from the HTTP charset, or by a BOM), or
  bytes that are not valid UTF-8;
- a DOCTYPE or an entity declaration (an entity may expand to markup);
- items nested in items, a self-closing item, an unterminated CDATA, comment or tag, both
  ``<item>`` and ``<entry>`` elements in one document, or no item at all;
- a namespace declaration or an ``xml:base`` inside an item (feedparser tracks namespaces
  for the whole document, so an item's declaration can change how later items read).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

# What the scan must see to stay in step with the XML: the start of a CDATA section, a
# comment or a processing instruction (their content is skipped), or an item's tag.
_TOKEN = re.compile(rb"<!\[CDATA\[|<!--|<\?|<(/?)(item|entry)(?=[\s/>])")
_ENDS = {b"<![CDATA[": b"]]>", b"<!--": b"-->", b"<?": b"?>"}
# The rest of an item's start tag: attributes (quoted values may hold '>') and its end.
_START_REST = re.compile(rb"""(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*(/?)>""")
_END_REST = re.compile(rb"\s*>")
_DECLARED = re.compile(rb"""\A\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_ROOT = re.compile(rb"<(?![?!])[^>]*>")
_UTF8 = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_UNSURE_IN_ITEM = re.compile(rb"xmlns|xml:base")

FINGERPRINT_BYTES = 12


@dataclass(frozen=True)
class Spans:
    """Where a document's items are, and each one's fingerprint, in document order."""

    body: bytes
    bounds: tuple[tuple[int, int], ...]
    prints: tuple[bytes, ...]

    def without(self, known: Collection[bytes]) -> tuple[bytes, int]:
        """The document with every item whose fingerprint is in ``known`` cut out, and how
        many were cut (0: the document itself)."""
        parts: list[bytes] = []
        copied = 0
        cut = 0
        for (start, end), fingerprint in zip(self.bounds, self.prints, strict=True):
            if fingerprint in known:
                parts.append(self.body[copied:start])
                copied = end
                cut += 1
        if not cut:
            return self.body, 0
        parts.append(self.body[copied:])
        return b"".join(parts), cut


def pack(prints: Collection[bytes]) -> bytes:
    """Fingerprints as one value for the store."""
    return b"".join(prints)


def unpack(packed: bytes | None) -> frozenset[bytes]:
    """The fingerprints ``pack`` stored."""
    if not packed:
        return frozenset()
    n = FINGERPRINT_BYTES
    return frozenset(packed[i : i + n] for i in range(0, len(packed) - n + 1, n))


def split(body: bytes, headers: Mapping[str, str]) -> Spans | None:
    """The document's item spans, or None when cutting items out might change the others."""
    if not _plain_encoding(body, headers):
        return None
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return None
    bounds: list[tuple[int, int]] = []
    name: bytes | None = None
    start = -1  # where the open item began, -1 outside one
    pos = 0
    while (m := _TOKEN.search(body, pos)) is not None:
        token = m.group()
        end_marker = _ENDS.get(token)
        if end_marker is not None:
            close = body.find(end_marker, m.end())
            if close < 0:
                return None
            pos = close + len(end_marker)
            continue
        closing, tag = m.group(1), m.group(2)
        if name is None:
            name = tag
        elif tag != name:
            return None  # <item> and <entry> in one document
        if not closing:
            rest = _START_REST.match(body, m.end())
            if start >= 0 or rest is None or rest.group(1):
                return None  # nested, unterminated or self-closing
            start, pos = m.start(), rest.end()
        else:
            rest = _END_REST.match(body, m.end())
            if start < 0 or rest is None:
                return None
            bounds.append((start, rest.end()))
            start, pos = -1, rest.end()
    if start >= 0 or not bounds:
        return None
    # Searched and hashed in place: copying each item's bytes (twice for the search) was a
    # third of the scan.
    if any(_UNSURE_IN_ITEM.search(body, s, e) for s, e in bounds):
        return None
    root = _ROOT.search(body, 0, bounds[0][0])
    context = headers.get("content-type", "").encode("utf-8", "replace") + b"\0"
    context += (root.group() if root else b"") + b"\0"
    seed = hashlib.blake2b(context, digest_size=FINGERPRINT_BYTES)
    view = memoryview(body)
    prints: list[bytes] = []
    for s, e in bounds:
        item = seed.copy()  # the hash of context + the item's bytes, as before
        item.update(view[s:e])
        prints.append(item.digest())
    return Spans(body, tuple(bounds), tuple(prints))


def _plain_encoding(body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether the document is UTF-8 (or ASCII) by every account: its BOM, its XML
    declaration, the HTTP charset, and its bytes."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    elif body[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\0" in body:
        return False  # UTF-16 or UTF-32
    declared = _DECLARED.match(body)
    if declared is not None and declared.group(1).decode().lower() not in _UTF8:
        return False
    ctype = headers.get("content-type", "")
    charset = _CHARSET.search(ctype)
    if charset is not None and charset.group(1).lower() not in _UTF8:
        return False
    if charset is None and ctype.strip().lower().startswith("text/"):
        return False  # text/* without a charset is US-ASCII by RFC 3023: feedparser's call
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
