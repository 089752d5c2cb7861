"""What the story index keeps of a report: weighted terms, events, who acted on whom.

A report becomes a short list of distinct terms, title terms first:
- words, folded and lightly stemmed (a plural ``s`` dropped), weighted by rarity;
- concepts from the lexicon (``#white_house`` for "White House" and "Casa Blanca");
- numbers, as ``#n15`` (ordinals too: "fifth" and "quinta" are ``#n5``).
From the headline alone it also reads the events named (``#ev_open``), the numbers, and for
a directional event ("UK expels Russian diplomats") the actors before it (agents) and after
it (targets): what keeps two reports that share every name apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracker.stories.lexicon import Concept, Lexicon, prepare
from tracker.stories.rarity import MIN_WEIGHT, Rarity
from tracker.text import primary_lang, split_words

TEXT_WORDS = 80  # words of the summary or content read: the lead carries the facts
MAX_TERMS = 48
INDEX_TERMS = 8  # terms per report in the inverted index (its rarest across languages)
QUERY_TERMS = 16  # terms a new report looks up
YEAR_WEIGHT = 1.0
SMALL_NUMBER_WEIGHT = 1.0  # 1 to 10: "two dead", "second round"
NUMBER_WEIGHT = 2.5
CONCEPT_WEIGHT = {"term": 2.5, "actor": 1.5, "event": 1.0, "event>": 1.5, "number": 1.0}
STRONG = 2.0  # a shared term this heavy (across languages) is evidence on its own
ACTOR_MIN = 2.5  # a word this rare can be an agent or a target (a name)


@dataclass(frozen=True, slots=True)
class Features:
    """One report as the index compares it."""

    lang: str  # primary language tag, "" when unknown
    terms: tuple[str, ...]  # distinct, title terms first
    n_title: int
    weight: float  # sum of the terms' weights in ``lang``
    title_weight: float
    cross_weight: float  # sum of the terms' weights across languages
    events: tuple[str, ...] = ()  # event concepts in the headline
    numbers: tuple[str, ...] = ()  # numbers in the headline, years left out
    agents: tuple[str, ...] = ()  # actors before the headline's directional event
    targets: tuple[str, ...] = ()  # actors after it
    actors: tuple[str, ...] = ()  # actor concepts (countries, bodies) in the headline

    def keys(self, weigher: Weigher, count: int = INDEX_TERMS) -> list[str]:
        """The ``count`` terms this report is found by: its rarest across languages, half
        of them from the headline (a copy may carry the headline alone)."""
        title = sorted(self.terms[: self.n_title], key=weigher.cross, reverse=True)
        rest = sorted(self.terms[self.n_title :], key=weigher.cross, reverse=True)
        half = max(count // 2, count - len(rest))
        return title[:half] + rest[: count - min(half, len(title))]


def _is_year(term: str) -> bool:
    return len(term) == 6 and term[2:4] in ("19", "20")


class Weigher:
    """Term weights: words by rarity, concepts by kind, numbers by whether they are years."""

    def __init__(self, lexicon: Lexicon, rarity: Rarity) -> None:
        self.lexicon = lexicon
        self.rarity = rarity
        self._concepts: dict[str, float] = {
            c.term: CONCEPT_WEIGHT[c.kind] for c in lexicon.phrases.values()
        }
        self._stems: dict[str, str] = {}

    def weight(self, term: str, lang: str) -> float:
        """``term``'s weight in a report in ``lang``."""
        if term[0] == "#":
            return self._special(term)
        return self.rarity.weight(term, lang)

    def cross(self, term: str) -> float:
        """``term``'s weight when an English and a Spanish report share it."""
        if term[0] == "#":
            return self._special(term)
        return self.rarity.cross(term)

    def _special(self, term: str) -> float:
        found = self._concepts.get(term)
        if found is not None:
            return found
        digits = term[2:]
        if _is_year(term):
            return YEAR_WEIGHT
        if len(digits) == 1 or digits == "10":
            return SMALL_NUMBER_WEIGHT
        return NUMBER_WEIGHT

    def stem(self, word: str) -> str:
        """The term a folded word counts as: numbers as ``#n``, a plural ``s`` dropped."""
        found = self._stems.get(word)
        if found is None:
            if word.isdigit():
                found = "#n" + (word.lstrip("0") or "0")
            elif len(word) > 3 and word[-1] == "s" and word[-2] != "s":
                found = word[:-1]
            else:
                found = word
            if len(self._stems) < 500_000:  # bounded: a hostile feed's junk words
                self._stems[word] = found
        return found

    def extract(self, title: str, text: str, lang: str | None) -> Features:
        """The features of one report."""
        lang_tag = primary_lang(lang) or ""
        title_words = split_words(prepare(title, lang_tag))
        text_words = split_words(prepare(text, lang_tag))[:TEXT_WORDS] if text else []
        lexicon = self.lexicon
        title_concepts = lexicon.scan(title_words)
        terms: dict[str, float] = {}
        self._add_terms(terms, title_words, title_concepts, lang_tag)
        n_title = len(terms)
        title_weight = sum(terms.values())
        if text_words:
            self._add_terms(terms, text_words, lexicon.scan(text_words), lang_tag)
        if len(terms) > MAX_TERMS:
            # Keep every title term and the heaviest of the rest.
            items = list(terms.items())
            rest = sorted(items[n_title:], key=lambda kv: kv[1], reverse=True)
            terms = dict(items[:n_title] + rest[: max(0, MAX_TERMS - n_title)])
        ordered = tuple(terms)
        events = tuple(
            sorted({c.term for _, _, c in title_concepts if c.kind in ("event", "event>")})
        )
        actors = tuple(sorted({c.term for _, _, c in title_concepts if c.kind == "actor"}))
        numbers = tuple(t for t in ordered[:n_title] if t.startswith("#n") and not _is_year(t))
        agents, targets = self._direction(title_words, title_concepts)
        return Features(
            lang=lang_tag,
            terms=ordered,
            n_title=min(n_title, len(ordered)),
            weight=sum(terms.values()),
            title_weight=title_weight,
            cross_weight=sum(self.cross(t) for t in ordered),
            events=events,
            numbers=numbers,
            agents=agents,
            targets=targets,
            actors=actors,
        )

    def _add_terms(
        self,
        terms: dict[str, float],
        words: list[str],
        concepts: list[tuple[int, int, Concept]],
        lang: str,
    ) -> None:
        """Add the terms of ``words``: a lexicon phrase counts once, as its concept."""
        weight = self.weight
        covered: set[int] = set()
        for position, length, concept in concepts:
            terms.setdefault(concept.term, weight(concept.term, lang))
            covered.update(range(position, position + length))
        stem = self.stem
        for position, word in enumerate(words):
            if position in covered:
                continue
            term = stem(word)
            if term not in terms:
                w = weight(term, lang)
                if w >= MIN_WEIGHT:
                    terms[term] = w

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
        for position, word in enumerate(words):
            if self.rarity.cross(word) >= ACTOR_MIN and not word.isdigit():
                (agents if position < verb_at else targets).add(self.stem(word))
        return tuple(sorted(agents)), tuple(sorted(targets - agents))
