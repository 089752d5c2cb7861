import csv
from pathlib import Path

import pytest

from tracker.errors import ParseError
from tracker.parse import parse_feed

from conftest import CORPUS

SOURCES = list(csv.DictReader((CORPUS / "SOURCES.tsv").open(encoding="utf-8"), delimiter="\t"))
REAL = [r for r in SOURCES if r["local_file"].startswith("real_feeds/")]
EDGE = [r for r in SOURCES if r["local_file"].startswith("edge_feeds/")]


def _headers(path: Path) -> dict[str, str]:
    if path.suffix == ".json":
        return {"content-type": "application/feed+json"}
    return {"content-type": "application/xml"}


@pytest.mark.parametrize("row", REAL, ids=lambda r: r["local_file"])
def test_real_feeds_parse_to_the_expected_entries(row: dict[str, str]) -> None:
    path = CORPUS / row["local_file"]
    body = path.read_bytes()
    expected = int(row["entries"])
    if path.suffix == ".json":
        parsed = parse_feed(body, _headers(path))
        assert len(parsed.entries) > 0  # feedparser reads no JSON Feed; we do
        return
    # A feed with an empty (or truncated) channel is still a feed: zero entries, no error.
    parsed = parse_feed(body, _headers(path))
    assert len(parsed.entries) == expected
    assert all(isinstance(e.title, str) for e in parsed.entries)


@pytest.mark.parametrize("row", EDGE, ids=lambda r: r["local_file"])
def test_edge_feeds_never_crash(row: dict[str, str]) -> None:
    body = (CORPUS / row["local_file"]).read_bytes()
    try:
        parsed = parse_feed(body, {"content-type": "application/xml"})
    except ParseError as exc:
        assert str(exc)  # a clear message, never another exception type
        return
    assert len(parsed.entries) == int(row["entries"])


def test_json_feed_fields() -> None:
    body = (CORPUS / "real_feeds/feedrs__jsonfeed_example_1.json").read_bytes()
    parsed = parse_feed(body, {"content-type": "application/json"})
    first = parsed.entries[0]
    assert first.guid and first.link and first.title


def test_spanish_feed_text_and_dates() -> None:
    body = (CORPUS / "real_feeds/chromeext__20minutos.mocks.js.xml").read_bytes()
    parsed = parse_feed(body, {"content-type": "application/rss+xml"})
    assert parsed.lang and parsed.lang.startswith("es")
    assert all(e.published is not None and e.published.tzinfo for e in parsed.entries)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html><body>hello</body></html>",
        b"\x00\xff garbage",
        b"{not json",
        b'{"version": "x"}',
    ],
)
def test_garbage_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError, match=r"not a feed|invalid JSON Feed"):
        parse_feed(body, {})
