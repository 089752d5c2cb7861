"""A feed body → its items in feed order: each entry, its identity key and its article.

This is the one path from bytes to articles, for the pipeline and for `topics test`
alike. The pipeline runs its two halves apart: ``parse_keyed`` in a worker thread, then,
for only the entries new to the feed, ``to_item``, each in its own savepoint so that one
bad entry is skipped. ``read_items`` is the two halves in one call.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from tracker.errors import ParseError
from tracker.ingest import normalize, parse
from tracker.models import Entry, FeedItem, ParsedFeed


@dataclass(frozen=True)
class KeyedFeed:
    """A parsed feed with each entry's identity key, in feed order."""

    feed: ParsedFeed
    keys: tuple[str, ...]

    def entries(self) -> Iterator[tuple[Entry, str]]:
        """Each entry with its key."""
        return zip(self.feed.entries, self.keys, strict=True)

    def lang(self, configured: str | None) -> str | None:
        """The language for the feed's articles: the configured one, else the feed's own."""
        return configured or self.feed.lang


def parse_keyed(body: bytes, headers: Mapping[str, str], url: str) -> KeyedFeed:
    """Parse a feed body and key its entries (CPU-bound: the pipeline runs it in a thread);
    raise ParseError when nothing usable is in it."""
    try:
        parsed = parse.parse_feed(body, headers, url)
        return KeyedFeed(parsed, tuple(normalize.entry_key(e) for e in parsed.entries))
    except (ParseError, MemoryError):
        raise  # MemoryError: a parse worker's cap (ingest.isolate) says so itself
    except Exception as exc:  # feedparser itself fails on some hostile documents
        raise ParseError(f"feed could not be parsed: {type(exc).__name__}: {exc}") from exc


def to_item(entry: Entry, key: str, lang: str | None, now: float | None = None) -> FeedItem:
    """One keyed entry normalised into its article (``lang`` from ``KeyedFeed.lang``)."""
    return FeedItem(entry, key, normalize.to_article(entry, key, lang, now))


def read_items(
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    feed_lang: str | None = None,
    now: float | None = None,
) -> list[FeedItem]:
    """Every entry of a feed body as an item, in feed order; ``feed_lang`` is the feed's
    configured language, if any."""
    keyed = parse_keyed(body, headers, url)
    lang = keyed.lang(feed_lang)
    return [to_item(entry, key, lang, now) for entry, key in keyed.entries()]
