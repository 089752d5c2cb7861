"""What the story index keeps of a report: weighted terms, events, who acted on whom.

A report becomes a short list of distinct terms, title terms first:
- words, folded and lightly stemmed (a plural ``s`` dropped), weighted by rarity;
- concepts from the lexicon (``#white_house`` for "White House" and "Casa Blanca"), which
  stand for the words they cover;
- numbers, as ``#:15`` (ordinals too: "fifth" and "quinta" are ``#:5``).
Within the title and within the rest, terms are ordered rarest first across languages, so
the index keys are a prefix of each. From the headline alone it also reads the events
named (``#ev_open``), the numbers, the countries, and for a directional event ("UK expels
Russian diplomats") the actors before it (agents) and after it (targets): what keeps two
reports that share every name apart.

Cost matters (``bench/bench_stories.py``; a start rebuilds the index from every stored
report of the window): a folded word's term, a term's weight in a language and its weight
across languages are each computed once and memoised, and a report's words go through the
memos in bulk (``map`` over a dict whose ``__missing__`` fills it), so a word seen before
costs no Python-level call at all.

The features are stored with each article (``stories/codec.py``), so a start decodes them
instead of reading the words again. A stored value is used only under the key that wrote it
(``Weigher.key``): ``EXTRACTION_VERSION``, the lexicon with the config's lists, the word
lists' source and the Unicode tables folding relies on. Whoever changes what ``extract``
returns bumps ``EXTRACTION_VERSION`` (tests/test_stories_codec.py fails until they do).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from tracker.stories.lexicon import NUMBER_PREFIX, Concept, Lexicon, prepare
from tracker.stories.rarity import MIN_WEIGHT, Rarity
from tracker.text import primary_lang, split_words

TEXT_WORDS = 50  # words of the summary or content read: the lead carries the facts
MAX_TERMS = 24
INDEX_TERMS = 8  # terms per report in the inverted index (its rarest across languages)
QUERY_TERMS = 12  # terms a new report looks up
YEAR_WEIGHT = 1.0
SMALL_NUMBER_WEIGHT = 1.0  # 1 to 10: "two dead", "second round"
NUMBER_WEIGHT = 2.5
CONCEPT_WEIGHT = {"term": 2.5, "actor": 1.5, "event": 1.0, "event>": 1.5, "number": 1.0}
LIST_WEIGHT = 3.5  # a group of the config's lists: names the user cares about
STRONG = 2.0  # a shared term this heavy (across languages) is evidence on its own
ACTOR_MIN = 2.5  # a word this rare can be an agent or a target (a name)
MEMO_WORDS = 400_000  # per language: a hostile feed's junk words cannot grow it for ever
# What ``Weigher.extract`` returns for a given lexicon and word lists: bumped with every
# change to it, so that features stored by an older extraction are read again, not decoded.
EXTRACTION_VERSION = 1

_V = TypeVar("_V")


class _Memo(dict[str, _V]):
    """A memo that computes what it misses (``__missing__``, so a bulk ``map`` of its
    ``__getitem__`` stays in C for every word seen before) and keeps at most ``MEMO_WORDS``
    values: a hostile feed's junk words cannot grow it for ever."""

    __slots__ = ("_compute",)

    def __init__(self, compute: Callable[[str], _V]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, key: str) -> _V:
        value = self._compute(key)
        if len(self) < MEMO_WORDS:
            self[key] = value
        return value


