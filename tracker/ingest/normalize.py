"""Entries to articles: canonical URLs, HTML to plain text, identity keys."""

from __future__ import annotations

import hashlib
import html
import re
import time
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import nh3
from url_normalize import url_normalize

from tracker.models import Article, Entry
from tracker.text import clean_text, primary_lang

# Query parameters that only track the click and never select content.
_TRACKING_EXACT = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "wickedid",
        "rb_clickid",
        "s_cid",
        "ncid",
        "cmpid",
        "ocid",
        "smid",
        "cid_source",
        "ito",
        "__twitter_impression",
    }
)
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "at_")

# ``[^<>]*`` rather than ``[^>]*``: from every "<p" the latter scanned to the end of a text
# with no ">", quadratic time (a 1.2 MB summary of "<p<p<p…" held the event loop 65 s).
_BLOCK_TAG = re.compile(
    r"<\s*/?\s*(?:p|br|div|li|ul|ol|h[1-6]|tr|td|th|blockquote|section|article|figure"
    r"|figcaption|hr|pre|table)\b[^<>]*>",
    re.IGNORECASE,
)


# A path or query made only of these needs no percent-encoding or case normalisation.
_PLAIN = re.compile(r"[A-Za-z0-9\-._~/!$&'()*+,;=:@]*\Z")
_DOT_SEGMENT = re.compile(r"/\.\.?(?:/|\Z)")


@lru_cache(maxsize=4096)
def _origin(scheme: str, netloc: str) -> tuple[str, str] | None:
    """Normalised scheme and host[:port]; hosts repeat across a feed's items, so cache them."""
    normal = url_normalize(f"{scheme}://{netloc}/")
    if not normal:
        return None
    parts = urlsplit(normal)
    return parts.scheme, parts.netloc


def canonical_url(url: str | None) -> str | None:
    """The form of ``url`` used to recognise one article across feeds.

    Lower-case scheme and host, no default port, normalised path and percent-encoding
    (url-normalize), then no fragment and no click-tracking query parameters.
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        netloc = parts.netloc.rpartition("@")[2]  # never user:password@
        origin = _origin(parts.scheme.lower(), netloc) if netloc else None
        if origin is None or origin[0] not in ("http", "https") or not origin[1]:
            return None
        path, query = parts.path, parts.query
        # url-normalize costs ~80 µs a URL; most article URLs are plain and skip it.
        if not (_PLAIN.match(path) and _PLAIN.match(query)) or _DOT_SEGMENT.search(path):
            normal = urlsplit(url_normalize(url.strip()) or "")
            path, query = normal.path, normal.query
    except (ValueError, UnicodeError):
        return None
    if query:
        query = urlencode(
            [
                (k, v)
                for k, v in parse_qsl(query, keep_blank_values=True)
                if k.lower() not in _TRACKING_EXACT and not k.lower().startswith(_TRACKING_PREFIXES)
            ]
        )
    return urlunsplit((origin[0], origin[1], path or "/", query, ""))


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: tags and scripts removed, entities decoded, spaces folded."""
    if not fragment:
        return ""
    if "<" not in fragment and "&" not in fragment:
        return " ".join(fragment.split())
    # Block boundaries become spaces so that "<p>a</p><p>b</p>" does not read as "ab".
    spaced = _BLOCK_TAG.sub(" ", fragment)
    stripped = nh3.clean(spaced, tags=set(), attributes={}, strip_comments=True)
    # str.split() folds every kind of white space, ~20x faster than re.sub(r"\s+").
    return " ".join(html.unescape(stripped).split())


def content_hash(*parts: str) -> str:
    """A short stable hash of text, for identity and change detection."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:32]


def entry_key(entry: Entry) -> str:
    """Identity of an entry within its feed: guid, else link, else a hash of title and content."""
    if entry.guid and entry.guid.strip():
        return "guid:" + entry.guid.strip()
    if entry.link and entry.link.strip():
        return "link:" + entry.link.strip()
    return "hash:" + content_hash(entry.title, entry.summary_html, entry.content_html)


def article_link(link: str | None) -> str | None:
    """The link alerts show: no ``javascript:``, ``data:`` or other non-web scheme, and no
    credentials (``user:secret@``) that a feed leaked into it."""
    if not link or not link.strip():
        return None
    link = link.strip()
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme and parts.scheme.lower() not in ("http", "https"):
        return None
    if "@" in parts.netloc:
        link = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return link


# Longest text kept per field, in characters. A 10 MB title cost 612 MB of memory; no
# alert needs more than this, and matching and storing stay proportionate. HTML is cut at
# four times the limit before it is converted, as markup takes room too.
TITLE_MAX = 1_000
SUMMARY_MAX = 20_000
CONTENT_MAX = 200_000


def _text(html: str, limit: int) -> str:
    text = clean_text(html_to_text(html[: limit * 4]))
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip() + "…"


# A publication date further ahead than this is a feed's mistake (year 99999 and the
# like), kept as no date rather than as news from the future.
FUTURE_SLACK_S = 86400.0


def to_article(entry: Entry, key: str, feed_lang: str | None, now: float | None = None) -> Article:
    """Normalise one parsed entry into an Article."""
    published = entry.published
    limit = (time.time() if now is None else now) + FUTURE_SLACK_S
    if published is not None and published.timestamp() > limit:
        published = None
    summary = _text(entry.summary_html, SUMMARY_MAX)
    content = _text(entry.content_html, CONTENT_MAX)
    if content == summary:
        content = ""
    return Article(
        entry_key=key,
        url=article_link(entry.link),
        canonical_url=canonical_url(entry.link),
        title=_text(entry.title, TITLE_MAX),
        summary=summary,
        content=content,
        published_at=published,
        lang=primary_lang(entry.lang) or primary_lang(feed_lang),
        authors=tuple(a for a in map(clean_text, entry.authors) if a),
        guid=entry.guid,
    )
