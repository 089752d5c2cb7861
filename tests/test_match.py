"""Matching articles against topics: boundaries, accents, phrases, NEAR, fields, hits."""

from __future__ import annotations

import pytest

from tracker.models import MatchInput, TopicHit, TopicSpec
from tracker.text import fold
from tracker.topics.matcher import Matcher, evaluate_reference
from tracker.topics.query import QuerySyntaxError, check_query

LISTS = {"nafta": ["NAFTA", "TLCAN", "USMCA", "T-MEC", "tratado de libre comercio"]}
STEEL = "(steel OR aluminum OR acero OR aluminio) NEAR/8 (tariff* OR arancel*)"
WALL = (
    '"border wall" OR "muro fronterizo" OR (wall NEAR/5 (border OR Mexico OR frontera))'
    ' NOT "Wall Street"'
)


def doc(title: str, summary: str = "", **fields: str) -> MatchInput:
    return MatchInput(title=title, summary=summary, **fields)


def hits(query: str, article: MatchInput, lists: dict[str, list[str]] | None = None) -> bool:
    """Whether ``query`` matches, asserting that the fast and reference paths agree."""
    fast = bool(Matcher.from_topics([TopicSpec("t", query)], lists).match(article))
    assert fast == evaluate_reference(query, article, lists), (query, article)
    return fast


def hit(query: str, article: MatchInput, lists: dict[str, list[str]] | None = None) -> TopicHit:
    (found,) = Matcher.from_topics([TopicSpec("t", query)], lists).match(article)
    return found


# ---------------------------------------------------------------------------- public helpers


def test_fold_is_case_and_accent_insensitive() -> None:
    assert fold("México") == "mexico"
    assert fold("Peña") == "pena"
    assert fold("STRASSE") == fold("Straße") == "strasse"


def test_check_query_returns_none_or_a_caret_message() -> None:
    assert check_query(STEEL) is None
    assert check_query("@nafta OR tlc", LISTS) is None
    assert check_query("steel AND (tariff))") == (
        "unexpected ')' at column 19\n  steel AND (tariff))\n                    ^"
    )
    assert check_query("") == "empty query"
    assert check_query("@nafta") is not None
    assert check_query("NOT wall") is not None


def test_from_topics_raises_for_a_bad_query() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        Matcher.from_topics([TopicSpec("ok", "wall"), TopicSpec("bad", "wall AND")])
    assert caught.value.query == "wall AND"
    assert caught.value.column == 6


def test_topic_names_and_config_order() -> None:
    topics = [TopicSpec("z", "mexico"), TopicSpec("a", "wall"), TopicSpec("m", '"border wall"')]
    matcher = Matcher.from_topics(topics)
    assert matcher.topic_names == ["z", "a", "m"]
    found = matcher.match(doc("Mexico border wall"))
    assert [h.topic for h in found] == ["z", "a", "m"]


def test_no_topics_match_nothing() -> None:
    assert Matcher.from_topics([]).match(doc("anything")) == []


# ---------------------------------------------------------------------------- words


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Wall collapses", True),
        ("the WALL.", True),
        ("border-wall", True),
        ("walls", False),
        ("firewall", False),
        ("Stonewall", False),
        ("paywall", False),
        ("wallet", False),
        ("wall_street", True),  # underscores separate words like any other punctuation
    ],
)
def test_a_term_matches_whole_words_only(title: str, expected: bool) -> None:
    assert hits("wall", doc(title)) is expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [("wall", True), ("Walls", True), ("wallet", True), ("firewall", False), ("wa", False)],
)
def test_a_wildcard_matches_word_prefixes(title: str, expected: bool) -> None:
    assert hits("wall*", doc(title)) is expected


