"""The one path from a feed body to articles (ingest/items.py), and topics test's use of it."""

import pytest

from tracker.errors import ParseError
from tracker.ingest import items
from tracker.models import StoredArticle, TopicSpec
from tracker.topics import explore
from tracker.topics.matcher import Matcher

from rss import Item, rss

XML = {"content-type": "application/rss+xml"}


def test_items_come_in_feed_order_with_keys_and_articles() -> None:
    body = rss(
        [
            Item("Border wall vote", link="https://news.example/a", guid="g-1"),
            Item("Budget talks", link="https://news.example/b?utm_source=x"),
            Item("No link at all"),
        ],
        lang="es-MX",
    )
    read = items.read_items(body, XML, "https://news.example/feed")
    assert [i.key for i in read][:2] == ["guid:g-1", "link:https://news.example/b?utm_source=x"]
    assert read[2].key.startswith("hash:")
    assert [i.article.title for i in read] == ["Border wall vote", "Budget talks", "No link at all"]
    assert read[1].article.canonical_url == "https://news.example/b"
    assert {i.article.lang for i in read} == {"es"}  # the feed's own language
    # A configured language wins over the feed's.
    assert items.read_items(body, XML, "", feed_lang="en")[0].article.lang == "en"


def test_the_pipeline_halves_make_the_same_items() -> None:
    body = rss([Item("One", guid="1"), Item("Two", guid="2")])
    keyed = items.parse_keyed(body, XML, "")
    halves = [items.to_item(e, k, keyed.lang(None), now=1e9) for e, k in keyed.entries()]
    assert halves == items.read_items(body, XML, "", now=1e9)


def test_a_crashing_parser_is_a_parse_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*_args: object) -> None:
        raise RecursionError("too deep")

    monkeypatch.setattr(items.parse, "parse_feed", crash)
    with pytest.raises(ParseError, match="feed could not be parsed: RecursionError: too deep"):
        items.parse_keyed(b"<rss/>", XML, "")


def test_topics_match_items_and_stored_articles_handed_in() -> None:
    matcher = Matcher.from_topics([TopicSpec(name="wall", query="wall")], {})
    body = rss([Item("Border wall vote", guid="g-1"), Item("Budget talks", guid="g-2")])
    tested = explore.test_articles(items.read_items(body, XML, ""), matcher, "Daily")
    assert [(t.id, t.feed, [h.topic for h in t.hits]) for t in tested] == [
        ("g-1", "Daily", ["wall"]),
        ("g-2", "Daily", []),
    ]
    stored = [
        StoredArticle(1, None, "Wall built", "", "", None, "en", "Daily"),
        StoredArticle(2, None, "Budget", "", "", None, "en", "Daily"),
    ]
    assert [t.id for t in explore.backtest(stored, matcher)] == ["1"]