@dataclass(frozen=True, slots=True)
class Features:
    """One report as the index compares it."""

    lang: str  # primary language tag, "" when unknown
    terms: tuple[str, ...]  # distinct; title terms first; each part rarest first
    n_title: int
    weight: float  # sum of the terms' weights in ``lang``
    title_weight: float
    cross_weight: float  # sum of the terms' weights across languages
    events: tuple[str, ...] = ()  # event concepts in the headline
    numbers: tuple[str, ...] = ()  # numbers in the headline, years left out
    agents: tuple[str, ...] = ()  # actors before the headline's directional event
    targets: tuple[str, ...] = ()  # actors after it
    actors: tuple[str, ...] = ()  # actor concepts (countries, bodies) in the headline

    def index_keys(self, count: int = INDEX_TERMS) -> tuple[str, ...]:
        """The ``count`` terms this report is found by: its rarest across languages, half
        of them from the headline (a copy may carry the headline alone)."""
        n_title = self.n_title
        rest = len(self.terms) - n_title
        half = max(count // 2, count - rest)
        from_title = min(half, n_title)
        return self.terms[:from_title] + self.terms[n_title : n_title + count - from_title]


def _is_year(term: str) -> bool:
    return len(term) == 6 and term[2:4] in ("19", "20")


class Weigher:
    """Term weights: words by rarity, concepts by kind, numbers by whether they are years.

    Every result is memoised: per language, a folded word's term (None for a stop word) and
    a term's weight; across languages, a term's cross weight."""

    def __init__(self, lexicon: Lexicon, rarity: Rarity) -> None:
        self.lexicon = lexicon
        self.rarity = rarity
        self._special: dict[str, float] = {
            c.term: CONCEPT_WEIGHT[c.kind] for c in lexicon.phrases.values()
        }
        self._cross: _Memo[float] = _Memo(self._cross_weight)
        self._weights: dict[str, _Memo[float]] = {}  # lang -> term -> weight
        self._terms: dict[str, _Memo[str | None]] = {}  # lang -> folded word -> term

    @functools.cached_property
    def key(self) -> int:
        """Which extraction stored features come from (``articles.features_key``): a digest
        of ``EXTRACTION_VERSION``, the lexicon (the config's lists included), the word
        lists' source and the Unicode version, as a positive 63-bit integer. Features
        stored under another key are extracted again."""
        digest = hashlib.blake2b(digest_size=8)
        head = f"{EXTRACTION_VERSION}\n{self.rarity.source}\n{unicodedata.unidata_version}\n"
        digest.update(head.encode())
        for words, concept in sorted(self.lexicon.phrases.items()):
            digest.update(f"{' '.join(words)}\t{concept.term}\t{concept.kind}\n".encode())
        return int.from_bytes(digest.digest(), "big") >> 1

    # -------------------------------------------------------------------- weights

    def weight(self, term: str, lang: str) -> float:
        """``term``'s weight in a report in ``lang``."""
        return self.weights(lang)[term]

    def cross(self, term: str) -> float:
        """``term``'s weight when an English and a Spanish report share it."""
        return self._cross[term]

    def weights(self, lang: str) -> Mapping[str, float]:
        """Term -> its weight in a report in ``lang`` (computed on first use)."""
        memo = self._weights.get(lang)
        if memo is None:
            memo = self._weights[lang] = _Memo(functools.partial(self._weight, lang=lang))
        return memo

    def _weight(self, term: str, lang: str) -> float:
        if term[0] == "#":
            return self._special_weight(term)
        # A stem weighs what its commoner form does ("talk" / "talks").
        rarity = self.rarity
        return min(rarity.weight(term, lang), rarity.weight(term + "s", lang))

    def _cross_weight(self, term: str) -> float:
        if term[0] == "#":
            return self._special_weight(term)
        return min(self.rarity.cross(term), self.rarity.cross(term + "s"))

    def _special_weight(self, term: str) -> float:
        if term.startswith("#list:"):
            return LIST_WEIGHT
        found = self._special.get(term)
        if found is not None:
            return found
        if _is_year(term):
            return YEAR_WEIGHT
        digits = term[2:]
        if len(digits) == 1 or digits == "10":
            return SMALL_NUMBER_WEIGHT
        return NUMBER_WEIGHT

    @staticmethod
    def stem(word: str) -> str:
        """The term a folded word counts as: numbers as ``#n``, a plural ``s`` dropped."""
        if word.isdigit():
            return NUMBER_PREFIX + (word.lstrip("0") or "0")
        if len(word) > 3 and word[-1] == "s" and word[-2] != "s":
            return word[:-1]
        return word

    def _term_memo(self, lang: str) -> _Memo[str | None]:
        memo = self._terms.get(lang)
        if memo is None:
            weights = self.weights(lang)
            stem = self.stem

            def term_of(word: str) -> str | None:
                term = stem(word)
                return term if weights[term] >= MIN_WEIGHT else None

            memo = self._terms[lang] = _Memo(term_of)
        return memo

    def warm(self, terms: Iterable[str], langs: Iterable[str]) -> None:
        """Fill the memos with ``terms`` (of reports in ``langs``) as extracting those
        reports would have: after a rebuild that decoded stored features instead, a new
        report's words (names, above all) would otherwise each cost a first lookup, and
        the first thousands of assignments about a tenth more. Per distinct term, not per
        report: a fraction of what extracting them costs."""
        terms = [t for t in terms if t]
        # A folded word never starts with "#": words warm the term memo (and through it
        # the weights), numbers and concepts the weights alone.
        words = [t for t in terms if t[0] != "#"]
        special = [t for t in terms if t[0] == "#"]
        for lang in langs:
            deque(map(self._term_memo(lang).__getitem__, words), maxlen=0)
            deque(map(self.weights(lang).__getitem__, special), maxlen=0)
        deque(map(self._cross.__getitem__, terms), maxlen=0)

    # -------------------------------------------------------------------- extraction

    def extract(self, title: str, text: str, lang: str | None) -> Features:
        """The features of one report."""
        tag = primary_lang(lang) or ""
        lang_tag = _LANGS.setdefault(tag, tag)
        term_of = self._term_memo(lang_tag).__getitem__
        title_words = split_words(prepare(title, lang_tag))
        scan = self.lexicon.scan
        title_concepts = scan(title_words)
        title_terms = _terms(title_words, title_concepts, term_of)
        cross = self._cross.__getitem__
        # sorted is stable: terms of equal weight keep the order they came in
        ordered = sorted(title_terms, key=cross, reverse=True)
        n_title = len(ordered)
        if text and n_title < MAX_TERMS:
            text_words = split_words(prepare(text, lang_tag))[:TEXT_WORDS]
            rest = [
                term
                for term in _terms(text_words, scan(text_words), term_of)
                if term not in title_terms
            ]
            if rest:
                rest.sort(key=cross, reverse=True)
                ordered += rest[: MAX_TERMS - n_title]
        terms = tuple(ordered)
        weights = list(map(self.weights(lang_tag).__getitem__, terms))
        events: tuple[str, ...] = ()
        actors: tuple[str, ...] = ()
        agents: tuple[str, ...] = ()
        targets: tuple[str, ...] = ()
        if title_concepts:
            events = tuple(
                sorted({c.term for _, _, c in title_concepts if c.kind in ("event", "event>")})
            )
            actors = tuple(sorted({c.term for _, _, c in title_concepts if c.kind == "actor"}))
            agents, targets = self._direction(title_words, title_concepts)
        numbers: tuple[str, ...] = ()
        # A number term comes from a word of digits or a number concept ("fifth"): most
        # headlines have neither, and skip the scan.
        if title_concepts or any(map(str.isdigit, title_words)):
            numbers = tuple(
                [t for t in terms[:n_title] if t.startswith(NUMBER_PREFIX) and not _is_year(t)]
            )
        return Features(
            lang=lang_tag,
            terms=terms,
            n_title=n_title,
            weight=sum(weights),
            title_weight=sum(weights[:n_title]),
            cross_weight=sum(map(cross, terms)),
            events=events,
            numbers=numbers,
            agents=agents,
            targets=targets,
            actors=actors,
        )

    def _direction(
        self, words: list[str], concepts: list[tuple[int, int, Concept]]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Actors before and after the headline's first directional event."""
        verb_at = next((i for i, _, c in concepts if c.kind == "event>"), None)
        if verb_at is None:
            return (), ()
        agents: set[str] = set()
        targets: set[str] = set()
        for position, _, concept in concepts:
            if concept.kind == "actor" or concept.term.startswith("#list:"):
                (agents if position < verb_at else targets).add(concept.term)
        cross = self._cross
        for position, word in enumerate(words):
            term = self.stem(word)
            if term[0] != "#" and cross[term] >= ACTOR_MIN:
                (agents if position < verb_at else targets).add(term)
        return tuple(sorted(agents)), tuple(sorted(targets - agents))


def _terms(
    words: list[str],
    concepts: list[tuple[int, int, Concept]],
    term_of: Callable[[str], str | None],
) -> dict[str, None]:
    """The distinct terms of ``words`` in order of first use: a lexicon phrase counts once,
    as its concept (first), instead of its words; stop words count not at all."""
    if not concepts:
        return dict.fromkeys(filter(None, map(term_of, words)))
    covered: set[int] = set()
    for position, length, _ in concepts:
        covered.update(range(position, position + length))
    rest = [w for i, w in enumerate(words) if i not in covered]
    return dict.fromkeys(
        itertools.chain([c.term for _, _, c in concepts], filter(None, map(term_of, rest)))
    )


# one string per language tag, not one per report
_LANGS: dict[str, str] = {}
