"""Hostile feed bodies for the fuzz suite, made from the real feeds in tests/data.

Provenance: nothing is stored. Each case is one or two mutations of a file listed in
``tests/data/corpus/SOURCES.tsv`` (``real_feeds/``: RSS 0.91–2.0, RDF, Atom and JSON Feed
from public projects' test data, each row naming its repository and commit), drawn by a
``random.Random`` seeded with the case number, so case N is the same bytes on every run.
The mutations are those of issue 10's survey: truncation, flipped bytes, bad bytes (0xFF,
an encoded lone surrogate, NUL, references to surrogates), deep nesting, attribute floods,
a lone surrogate in a namespace URI, a lying encoding declaration and huge numbers.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path

REAL = Path(__file__).parent / "data" / "corpus" / "real_feeds"
FEEDS = sorted(p for p in REAL.iterdir() if p.suffix in (".xml", ".rss", ".rdf", ".json"))

BAD_BYTES = [
    b"\xff",
    b"\xed\xa0\x80",  # a lone surrogate, as UTF-8 would encode it
    b"\x00",
    b"&#xD800;",
    b"&#55296;",
    b"&#99999999999;",
    b"\\ud800",  # a lone surrogate in JSON
    b"\xef\xbb\xbf",
    b"\xc3",
    b"\x1b[31m",
    b"\xe2\x80\xae",  # U+202E
    b"<![CDATA[",
    b"]]>",
    b"&",
    b"<",
    b'"',
]

Mutation = Callable[[bytes, random.Random], bytes]


def truncate(body: bytes, rng: random.Random) -> bytes:
    return body[: rng.randrange(len(body) + 1)]


def flip(body: bytes, rng: random.Random) -> bytes:
    data = bytearray(body)
    for _ in range(rng.choice([1, 3, 30])):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def _insert(body: bytes, rng: random.Random, piece: bytes) -> bytes:
    at = rng.randrange(len(body) + 1)
    return body[:at] + piece + body[at:]


def bad_byte(body: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.choice([1, 2, 10])):
        body = _insert(body, rng, rng.choice(BAD_BYTES))
    return body


def deep(body: bytes, rng: random.Random) -> bytes:
    depth = rng.choice([100, 1000, 20_000, 100_000])
    if body.lstrip()[:1] == b"{":
        return _insert(body, rng, b"[" * depth + b"]" * rng.choice([0, depth]))
    closing = rng.choice([b"", b"</a>" * depth])
    return _insert(body, rng, b"<a>" * depth + closing)


def attribute_flood(body: bytes, rng: random.Random) -> bytes:
    n = rng.choice([200, 999, 1001, 20_000])
    attrs = b" " + b" ".join(b'a%d="x"' % i for i in range(n))
    m = re.search(rb"<(item|entry)\b", body)
    at = m.end() if m else rng.randrange(len(body) + 1)
    return body[:at] + attrs + body[at:]


def namespace_surrogate(body: bytes, rng: random.Random) -> bytes:
    piece = rng.choice([b"\xed\xa0\x80", b"\xff", b" ", b"\x00"])
    out, n = re.subn(rb'(xmlns:\w+=")([^"]{0,10})', lambda m: m.group(1) + m.group(2) + piece, body)
    if n:
        return out
    return body.replace(b"<rss ", b'<rss xmlns:dc="http://purl.org/' + piece + b'dc/" ', 1)


def lying_encoding(body: bytes, rng: random.Random) -> bytes:
    label = rng.choice([b"utf-16", b"utf-32", b"big5", b"bogus", b"iso-8859-1", b"utf-7"])
    out, n = re.subn(rb'encoding=["\'][^"\']*["\']', b'encoding="' + label + b'"', body, count=1)
    return out if n else b'<?xml version="1.0" encoding="' + label + b'"?>' + body


def huge_number(body: bytes, rng: random.Random) -> bytes:
    digits = b"9" * rng.choice([5000, 100_000])
    out, n = re.subn(rb'("id"\s*:\s*)"[^"]*"', lambda m: m.group(1) + digits, body, count=3)
    return out if n else _insert(body, rng, b"&#" + digits + b";")


MUTATIONS: list[Mutation] = [
    truncate,
    flip,
    bad_byte,
    deep,
    attribute_flood,
    namespace_surrogate,
    lying_encoding,
    huge_number,
]


def mutate(body: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One or two mutations of ``body``, and their names."""
    names = []
    for _ in range(rng.choice([1, 1, 2])):
        mutation = rng.choice(MUTATIONS)
        body = mutation(body, rng)
        names.append(mutation.__name__)
    return body, "+".join(names)


def case(n: int) -> tuple[str, bytes]:
    """Case ``n``: a file name saying what it is made of, and its bytes."""
    rng = random.Random(n)
    source = rng.choice(FEEDS)
    body, what = mutate(source.read_bytes(), rng)
    return f"{n:04d}-{what}-{source.stem[:40]}{source.suffix}", body


def cases(start: int, count: int) -> Iterator[tuple[str, bytes]]:
    for n in range(start, start + count):
        yield case(n)
