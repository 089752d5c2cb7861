import csv
from pathlib import Path

import pytest

from tracker.errors import ParseError
from tracker.ingest.parse import parse_feed

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


def test_character_references_out_of_range_in_any_spelling_lose_only_the_character() -> None:
    xml = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>a&#XD800;b &#00000000055296; &#99999999999; &#x0000041;</title>"
        b"<guid>1</guid></item><item><title>ok</title><guid>2</guid></item></channel></rss>"
    )
    parsed = parse_feed(xml, {"content-type": "application/rss+xml"}, "https://x.example/f")
    assert [e.title for e in parsed.entries] == ["a\ufffdb \ufffd \ufffd A", "ok"]


def test_json_feed_fields_of_the_wrong_type_lose_only_themselves() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "items": ['
        b'{"id": "1", "title": "a", "authors": 5},'
        b'{"id": "2", "title": 7, "url": {"x": 1}, "authors": [{"name": "Ana"}, 3]}]}'
    )
    parsed = parse_feed(body, {"content-type": "application/feed+json"}, "https://x.example/f")
    assert [(e.guid, e.title, e.link, e.authors) for e in parsed.entries] == [
        ("1", "a", None, ()),
        ("2", "7", None, ("Ana",)),
    ]


def test_rss_served_as_json_is_read_as_rss() -> None:
    body = b'\xef\xbb\xbf<?xml version="1.0"?><rss version="2.0"><channel><item><title>a</title>'
    body += b"<guid>1</guid></item></channel></rss>"
    parsed = parse_feed(body, {"content-type": "application/json"}, "https://x.example/f")
    assert [e.title for e in parsed.entries] == ["a"]


# One bad value loses one value (issue 10): what used to lose the whole feed.

JSON_HEAD = b'{"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": ['


def test_a_lone_surrogate_in_a_namespace_uri_keeps_the_feed() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?>'
        b'<rss version="2.0" xmlns:dc="http://purl.org/\xed\xa0\x80dc/"><channel><title>x</title>'
        b"<item><title>kept</title><guid>g1</guid><dc:creator>me</dc:creator></item>"
        b"</channel></rss>"
    )
    parsed = parse_feed(body, {})
    assert [(e.title, e.guid) for e in parsed.entries] == [("kept", "g1")]
    assert parsed.warning and "ValueError" in parsed.warning  # what the strict parser said


def test_a_bad_byte_in_a_json_feed_is_replaced() -> None:
    body = JSON_HEAD + b'{"id": "1", "title": "caf\xff"}, {"id": "2", "title": "ok"}]}'
    parsed = parse_feed(body, {"content-type": "application/feed+json"})
    assert [e.title for e in parsed.entries] == ["caf\ufffd", "ok"]
    at = body.index(b"\xff")
    assert parsed.warning == f"invalid UTF-8 at byte {at}, replaced"


def test_json_nested_1000_deep_loses_only_the_deep_value() -> None:
    deep = b"[" * 1000 + b'"x"' + b"]" * 1000
    body = JSON_HEAD + b'{"id": "1", "title": "a", "_ext": ' + deep + b'}, {"id": "2"}]}'
    parsed = parse_feed(body, {})
    assert [(e.guid, e.title) for e in parsed.entries] == [("1", "a"), ("2", "")]
    assert parsed.warning == "values nested deeper than 64 dropped"


def test_brackets_inside_strings_are_not_nesting() -> None:
    deep = b"[" * 100 + b"]" * 100
    title = b'"[[[{{{ not nesting ]]]}}}"'
    body = JSON_HEAD + b'{"id": "1", "title": ' + title + b', "x": ' + deep + b"}]}"
    (entry,) = parse_feed(body, {}).entries
    assert entry.title == "[[[{{{ not nesting ]]]}}}"


def test_a_100000_digit_id_is_kept_as_its_digits() -> None:
    body = JSON_HEAD + b'{"id": ' + b"7" * 100_000 + b', "title": "a"}]}'
    (entry,) = parse_feed(body, {}).entries
    assert entry.guid == "7" * 100_000


def test_a_truncated_json_feed_keeps_the_items_before_the_cut() -> None:
    body = JSON_HEAD + b'{"id": "1", "title": "a"}, {"id": "2", "title": "b"}, {"id": "3", "ti'
    parsed = parse_feed(body, {})
    assert [e.guid for e in parsed.entries] == ["1", "2"]
    assert parsed.warning and "kept the 2 items before it" in parsed.warning


def test_json_without_an_items_list_is_still_an_error() -> None:
    with pytest.raises(ParseError, match="invalid JSON Feed"):
        parse_feed(b'{"version": "x", "title": "no items", "ite', {})


def test_an_element_with_100000_attributes_is_refused_before_feedparser() -> None:
    attrs = b" ".join(b'a%d="x"' % i for i in range(100_000))
    body = (
        b'<rss version="2.0"><channel><item ' + attrs + b"><title>t</title></item></channel></rss>"
    )
    with pytest.raises(ParseError, match="more than 1,000 attributes"):
        parse_feed(body, {})
    # Long tags that are not floods pass: a data: URI, a long alt text of few words.
    data_uri = b'<img src="data:image/png;base64,' + b"A" * 50_000 + b'"/>'
    body = (
        b'<rss version="2.0"><channel><item><title>t</title><description><![CDATA['
        + data_uri
        + b"]]></description></item></channel></rss>"
    )
    assert len(parse_feed(body, {}).entries) == 1


def test_a_parse_looks_for_no_module() -> None:
    """feedparser's default SAX driver list starts with libxml2's bindings: a failed import
    per parse that searched sys.path, and another parser wherever they are installed."""
    import importlib.abc
    import sys

    class Watch(importlib.abc.MetaPathFinder):
        def __init__(self) -> None:
            self.sought: list[str] = []

        def find_spec(self, name: str, path: object = None, target: object = None) -> None:
            self.sought.append(name)

    rss = b"<rss version='2.0'><channel><item><title>a</title></item></channel></rss>"
    parse_feed(rss, {"content-type": "application/xml"})  # feedparser imported first
    watch = Watch()
    sys.meta_path.insert(0, watch)
    try:
        parsed = parse_feed(rss, {"content-type": "application/xml"})
    finally:
        sys.meta_path.remove(watch)
    assert [e.title for e in parsed.entries] == ["a"] and parsed.warning is None
    assert watch.sought == []