@pytest.mark.parametrize(
    ("query", "title", "expected"),
    [
        ("Peña", "pena nieto", True),
        ("pena", "Peña Nieto", True),
        ("México", "mexico city", True),
        ("mexico", "MÉXICO", True),
        ("arancel", "aranceles al acero", False),
        ("arancel*", "Aranceles al acero", True),
        ("arancel*", "un arancel", True),
        ("aranceles", "ARANCELES", True),
        ("Straße", "strasse", True),
        ("negociación", "negociacion comercial", True),
    ],
)
def test_accents_and_case_fold_both_ways(query: str, title: str, expected: bool) -> None:
    assert hits(query, doc(title)) is expected


def test_punctuation_splits_query_and_text_alike() -> None:
    assert hits("T-MEC", doc("El T-MEC entra en vigor"))
    assert hits("T-MEC", doc("el t mec"))
    assert hits("U.S.", doc("U.S. tariffs"))
    assert hits("25%", doc("a 25 % tariff"))
    assert hits("O'Brien", doc("Sen. O’Brien said"))
    assert not hits("T-MEC", doc("mec t"))


# ---------------------------------------------------------------------------- phrases


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Trump visits the border wall", True),
        ("Border Wall funding", True),
        ("border, wall", True),
        ("wall border", False),
        ("border security wall", False),
        ("border walls", False),
    ],
)
def test_phrases_need_consecutive_words_in_order(title: str, expected: bool) -> None:
    assert hits('"border wall"', doc(title)) is expected


def test_phrase_with_wildcards() -> None:
    query = '"negociaci* comercial*"'
    assert hits(query, doc("Las negociaciones comerciales avanzan"))
    assert hits(query, doc("negociación comercial"))
    assert not hits(query, doc("comerciales negociaciones"))
    assert hits('"border wal*"', doc("border walls"))


def test_phrases_and_near_do_not_span_fields() -> None:
    article = doc("Trump visits the border", "Wall funding approved")
    assert not hits('"border wall"', article)
    assert not hits("border NEAR/3 wall", article)
    assert hits("border wall", article)


def test_repeated_word_phrase() -> None:
    assert hits('"no no"', doc("no no no"))
    assert not hits('"no no"', doc("no yes no"))


# ---------------------------------------------------------------------------- NEAR


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("wall border", True),
        ("border wall", True),
        ("wall a b c d border", True),  # 4 words between: |5 - 0| <= 5
        ("border a b c d wall", True),
        ("wall a b c d e border", False),  # 5 words between
        ("border a b c d e wall", False),
        ("wall", False),
        ("border", False),
    ],
)
def test_near_counts_positions_in_either_order(title: str, expected: bool) -> None:
    assert hits("wall NEAR/5 border", doc(title)) is expected


def test_near_one_means_adjacent() -> None:
    assert hits("wall NEAR/1 border", doc("border wall"))
    assert not hits("wall NEAR/1 border", doc("wall the border"))


def test_near_measures_from_the_phrase_edges() -> None:
    query = '"border wall" NEAR/2 Mexico'
    assert hits(query, doc("border wall in Mexico"))  # Mexico is 2 after "wall"
    assert hits(query, doc("Mexico is border wall"))  # "border" is 2 after Mexico
    assert not hits(query, doc("border wall is not in Mexico"))


def test_near_needs_two_distinct_occurrences() -> None:
    assert not hits("wall NEAR/3 wall", doc("a wall here"))
    assert hits("wall NEAR/3 wall", doc("wall to wall"))
    assert not hits("wall* NEAR/3 walls", doc("walls"))


def test_near_chains_and_or_groups() -> None:
    query = "steel NEAR/2 tariff NEAR/3 mexico"
    assert hits(query, doc("steel tariff on mexico"))
    assert not hits(query, doc("steel tariff on goods from mexico"))
    assert hits("(a1 OR b1) NEAR/1 (c1 OR d1)", doc("x b1 c1 y"))


