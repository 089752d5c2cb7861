"""A feed body → its items in feed order: each entry, its identity key and its article.

This is the one path from bytes to articles, for the pipeline and for `topics test`
alike. The pipeline runs its two halves apart: ``parse_keyed`` in a worker thread, then,
for only the entries new to the feed, ``to_item``, each in its own savepoint so that one
bad entry is skipped. ``read_items`` is the two halves in one call.

``parse_keyed`` is handed the fingerprints of the items the feed carried at its last clean
parse (``ingest.spans``): those items are cut from the document before feedparser parses
it, and the result carries this document's fingerprints for the next poll.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

from tracker.errors import ParseError
from tracker.ingest import normalize, parse, spans
from tracker.models import Entry, FeedItem, ParsedFeed


@dataclass(frozen=True)
class KeyedFeed:
    """A parsed feed with each entry's identity key, in feed order."""

    feed: ParsedFeed
    keys: tuple[str, ...]
    # The fingerprints of this document's items, to cut them from the next one; empty when
    # they must not be remembered (the scan was unsure, or the parse gave a warning).
    prints: tuple[bytes, ...] = ()
    # How many known items were cut before parsing (not among ``feed.entries``).
    cut: int = 0

    def entries(self) -> Iterator[tuple[Entry, str]]:
        """Each entry with its key."""
        return zip(self.feed.entries, self.keys, strict=True)

    def lang(self, configured: str | None) -> str | None:
        """The language for the feed's articles: the configured one, else the feed's own."""
        return configured or self.feed.lang


def parse_keyed(
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    known: Collection[bytes] = frozenset(),
) -> KeyedFeed:
    """Parse a feed body and key its entries (CPU-bound: the pipeline runs it in a worker);
    raise ParseError when nothing usable is in it. The items whose fingerprints are in
    ``known`` are cut first, unless the scan is unsure or the cut document gives a warning:
    then the whole document is parsed, as if nothing were known."""
    found = spans.split(body, headers) if body[:1] != b"{" else None
    if found is not None and known:
        cut_body, cut = found.without(known)
        if cut:
            try:
                keyed = _parse_keyed(cut_body, headers, url)
            except ParseError:
                pass  # the whole document decides
            else:
                # One entry per item kept, as the scan counted them, or the whole decides.
                kept = len(found.prints) - cut
                if keyed.feed.warning is None and len(keyed.feed.entries) == kept:
                    return dataclasses.replace(keyed, prints=found.prints, cut=cut)
    keyed = _parse_keyed(body, headers, url)
    if found is None or keyed.feed.warning is not None:
        return keyed
    if len(keyed.feed.entries) != len(found.prints):
        return keyed  # items the scan saw are not feedparser's entries: remember none
    return dataclasses.replace(keyed, prints=found.prints)


def _parse_keyed(body: bytes, headers: Mapping[str, str], url: str) -> KeyedFeed:
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
