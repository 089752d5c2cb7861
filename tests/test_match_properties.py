"""Property tests: the compiled matcher agrees with the plain reference evaluator.

Queries and articles are drawn from a small vocabulary with accents and near-misses
(wall/walls/Wall Street, México/mexico, arancel/aranceles) so that hits, phrases and
NEAR distances are frequent; many topics are compiled into one matcher at once.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tracker.models import MatchInput, TopicHit, TopicSpec
from tracker.text import WORD_RE, fold, primary_subtag, split_words, word_spans
from tracker.topics.matcher import Matcher, evaluate_reference
from tracker.topics.matcher.reference import RefDoc
from tracker.topics.query import (
    And,
    Lang,
    Near,
    Node,
    Not,
    Or,
    Term,
    check_query,
    iter_terms,
    parse,
)

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


@pytest.mark.slow
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


@pytest.mark.slow
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


# ---------------------------------------------------------------------------- explanations
#
# The matcher explains a match with generated code and finds snippet offsets from the
# folded text; here the same explanation is worked out the plain way, by a walk over the
# AST with the reference document and offsets from word_spans.

TRICKY_WORDS = [*WORDS, "wall…", "Straße", "Pen\u0303a", "muro’s", "™", "Æ", "¼", "Ωmega"]
TRICKY_SEPARATORS = [*SEPARATORS, "…", " — ", "\xa0", "  ", "?", " “"]


@st.composite
def tricky_texts(draw: st.DrawFn, max_words: int) -> str:
    words = draw(st.lists(st.sampled_from(TRICKY_WORDS), max_size=max_words))
    return "".join(w + draw(st.sampled_from(TRICKY_SEPARATORS)) for w in words)


tricky_articles = st.builds(
    MatchInput,
    title=tricky_texts(8),
    # Long enough now and then for a snippet window and for the offset table (> 200 words).
    summary=st.one_of(tricky_texts(14), tricky_texts(230)),
    content=st.one_of(st.just(""), tricky_texts(6)),
    feed=st.sampled_from(FEEDS),
    lang=st.sampled_from(LANGS),
)
_RefSpan = tuple[int, int, int]  # (segment, first word, last word)
_Support = list[tuple[Term, _RefSpan]]


def _support(ref: RefDoc, node: Node) -> _Support | None:
    """The term occurrences that make ``node`` true; None when it does not hold."""
    match node:
        case Term(field="feed") | Lang() | Not():
            return [] if ref.holds(node) else None  # filters and NOTs highlight nothing
        case Term():
            return [(node, span) for span in ref.term_spans(node)] or None
        case And():
            parts = [_support(ref, child) for child in node.children]
            return None if None in parts else [pair for part in parts if part for pair in part]
        case Or():
            found = [part for c in node.children if (part := _support(ref, c)) is not None]
            return [pair for part in found for pair in part] if found else None
        case Near():
            return [pair for _, pairs in _occurrences(ref, node) for pair in pairs] or None
    raise AssertionError(node)


def _occurrences(ref: RefDoc, node: Node) -> list[tuple[_RefSpan, _Support]]:
    match node:
        case Term():
            return [(span, [(node, span)]) for span in ref.term_spans(node)]
        case Or():
            return [occurrence for c in node.children for occurrence in _occurrences(ref, c)]
        case Near():
            n = node.distance
            return [
                ((a[0], min(a[1], b[1]), max(a[2], b[2])), a_pairs + b_pairs)
                for a, a_pairs in _occurrences(ref, node.left)
                for b, b_pairs in _occurrences(ref, node.right)
                if a[0] == b[0] and (1 <= b[1] - a[2] <= n or 1 <= a[1] - b[2] <= n)
            ]
    raise AssertionError(node)


def _explained(topic: TopicSpec, article: MatchInput) -> TopicHit:
    node = parse(topic.query, LISTS)
    support = _support(RefDoc(article), node) or []
    hit = {id(term) for term, _ in support}
    terms = [t.raw for t, negated in iter_terms(node) if not negated and id(t) in hit]
    return TopicHit(topic.name, tuple(dict.fromkeys(terms)), _snippet(article, support))


def _snippet(article: MatchInput, support: _Support) -> str:
    """Excerpt of the field of the first hit, about 200 chars, every hit in it in ``**``."""
    if not support:
        return _layout(_excerpt(article.title or article.summary, []))
    segment = min(span for _, span in support)[0]
    text = (article.title, article.summary, article.content)[segment]
    offsets = word_spans(text)
    ranges = sorted({(offsets[a][0], offsets[b][1]) for _, (s, a, b) in support if s == segment})
    merged: list[tuple[int, int]] = []
    for start, end in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return _layout(_excerpt(text, merged))


def _excerpt(text: str, ranges: list[tuple[int, int]]) -> str:
    start, end = 0, len(text)
    if len(text) > 200:
        first = ranges[0] if ranges else (0, 0)
        start = max(0, min(first[0] - 60, len(text) - 200))
        if start > 0 and (space := text.find(" ", start, first[0])) != -1:
            start = space + 1
        end = min(len(text), max(start + 200, first[1]))
        if end < len(text) and (space := text.rfind(" ", first[1], end)) != -1:
            end = space
    marked = text[start:end]
    for a, b in reversed(ranges):
        if start <= a and b <= end:
            marked = (
                f"{marked[: a - start]}**{marked[a - start : b - start]}**{marked[b - start :]}"
            )
    return ("…" if start > 0 else "") + marked + ("…" if end < len(text) else "")


def _layout(snippet: str) -> str:
    if any(space in snippet for space in ("  ", "\n", "\t", "\r")):
        return " ".join(snippet.split())
    return snippet.strip()


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    candidates=st.lists(queries, min_size=1, max_size=10),
    docs=st.lists(st.one_of(articles, tricky_articles), min_size=1, max_size=3),
)
def test_explanations_agree_with_a_plain_walk_of_the_query(
    candidates: list[str], docs: list[MatchInput]
) -> None:
    topics = [
        TopicSpec(f"t{i}", query)
        for i, query in enumerate(candidates)
        if check_query(query, LISTS) is None
    ]
    assume(topics)
    matcher = Matcher.from_topics(topics, LISTS)
    for article in docs:
        found = matcher.match(article)
        assert found == [_explained(t, article) for t in topics if _expected(t, article)]