def test_steel_tariff_query() -> None:
    assert hits(STEEL, doc("Trump to impose 25% tariff on steel, 10% on aluminum"))
    assert hits(STEEL, doc("México responde con aranceles al acero estadounidense"))
    assert not hits(STEEL, doc("Steelers beat Ravens"))
    assert not hits(
        STEEL, doc("Steel prices rise as demand recovers in all of Asia; tariffs eased")
    )


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Peña Nieto reitera que México no pagará el muro fronterizo", True),
        ("Trump insists Mexico will pay for the wall", True),
        ("Congress funds border wall", True),
        ("Wall Street closes higher", False),
        ("Great Wall of China", False),
        ("Mexico wall funding rally lifts Wall Street", False),
    ],
)
def test_border_wall_query(title: str, expected: bool) -> None:
    assert hits(WALL, doc(title)) is expected


# ---------------------------------------------------------------------------- fields and lists


def test_field_scopes() -> None:
    article = MatchInput(
        title="Steel tariffs",
        summary="Mexico answers",
        content="Full text mentions Canada",
        feed="Reuters World",
        lang="es-MX",
    )
    assert hits("title:steel", article)
    assert not hits("title:mexico", article)
    assert hits("summary:mexico", article)
    assert hits("content:canada", article)  # content: and summary: both mean the body
    assert hits("summary:canada", article)
    assert not hits("summary:steel", article)
    assert hits("canada", article)  # unscoped terms search title, summary and content
    assert hits("feed:reuters steel", article)
    assert hits('feed:"reuters world" steel', article)
    assert not hits("feed:ap steel", article)
    assert not hits("reuters", article)  # the feed name is not article text
    assert hits("lang:es steel", article)
    assert not hits("lang:en steel", article)
    assert hits("title:(steel NEAR/1 tariff*)", article)


def test_lang_and_feed_alone_are_valid_topics() -> None:
    article = MatchInput("x", "y", feed="Reuters", lang="es")
    assert hits("lang:es", article)
    assert hits("feed:reuters", article)
    assert not hits("lang:es", MatchInput("x", "y", lang=None))


def test_lists_expand_to_any_item() -> None:
    assert hits("@nafta", doc("El T-MEC entra en vigor"), LISTS)
    assert hits("@nafta", doc("Firman el Tratado de Libre Comercio"), LISTS)
    assert hits("@nafta AND mexico", doc("NAFTA talks", "Mexico says"), LISTS)
    assert not hits("@nafta", doc("tratado de comercio"), LISTS)
    assert hits("title:@nafta NEAR/3 trump", doc("Trump ataca el TLCAN"), LISTS)


def test_long_lists_are_one_test_each_and_match_as_their_terms_do() -> None:
    """An @list of hundreds of words and phrases is planned as one set test and one scan
    (not a test per term): the same matches, terms and snippets, in a short test."""
    words = [f"w{i}" for i in range(300)]
    phrases = [f"p{i} q{i}" for i in range(100)]
    lists = {"words": words, "phrases": phrases, "both": [*words[:5], *phrases[:5], "ra*"]}
    query = "(@words OR @phrases) AND NOT title:@phrases AND (x OR title:(@both))"
    matcher = Matcher.from_topics([TopicSpec("t", query)], lists)
    assert len(matcher._topics[0].plan.expr) < 300  # the plan is the point
    cases = [
        (doc("x w7", "w299 and p3 q3"), ("w7", "w299", "p3 q3", "x")),
        (doc("p4 q4 rat", "w1"), ()),  # a phrase of @phrases in the title
        (doc("rat w2", "p99 q99"), ("w2", "p99 q99", "ra*")),
        (doc("x", "q5 p5 w300 p101 q101"), ()),  # out of order, and not in the lists
        (doc("x", "p2 p2 q2"), ("p2 q2", "x")),
    ]
    for article, terms in cases:
        expected = evaluate_reference(query, article, lists)
        found = matcher.match(article)
        assert bool(found) == expected == bool(terms), article
        if found:
            assert found[0].terms == terms
            assert "**" in found[0].snippet


