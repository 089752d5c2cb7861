"""A topic's ``focus``: which parts of an article its query reads, and how many body words."""

from __future__ import annotations

import json
import random
import textwrap
from pathlib import Path

import pytest

from tracker.config import loader
from tracker.errors import ConfigError
from tracker.models import MatchInput, TopicSpec
from tracker.text import split_words
from tracker.topics.matcher import Matcher

from conftest import run_cli

WALL = '"border wall" OR (wall NEAR/3 Mexico) NOT "Wall Street"'
PASSING = MatchInput(
    title="Vance tours Ohio factory",
    summary="The senator spoke about jobs and trade with workers on the line.",
    content="Asked about immigration, he said he still backs the border wall.",
)


def _names(matcher: Matcher, doc: MatchInput) -> list[str]:
    return [hit.topic for hit in matcher.match(doc)]


def test_content_mention_counts_only_without_focus() -> None:
    matcher = Matcher.from_topics(
        [TopicSpec("all", WALL), TopicSpec("lead", WALL, focus=("title", "summary"))]
    )
    assert _names(matcher, PASSING) == ["all"]
    in_summary = MatchInput("Vance tours Ohio", "He still backs the border wall.", PASSING.content)
    assert _names(matcher, in_summary) == ["all", "lead"]


def test_focus_words_keeps_the_lead_of_the_body() -> None:
    lead = TopicSpec("lead", WALL, focus=("title", "summary", "content"), focus_words=8)
    matcher = Matcher.from_topics([lead])
    # "border wall" is words 6-7 of the summary: inside the first 8.
    early = MatchInput("Budget fight", "Congress cannot agree on the border wall money this week.")
    assert _names(matcher, early) == ["lead"]
    late = MatchInput(
        "Budget fight",
        "Congress cannot agree on spending for next year; the border wall is one item.",
    )
    assert _names(matcher, late) == []
    # The title is always read when focus names it, whatever its length.
    title = MatchInput("After a long day of votes, the border wall money is gone", "")
    assert _names(matcher, title) == ["lead"]
    # A phrase that starts inside the lead and ends past it does not count.
    edge = MatchInput("x", "one two three four five six seven border wall")
    assert _names(matcher, edge) == []
    # With no summary the lead is the content's first words.
    content = MatchInput("Budget fight", "", "The border wall money is gone again.")
    assert _names(matcher, content) == ["lead"]


def test_focus_words_count_only_the_parts_in_focus() -> None:
    spec = TopicSpec("c", "wall", focus=("content",), focus_words=3)
    matcher = Matcher.from_topics([spec])
    long_summary = " ".join(["word"] * 50)
    assert _names(matcher, MatchInput("wall", long_summary, "the wall here")) == ["c"]
    assert _names(matcher, MatchInput("wall", "wall", "no mention at all")) == []


def test_not_reads_only_the_focused_parts() -> None:
    matcher = Matcher.from_topics([TopicSpec("t", WALL, focus=("title", "summary"))])
    doc = MatchInput(
        "Border wall funding passes", "The bill goes to the president.", "Wall Street rose."
    )
    assert _names(matcher, doc) == ["t"]
    doc = MatchInput("Border wall funding passes", "Wall Street rose.", "")
    assert _names(matcher, doc) == []


def test_explanation_comes_from_the_focused_part() -> None:
    matcher = Matcher.from_topics([TopicSpec("t", "wall", focus=("summary",))])
    (hit,) = matcher.match(MatchInput("A wall in the title", "Then a wall in the summary.", ""))
    assert hit.terms == ("wall",)
    assert hit.snippet == "Then a **wall** in the summary."


def test_topics_with_and_without_focus_share_one_article() -> None:
    specs = [
        TopicSpec("a", "wall"),
        TopicSpec("b", "wall", focus=("title",)),
        TopicSpec("c", "wall", focus=("title",)),
        TopicSpec("d", "muro", focus=("content",)),
    ]
    matcher = Matcher.from_topics(specs)
    doc = MatchInput("The wall", "", "el muro")
    assert _names(matcher, doc) == ["a", "b", "c", "d"]
    assert _names(matcher, MatchInput("x", "a wall", "")) == ["a"]


def test_focus_equals_matching_the_truncated_article() -> None:
    """Reading title + the first N summary words is matching an article cut to them."""
    rng = random.Random(15)
    vocab = ["wall", "border", "mexico", "street", "muro", "trump", "pays", "the", "a", "new"]
    queries = [WALL, "wall AND NOT street", "(wall OR muro) NEAR/2 (border OR mexico)", "trump"]
    for limit in (1, 3, 6):
        focused = [TopicSpec(f"q{i}", q, focus=("title", "summary"), focus_words=limit)
                   for i, q in enumerate(queries)]  # fmt: skip
        plain = [TopicSpec(f"q{i}", q) for i, q in enumerate(queries)]
        fast, slow = Matcher.from_topics(focused), Matcher.from_topics(plain)
        for _ in range(300):
            title, summary, content = (
                " ".join(rng.choices(vocab, k=rng.randint(0, 9))) for _ in range(3)
            )
            cut = MatchInput(title, " ".join(split_words(summary)[:limit]), "")
            got = _names(fast, MatchInput(title, summary, content))
            assert got == _names(slow, cut), (title, summary, content, limit)


def test_config_focus_reaches_the_topic_spec(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent("""\
            topics:
              wall:
                query: wall
                focus: [title, summary]
                focus_words: 40
              steel:
                query: steel
            """),
        encoding="utf-8",
    )
    specs = {s.name: s for s in loader.load(path).topic_specs()}
    assert (specs["wall"].focus, specs["wall"].focus_words) == (("title", "summary"), 40)
    assert (specs["steel"].focus, specs["steel"].focus_words) == ((), None)


@pytest.mark.parametrize("bad", ["focus: [headline]", "focus: title", "focus_words: 0"])
def test_config_refuses_a_bad_focus(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"topics:\n  wall:\n    query: wall\n    {bad}\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        loader.load(path)


FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>Local</title><link>https://feed.example/</link><language>en</language>
<item><title>Vance tours Ohio factory</title><guid>g-passing</guid>
<description>The senator spoke about jobs and trade.</description>
<content:encoded><![CDATA[<p>The senator spoke about jobs and trade.</p>
<p>Asked about immigration, he said he still backs the border wall.</p>]]></content:encoded>
</item>
<item><title>Border wall funding passes the House</title><guid>g-wall</guid>
<description>The bill goes to the Senate.</description></item>
</channel></rss>
"""


@pytest.mark.slow
def test_topics_test_honours_focus_from_the_config(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_text(FEED, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(
        "topics:\n"
        "  everywhere: {query: '\"border wall\"'}\n"
        "  lead: {query: '\"border wall\"', focus: [title, summary]}\n",
        encoding="utf-8",
    )
    result = run_cli("topics", "test", "--config", str(config), "--json", str(feed))
    assert result.returncode == 0, result.stderr
    got = {r["id"]: r["topics"] for r in map(json.loads, result.stdout.splitlines())}
    assert got == {"g-passing": ["everywhere"], "g-wall": ["everywhere", "lead"]}
