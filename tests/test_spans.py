"""Cutting known items before feedparser (ingest.spans) changes nothing about the items
kept: on every feed of the corpus, the entries, keys and feed fields of a parse with some
items known are those of the full parse, less the known items; where the scan is unsure,
the whole document is parsed."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import time
from collections.abc import Mapping
from email.utils import formatdate
from pathlib import Path

import pytest

from tracker.config import loader as config_mod
from tracker.config.settings import to_settings
from tracker.ingest import items, spans
from tracker.ingest.fetch import make_client
from tracker.ingest.isolate import InlineParser
from tracker.ingest.items import KeyedFeed
from tracker.ingest.pipeline import Poller
from tracker.models import PollOutcome
from tracker.service.daemon import poll_settings
from tracker.settings import ParseSettings
from tracker.store.facade import Store

from conftest import CORPUS
from feedserver import FeedServer

SOURCES = list(csv.DictReader((CORPUS / "SOURCES.tsv").open(encoding="utf-8"), delimiter="\t"))
URL = "https://example.org/feed"


def _headers(name: str) -> dict[str, str]:
    return {
        "content-type": "application/feed+json" if name.endswith(".json") else "application/xml"
    }


def _parse(body: bytes, headers: dict[str, str], known: frozenset[bytes]) -> KeyedFeed | str:
    try:
        return items.parse_keyed(body, headers, URL, known)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def _known_sets(prints: tuple[bytes, ...]) -> list[frozenset[bytes]]:
    n = len(prints)
    return [
        frozenset(prints[2:]),  # two new items at the top, the rest known
        frozenset(prints[:-2]),  # two new at the bottom
        frozenset(prints[::2]),  # every other one
        frozenset(prints),  # nothing new
        frozenset(prints[n // 2 : n // 2 + 1]),  # one in the middle
    ]


@pytest.mark.parametrize("row", SOURCES, ids=lambda r: r["local_file"])
def test_a_parse_with_known_items_equals_the_full_parse_less_them(row: dict[str, str]) -> None:
    name = row["local_file"]
    body = (CORPUS / name).read_bytes()
    headers = _headers(name)
    full = _parse(body, headers, frozenset())
    if isinstance(full, str) or not full.prints:
        # Nothing is remembered, so nothing can be cut: any "known" set changes nothing.
        assert _parse(body, headers, frozenset({b"x" * spans.FINGERPRINT_BYTES})) == full
        return
    assert full.cut == 0 and len(full.prints) == len(full.feed.entries)
    for known in _known_sets(full.prints):
        got = _parse(body, headers, known)
        assert isinstance(got, KeyedFeed)
        kept = [i for i, p in enumerate(full.prints) if p not in known]
        assert got.feed.entries == tuple(full.feed.entries[i] for i in kept)
        assert got.keys == tuple(full.keys[i] for i in kept)
        assert got.prints == full.prints
        if got.cut:
            assert got.cut == len(full.prints) - len(kept)
        bare = dataclasses.replace(got.feed, entries=())
        assert bare == dataclasses.replace(full.feed, entries=())


def test_the_corpus_exercises_both_paths() -> None:
    # The identity above means something only if many feeds are cut and some are not.
    cut = unsure = 0
    for row in SOURCES:
        name = row["local_file"]
        body = (CORPUS / name).read_bytes()
        full = _parse(body, _headers(name), frozenset())
        if isinstance(full, KeyedFeed) and full.prints:
            cut += 1
        else:
            unsure += 1
    assert cut >= 40 and unsure >= 20, (cut, unsure)


@pytest.mark.parametrize(
    ("why", "body"),
    [
        (
            "CDATA holding an item's end",
            b"<rss><channel><item><title><![CDATA[</item>]]></title>"
            b"</item><item><title>b</title></item></channel></rss>",
        ),
        (
            "a comment holding an item",
            b"<rss><channel><!-- <item>x</item> --><item><title>a</title></item></channel></rss>",
        ),
    ],
)
def test_the_scan_steps_over_cdata_and_comments(why: str, body: bytes) -> None:
    found = spans.split(body, {})
    assert found is not None, why
    assert len(found.bounds) == len(items.parse_keyed(body, {}, URL).feed.entries)


@pytest.mark.parametrize(
    ("why", "body", "headers"),
    [
        ("UTF-16", "<rss><channel><item/></channel></rss>".encode("utf-16"), {}),
        (
            "declared latin-1",
            b'<?xml version="1.0" encoding="iso-8859-1"?><rss><channel>'
            b"<item><title>caf\xe9</title></item></channel></rss>",
            {},
        ),
        (
            "HTTP charset",
            b"<rss><channel><item><title>a</title></item></channel></rss>",
            {"content-type": "application/xml; charset=windows-1252"},
        ),
        (
            "text/xml without charset",
            b"<rss><channel><item><title>a</title></item></channel></rss>",
            {"content-type": "text/xml"},
        ),
        ("invalid UTF-8", b"<rss><channel><item><title>\xff</title></item></channel></rss>", {}),
        ("nested items", b"<rss><channel><item><item>a</item></item></channel></rss>", {}),
        (
            "self-closing item",
            b"<rss><channel><item/><item><title>a</title></item></channel></rss>",
            {},
        ),
        (
            "namespace on an item",
            b'<rss><channel><item xmlns:x="urn:x"><x:y>a</x:y></item></channel></rss>',
            {},
        ),
        ("xml:base in an item", b'<feed><entry xml:base="http://a/"><id>1</id></entry></feed>', {}),
        (
            "entities",
            b'<!DOCTYPE rss [<!ENTITY e "<item>">]><rss><channel><item>&e;</item></channel></rss>',
            {},
        ),
        ("unterminated CDATA", b"<rss><channel><item><![CDATA[ a </item></channel></rss>", {}),
        ("item and entry", b"<rss><channel><item>a</item><entry>b</entry></channel></rss>", {}),
        ("no items", b"<rss><channel><title>a</title></channel></rss>", {}),
    ],
)
def test_the_scan_is_unsure(why: str, body: bytes, headers: dict[str, str]) -> None:
    assert spans.split(body, headers) is None, why


def test_fingerprints_depend_on_the_root_and_the_content_type() -> None:
    item = b"<item><title>a</title></item>"
    a = spans.split(b"<rss version='2.0'><channel>" + item + b"</channel></rss>", {})
    b = spans.split(b"<rss version='0.91'><channel>" + item + b"</channel></rss>", {})
    c = spans.split(
        b"<rss version='2.0'><channel>" + item + b"</channel></rss>",
        {"content-type": "application/rss+xml"},
    )
    assert a and b and c
    assert len({a.prints, b.prints, c.prints}) == 3
    assert spans.unpack(spans.pack(a.prints)) == frozenset(a.prints)


def test_fingerprints_are_what_earlier_versions_stored() -> None:
    """The hash of the Content-Type, the root start tag and the item's bytes: feeds' stored
    fingerprints stay valid across versions that compute it another way."""
    import hashlib

    root, item = b"<rss version='2.0'>", b"<item><title>a &amp; b</title></item>"
    found = spans.split(
        root + b"<channel>" + item + item + b"</channel></rss>",
        {"content-type": "text/xml; charset=utf-8"},
    )
    assert found is not None
    expected = hashlib.blake2b(b"text/xml; charset=utf-8\0" + root + b"\0" + item, digest_size=12)
    assert found.prints == (expected.digest(), expected.digest())


class _Recording:
    """The inline parser, keeping each result (how many known items it cut)."""

    def __init__(self) -> None:
        self.results: list[KeyedFeed] = []

    async def parse(
        self,
        body: bytes,
        headers: Mapping[str, str],
        url: str,
        limits: ParseSettings,
        known: frozenset[bytes] = frozenset(),
    ) -> KeyedFeed:
        keyed = await InlineParser().parse(body, headers, url, limits, known)
        self.results.append(keyed)
        return keyed


def _poll(cfg: config_mod.Config, parser: _Recording) -> PollOutcome:
    async def go() -> PollOutcome:
        store = Store(cfg.database_path)
        try:
            store.sync_feeds(cfg.feed_specs(), time.time())
            async with make_client(timeout_s=5, user_agent="t", concurrency=2) as client:
                poller = Poller(client, store, poll_settings(to_settings(cfg)), parser=parser)
                (state,) = store.pollable_feeds(time.time())
                return await poller.poll(state)
        finally:
            store.close()

    return asyncio.run(go())


def _rss(stories: list[int], edited: int | None = None) -> bytes:
    # Fixed dates: an item is the same bytes from one document to the next, as on a server.
    when = formatdate(_NOW - 3600, usegmt=True)
    out = ['<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>']
    for i in stories:
        title = f"Story {i} on steel tariffs" + (", updated" if i == edited else "")
        out.append(
            f"<item><title>{title}</title><link>https://n.example/{i}</link>"
            f"<guid>g{i}</guid><pubDate>{when}</pubDate></item>"
        )
    return "".join([*out, "</channel></rss>"]).encode()


_NOW = time.time()


def test_a_changed_feed_parses_only_its_new_items(feed_server: FeedServer, tmp_path: Path) -> None:
    url = feed_server.add("/c.xml", _rss(list(range(19, -1, -1))))
    cfg = config_mod.parse(
        f"database: t.db\ndefaults: {{jitter: 0s}}\nfeeds:\n  - url: {url}\n"
        "topics:\n  steel: {query: 'steel tariffs'}\n",
        tmp_path,
    )
    parser = _Recording()
    assert _poll(cfg, parser).new_entries == 20  # the baseline: parsed whole
    assert parser.results[-1].cut == 0 and len(parser.results[-1].prints) == 20

    feed_server.add("/c.xml", _rss(list(range(21, 1, -1))))
    second = _poll(cfg, parser)
    assert (second.new_entries, second.alerts) == (2, 2)
    # The 18 items carried before were cut: feedparser read the head and the two new ones.
    assert parser.results[-1].cut == 18 and len(parser.results[-1].feed.entries) == 2

    # The same items, one of them edited: the edited one is parsed (its key is known, so it
    # is not news), the others are cut.
    feed_server.add("/c.xml", _rss(list(range(21, 1, -1)), edited=5))
    third = _poll(cfg, parser)
    assert third.ok and third.new_entries == 0
    assert parser.results[-1].cut == 19 and len(parser.results[-1].feed.entries) == 1