def test_topic_feed_and_language_restrictions() -> None:
    topics = [
        TopicSpec("any", "wall"),
        TopicSpec("reuters", "wall", feeds=("Reuters",)),
        TopicSpec("jornada", "wall", feeds=("La Jornada", "El Universal")),
        TopicSpec("spanish", "wall", langs=("es",)),
        TopicSpec("english", "wall", langs=("en", "en-GB")),
    ]
    matcher = Matcher.from_topics(topics)

    def names(feed: str, lang: str | None) -> list[str]:
        return [h.topic for h in matcher.match(MatchInput("wall", "", feed=feed, lang=lang))]

    assert names("reuters", "en-US") == ["any", "reuters", "english"]
    assert names("LA JORNADA", "es-MX") == ["any", "jornada", "spanish"]
    assert names("AP", None) == ["any"]


# ---------------------------------------------------------------------------- terms and snippets


def test_terms_are_the_distinct_terms_that_hit_as_written() -> None:
    found = hit(STEEL, doc("Tariffs on steel and Steel tariff news"))
    assert found.topic == "t"
    assert found.terms == ("steel", "tariff*")
    found = hit(WALL, doc("Peña Nieto: México no pagará el muro fronterizo"))
    assert found.terms == ('"muro fronterizo"',)
    found = hit("@nafta", doc("El T-MEC y el TLCAN"), LISTS)
    assert found.terms == ("TLCAN", "T-MEC")


def test_negated_and_unused_terms_are_not_reported() -> None:
    found = hit("wall NOT (street AND stocks)", doc("wall street", "bricks"))
    assert found.terms == ("wall",)
    found = hit("(steel NEAR/2 tariff) OR aluminum", doc("steel x x x x tariff", "aluminum"))
    assert found.terms == ("aluminum",)
    assert found.snippet == "**aluminum**"  # the only hit, in the summary


def test_snippet_highlights_every_hit_in_the_original_text() -> None:
    found = hit(STEEL, doc("Trump to impose 25% tariff on steel, 10% on aluminum"))
    assert found.snippet == "Trump to impose 25% **tariff** on **steel**, 10% on **aluminum**"
    found = hit("mexico OR pena", doc("Peña Nieto reitera que México no pagará"))
    assert found.snippet == "**Peña** Nieto reitera que **México** no pagará"
    found = hit("T-MEC", doc("El T-MEC entra en vigor"))
    assert found.snippet == "El **T-MEC** entra en vigor"


def test_overlapping_hits_are_merged() -> None:
    found = hit('"border wall" OR wall', doc("New border wall"))
    assert found.snippet == "New **border wall**"
    assert found.terms == ('"border wall"', "wall")


def test_snippet_of_a_long_summary_is_a_window_with_ellipses() -> None:
    filler = "lorem ipsum dolor sit amet " * 12
    summary = filler + "the border wall near Mexico was discussed " + filler
    found = hit(WALL, doc("Nothing here", summary))
    assert found.snippet.startswith("…")
    assert found.snippet.endswith("…")
    assert "the **border wall** near **Mexico** was discussed" in found.snippet
    assert len(found.snippet.replace("**", "")) <= 205


def test_snippet_collapses_layout_whitespace() -> None:
    found = hit("wall", doc("Nothing", "The\n  wall\tstands"))
    assert found.snippet == "The **wall** stands"


def test_snippet_keeps_decomposed_accents_inside_the_highlight() -> None:
    found = hit("pena", doc("Pen\u0303a Nieto"))
    assert found.snippet == "**Pen\u0303a** Nieto"
    found = hit("strasse", doc("Die Straße ist"))
    assert found.snippet == "Die **Straße** ist"


def test_snippet_without_text_hits_is_the_title() -> None:
    found = hit("feed:reuters", MatchInput("Plain title", "summary", feed="Reuters"))
    assert found.terms == ()
    assert found.snippet == "Plain title"


def test_content_hits_snippet_from_the_content() -> None:
    found = hit("canada", MatchInput("Title", "Summary", content="Then Canada replied."))
    assert found.snippet == "Then **Canada** replied."


def test_many_topics_share_terms_and_each_gets_its_hit() -> None:
    topics = [TopicSpec(f"t{i}", q) for i, q in enumerate([STEEL, WALL, "@nafta", "wall*"])]
    matcher = Matcher.from_topics(topics, LISTS)
    found = matcher.match(doc("Mexico border walls", "steel tariffs under USMCA"))
    assert [(h.topic, h.terms) for h in found] == [
        ("t0", ("steel", "tariff*")),
        ("t2", ("USMCA",)),
        ("t3", ("wall*",)),
    ]


