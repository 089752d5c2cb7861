"""Property tests: the compiled matcher agrees with the plain reference evaluator.

Queries and articles are drawn from a small vocabulary with accents and near-misses
(wall/walls/Wall Street, México/mexico, arancel/aranceles) so that hits, phrases and
NEAR distances are frequent; many topics are compiled into one matcher at once.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tracker.match import Matcher, check_query, evaluate_reference
from tracker.models import MatchInput, TopicSpec
from tracker.query import WORD_RE, fold, iter_terms, parse, primary_subtag, split_words, word_spans

WORDS = [
    "wall", "Wall", "walls", "WALL", "street", "border", "muro", "México", "mexico",
    "Peña", "pena", "arancel", "aranceles", "Acero", "acero", "Straße", "strasse", "T-MEC",
    "mec", "t", "de", "la",
]  # fmt: skip
SEPARATORS = [" ", " ", " ", ", ", ". ", " - ", "\n", "’", " (", ") "]
LISTS = {"mx": ["México", "T-MEC", "muro fronterizo"], "wall": ["wall*", "muro"]}
FEEDS = ["Reuters", "AP World", "La Jornada", ""]
LANGS = [None, "es", "es-MX", "en", "EN-gb"]

atoms = st.sampled_from(
    [
        "wall", "walls", "Muro", "mexico", "México", "pena", "Peña", "arancel", "aranceles",
        "acero", "border", "strasse", "street", "T-MEC", "wal*", "arancel*", "mex*", "wall*",
        '"border wall"', '"wall street"', '"muro mexico"', '"arancel* acero"', '"pe* nieto"',
        "@mx", "@wall",
    ]
)  # fmt: skip
scopes = st.sampled_from(["", "", "", "title:", "summary:", "content:"])
filters = st.sampled_from(["feed:reuters", 'feed:"la jornada"', "lang:es", "lang:en"])


def _binary(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    operators = st.sampled_from([" ", " AND ", " OR ", " NOT "])
    return st.tuples(children, operators, children).map(lambda t: f"{t[0]}{t[1]}{t[2]}")


def _near(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(children, st.integers(1, 4), children).map(
        lambda t: f"({t[0]}) NEAR/{t[1]} ({t[2]})"
    )


def _nest(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        _binary(children),
        _near(children),
        children.map(lambda c: f"({c})"),
        st.tuples(scopes, children).map(lambda t: f"{t[0]}({t[1]})"),
    )


leaves = st.one_of(st.tuples(scopes, atoms).map("".join), atoms, filters)
queries = st.recursive(leaves, _nest, max_leaves=6)


@st.composite
def texts(draw: st.DrawFn, max_words: int) -> str:
    words = draw(st.lists(st.sampled_from(WORDS), max_size=max_words))
    parts = [w + draw(st.sampled_from(SEPARATORS)) for w in words]
    return "".join(parts)


articles = st.builds(
    MatchInput,
    title=texts(8),
    summary=texts(14),
    content=texts(6),
    feed=st.sampled_from(FEEDS),
    lang=st.sampled_from(LANGS),
)
restrictions = st.tuples(
    st.sampled_from([(), (), ("Reuters",), ("la jornada", "AP World")]),
    st.sampled_from([(), (), ("es",), ("en", "es-AR")]),
)


def _expected(topic: TopicSpec, article: MatchInput) -> bool:
    if topic.feeds and fold(article.feed) not in {fold(f) for f in topic.feeds}:
        return False
    if topic.langs and primary_subtag(article.lang) not in map(primary_subtag, topic.langs):
        return False
    return evaluate_reference(topic.query, article, LISTS)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    candidates=st.lists(st.tuples(queries, restrictions), min_size=1, max_size=10),
    docs=st.lists(articles, min_size=1, max_size=4),
)
def test_compiled_matcher_agrees_with_reference(
    candidates: list[tuple[str, tuple[tuple[str, ...], tuple[str, ...]]]],
    docs: list[MatchInput],
) -> None:
    topics = [
        TopicSpec(f"t{i}", query, feeds, langs)
        for i, (query, (feeds, langs)) in enumerate(candidates)
        if check_query(query, LISTS) is None
    ]
    assume(topics)
    matcher = Matcher.from_topics(topics, LISTS)
    for article in docs:
        found = matcher.match(article)
        assert [h.topic for h in found] == [t.name for t in topics if _expected(t, article)]
        for found_hit in found:
            topic = next(t for t in topics if t.name == found_hit.topic)
            raws = {term.raw for term, _ in iter_terms(parse(topic.query, LISTS))}
            assert set(found_hit.terms) <= raws
            assert len(set(found_hit.terms)) == len(found_hit.terms)
            _check_snippet(found_hit.snippet, article)


def _check_snippet(snippet: str, article: MatchInput) -> None:
    """Highlights wrap whole words of the original text, which the snippet quotes."""
    plain = snippet.replace("**", "").strip("…")
    source = " ".join(f"{article.title} {article.summary} {article.content}".split())
    assert plain in source
    for marked in re.findall(r"\*\*(.+?)\*\*", snippet):
        assert split_words(marked), snippet


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_split_words_and_offsets_agree_with_the_regex_definition(text: str) -> None:
    words = split_words(text)
    assert words == WORD_RE.findall(fold(text))
    assert fold(text) == "".join(fold(c) for c in text)  # folding is char by char
    spans = word_spans(text)
    assert len(spans) == len(words)
    for (start, end), word in zip(spans, words, strict=True):
        assert word in split_words(text[start:end])  # one char can fold to two words: ¼
