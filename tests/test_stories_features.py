"""The story index's extraction (memoised, in bulk) equals the plain per-word reading.

``reference_features`` is the extraction written the obvious way, one word at a time, with
weights read straight from wordfreq's Zipf values: what ``Weigher.extract`` must give, to
the last bit of every float, on every report of the labelled sets in tests/data.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Iterator

import pytest
from wordfreq import get_frequency_dict

from tracker.stories import features as features_module
from tracker.stories.features import (
    ACTOR_MIN,
    CONCEPT_WEIGHT,
    LIST_WEIGHT,
    MAX_TERMS,
    MIN_WEIGHT,
    NUMBER_WEIGHT,
    SMALL_NUMBER_WEIGHT,
    TEXT_WORDS,
    YEAR_WEIGHT,
    Features,
    Weigher,
)
from tracker.stories.index import Report
from tracker.stories.lexicon import NUMBER_PREFIX, Concept, default_lexicon, prepare
from tracker.stories.rarity import LANGS, UNKNOWN_WEIGHT, Rarity
from tracker.text import fold, primary_lang, split_words

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import stories_quality

pytestmark = pytest.mark.slow  # reads every labelled set (a few seconds)


@functools.cache
def _zipf(lang: str) -> dict[str, float]:
    table: dict[str, float] = {}
    for word, freq in get_frequency_dict(lang, wordlist="small").items():
        key = fold(word)
        table[key] = max(table.get(key, 0.0), math.log10(freq * 1e9))
    return table


def _weight(zipf: float) -> float:
    return UNKNOWN_WEIGHT if zipf <= 0.0 else max(0.0, min(UNKNOWN_WEIGHT, 6.5 - zipf))


def _is_year(term: str) -> bool:
    return len(term) == 6 and term[2:4] in ("19", "20")


def _special(weigher: Weigher, term: str) -> float:
    if term.startswith("#list:"):
        return LIST_WEIGHT
    kinds = {c.term: c.kind for c in weigher.lexicon.phrases.values()}
    if term in kinds:
        return CONCEPT_WEIGHT[kinds[term]]
    if _is_year(term):
        return YEAR_WEIGHT
    digits = term[2:]
    return SMALL_NUMBER_WEIGHT if len(digits) == 1 or digits == "10" else NUMBER_WEIGHT


def _rarity(word: str, lang: str) -> float:
    if lang not in LANGS:
        return _cross_rarity(word)
    return _weight(_zipf(lang).get(word, 0.0))


def _cross_rarity(word: str) -> float:
    return min(_weight(_zipf(lang).get(word, 0.0)) for lang in LANGS)


def _weight_of(weigher: Weigher, term: str, lang: str) -> float:
    if term[0] == "#":
        return _special(weigher, term)
    return min(_rarity(term, lang), _rarity(term + "s", lang))


def _cross_of(weigher: Weigher, term: str) -> float:
    if term[0] == "#":
        return _special(weigher, term)
    return min(_cross_rarity(term), _cross_rarity(term + "s"))


def _add_terms(
    weigher: Weigher,
    terms: dict[str, tuple[float, float]],
    words: list[str],
    concepts: list[tuple[int, int, Concept]],
    lang: str,
    skip: dict[str, tuple[float, float]],
) -> None:
    covered: set[int] = set()
    for position, length, concept in concepts:
        if concept.term not in skip:
            w = _weight_of(weigher, concept.term, lang)
            terms[concept.term] = (w, w)
        covered.update(range(position, position + length))
    for i, word in enumerate(words):
        if i in covered:
            continue
        term = Weigher.stem(word)
        weight = _weight_of(weigher, term, lang)
        if weight >= MIN_WEIGHT and term not in skip:
            terms[term] = (weight, _cross_of(weigher, term))


def reference_features(weigher: Weigher, title: str, text: str, lang: str | None) -> Features:
    """The features of one report, one word at a time."""
    tag = primary_lang(lang) or ""
    title_words = split_words(prepare(title, tag))
    text_words = split_words(prepare(text, tag))[:TEXT_WORDS]
    scan = weigher.lexicon.scan
    title_concepts = scan(title_words)
    title_terms: dict[str, tuple[float, float]] = {}
    _add_terms(weigher, title_terms, title_words, title_concepts, tag, {})
    rest_terms: dict[str, tuple[float, float]] = {}
    _add_terms(weigher, rest_terms, text_words, scan(text_words), tag, title_terms)
    ordered = sorted(title_terms.items(), key=lambda item: item[1][1], reverse=True)
    n_title = len(ordered)
    rest = sorted(rest_terms.items(), key=lambda item: item[1][1], reverse=True)
    ordered += rest[: max(0, MAX_TERMS - n_title)]
    terms = tuple(term for term, _ in ordered)
    events = sorted({c.term for _, _, c in title_concepts if c.kind in ("event", "event>")})
    actors = sorted({c.term for _, _, c in title_concepts if c.kind == "actor"})
    numbers = [t for t in terms[:n_title] if t.startswith(NUMBER_PREFIX) and not _is_year(t)]
    agents: set[str] = set()
    targets: set[str] = set()
    verb_at = next((i for i, _, c in title_concepts if c.kind == "event>"), None)
    if verb_at is not None:
        for position, _, concept in title_concepts:
            if concept.kind == "actor" or concept.term.startswith("#list:"):
                (agents if position < verb_at else targets).add(concept.term)
        for position, word in enumerate(title_words):
            term = Weigher.stem(word)
            if term[0] != "#" and _cross_of(weigher, term) >= ACTOR_MIN:
                (agents if position < verb_at else targets).add(term)
    return Features(
        lang=tag,
        terms=terms,
        n_title=n_title,
        weight=sum([value[0] for _, value in ordered]),
        title_weight=sum([value[0] for _, value in ordered[:n_title]]),
        cross_weight=sum([value[1] for _, value in ordered]),
        events=tuple(events),
        numbers=tuple(numbers),
        agents=tuple(sorted(agents)),
        targets=tuple(sorted(targets - agents)),
        actors=tuple(actors),
    )


def _corpus() -> Iterator[Report]:
    """Every report of the labelled sets (the tuning sets: the held-out ones stay unread)."""
    for load in stories_quality.sets().values():
        for universe in load():
            for item in universe:
                yield item.report


REPORTS = list(_corpus())
LISTS = {"nafta": ["NAFTA", "TLCAN", "T-MEC"], "wall": ["border wall", "muro fronterizo"]}


@pytest.mark.parametrize("lists", [None, LISTS], ids=["lexicon", "with-lists"])
def test_extraction_equals_the_per_word_reading_on_every_labelled_report(
    lists: dict[str, list[str]] | None,
) -> None:
    lexicon = default_lexicon().with_lists(lists) if lists else default_lexicon()
    weigher = Weigher(lexicon, Rarity())
    assert len(REPORTS) > 5000
    for report in REPORTS:
        expected = reference_features(weigher, report.title, report.text, report.lang)
        assert weigher.extract(report.title, report.text, report.lang) == expected, report
        # a second time through the now filled memos
        assert weigher.extract(report.title, report.text, report.lang) == expected, report


def test_a_full_memo_changes_nothing_and_grows_no_more(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features_module, "MEMO_WORDS", 50)
    weigher = Weigher(default_lexicon(), Rarity())
    for report in REPORTS[:500]:
        expected = reference_features(weigher, report.title, report.text, report.lang)
        assert weigher.extract(report.title, report.text, report.lang) == expected, report
    assert all(len(memo) <= 50 for memo in weigher._terms.values())
    assert all(len(memo) <= 50 for memo in weigher._weights.values())
    assert len(weigher._cross) <= 50