def test_matcher_is_reusable_across_articles() -> None:
    matcher = Matcher.from_topics([TopicSpec("wall", WALL), TopicSpec("steel", STEEL)])
    titles = ["Great Wall of China", "Mexico border wall", "steel tariff", "Wall Street"] * 3
    found = [[h.topic for h in matcher.match(doc(t))] for t in titles]
    assert found == [[], ["wall"], ["steel"], []] * 3


def test_match_without_explaining_finds_the_same_topics() -> None:
    matcher = Matcher.from_topics([TopicSpec("wall", WALL), TopicSpec("steel", STEEL)])
    article = doc("Mexico border wall", "steel tariff")
    assert matcher.match(article, explain=False) == [TopicHit("wall"), TopicHit("steel")]
    assert [h.topic for h in matcher.match(article)] == ["wall", "steel"]


@pytest.mark.parametrize(
    ("query", "title", "snippet"),
    [
        ("peña", "Peña dijo", "**Peña** dijo"),  # the first word
        ("dijo", "  ¡Peña dijo!", "¡Peña **dijo**!"),  # the last word, after punctuation
        ("muro", "El muro, el muro y el MURO", "El **muro**, el **muro** y el **MURO**"),
        ('"el muro"', "muro el muro", "muro **el muro**"),  # a repeated word, counted
        ("tlc", "“El TLC” — dijo… el TLC’s", "“El **TLC**” — dijo… el **TLC**’s"),  # cp1252
        ("strasse", "Die Straße, die Straße", "Die **Straße**, die **Straße**"),  # ß -> ss
        ("pena", "La Pen\u0303a dijo", "La **Pen\u0303a** dijo"),  # a combining accent
        ("rio", "Ωmega en el río", "Ωmega en el **río**"),  # a letter outside Latin-1
    ],
)
def test_snippet_offsets_in_any_text(query: str, title: str, snippet: str) -> None:
    assert hit(query, doc(title)).snippet == snippet


def test_snippet_offsets_in_a_long_field() -> None:
    words = [f"w{i}" for i in range(300)]  # past the words found one by one
    found = hit("w250 OR w251", doc("title", " ".join(words)))
    assert found.snippet.startswith("…w")
    assert "**w250** **w251**" in found.snippet
    assert found.terms == ("w250", "w251")


def test_topics_hitting_the_same_words_share_a_snippet_but_not_terms() -> None:
    topics = [
        TopicSpec("a", "wall"),
        TopicSpec("b", "wall OR muro"),
        TopicSpec("c", "wall* NOT muro"),
        TopicSpec("d", '"border wall"'),
    ]
    found = Matcher.from_topics(topics).match(doc("New border wall", "wall again"))
    assert [(h.topic, h.terms, h.snippet) for h in found] == [
        ("a", ("wall",), "New border **wall**"),
        ("b", ("wall",), "New border **wall**"),
        ("c", ("wall*",), "New border **wall**"),
        ("d", ('"border wall"',), "New **border wall**"),
    ]


def test_explaining_after_matching_without_explaining_is_the_same() -> None:
    # A topic's test is compiled on its first candidacy and its explaining part on its
    # first match; the order the two are asked for must not matter.
    topics = [TopicSpec("wall", WALL), TopicSpec("steel", STEEL), TopicSpec("nafta", "@nafta")]
    article = doc("Mexico border wall", "steel tariff under the T-MEC")
    warm = Matcher.from_topics(topics, LISTS)
    assert [h.topic for h in warm.match(article, explain=False)] == ["wall", "steel", "nafta"]
    assert warm.match(article) == Matcher.from_topics(topics, LISTS).match(article)
    assert warm.match(article)[2] == TopicHit(
        "nafta", ("T-MEC",), "steel tariff under the **T-MEC**"
    )
