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

Cost matters (``bench/bench_stories.py``): every folded word is looked up once per language
in a memo giving its term and both weights, so extraction is a few dict lookups a word.
"""

from __future__ import annotations

from dataclasses import dataclass

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

# a word's term, and the term's weight in the language and across languages
_WordInfo = tuple[str, tuple[float, float]]


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
    """Term weights: words by rarity, concepts by kind, numbers by whether they are years."""

    def __init__(self, lexicon: Lexicon, rarity: Rarity) -> None:
        self.lexicon = lexicon
        self.rarity = rarity
        self._special: dict[str, float] = {
            c.term: CONCEPT_WEIGHT[c.kind] for c in lexicon.phrases.values()
        }
        # lang -> folded word -> its term and weights (None: a stop word)
        self._words: dict[str, dict[str, _WordInfo | None]] = {}

    # -------------------------------------------------------------------- weights

    def weight(self, term: str, lang: str) -> float:
        """``term``'s weight in a report in ``lang``."""
        if term[0] == "#":
            return self._special_weight(term)
        # A stem weighs what its commoner form does ("talk" / "talks").
        rarity = self.rarity
        return min(rarity.weight(term, lang), rarity.weight(term + "s", lang))

    def cross(self, term: str) -> float:
        """``term``'s weight when an English and a Spanish report share it."""
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

    def _info(self, word: str, lang: str, memo: dict[str, _WordInfo | None]) -> _WordInfo | None:
        term = self.stem(word)
        weight = self.weight(term, lang)
        info = (term, (weight, self.cross(term))) if weight >= MIN_WEIGHT else None
        if len(memo) < MEMO_WORDS:
            memo[word] = info
        return info

    # -------------------------------------------------------------------- extraction

    def extract(self, title: str, text: str, lang: str | None) -> Features:
        """The features of one report."""
        lang_tag = _LANGS.setdefault(primary_lang(lang) or "", primary_lang(lang) or "")
        title_words = split_words(prepare(title, lang_tag))
        text_words = split_words(prepare(text, lang_tag))[:TEXT_WORDS] if text else []
        scan = self.lexicon.scan
        title_concepts = scan(title_words)
        # term -> (weight, cross)
        title_terms: dict[str, tuple[float, float]] = {}
        self._add_terms(title_terms, title_words, title_concepts, lang_tag, None)
        rest_terms: dict[str, tuple[float, float]] = {}
        if text_words:
            self._add_terms(rest_terms, text_words, scan(text_words), lang_tag, title_terms)
        by_cross = _by_cross
        ordered = sorted(title_terms.items(), key=by_cross, reverse=True)
        n_title = len(ordered)
        if rest_terms:
            rest = sorted(rest_terms.items(), key=by_cross, reverse=True)
            ordered += rest[: max(0, MAX_TERMS - n_title)]
        terms = tuple([term for term, _ in ordered])
        values = [value for _, value in ordered]
        weight = sum([value[0] for value in values])
        cross_weight = sum([value[1] for value in values])
        title_weight = sum([value[0] for value in values[:n_title]])
        events: tuple[str, ...] = ()
        actors: tuple[str, ...] = ()
        if title_concepts:
            events = tuple(
                sorted({c.term for _, _, c in title_concepts if c.kind in ("event", "event>")})
            )
            actors = tuple(sorted({c.term for _, _, c in title_concepts if c.kind == "actor"}))
        numbers = tuple(
            [t for t in terms[:n_title] if t.startswith(NUMBER_PREFIX) and not _is_year(t)]
        )
        agents, targets = self._direction(title_words, title_concepts)
        return Features(
            lang=lang_tag,
            terms=terms,
            n_title=n_title,
            weight=weight,
            title_weight=title_weight,
            cross_weight=cross_weight,
            events=events,
            numbers=numbers,
            agents=agents,
            targets=targets,
            actors=actors,
        )

    def _add_terms(
        self,
        terms: dict[str, tuple[float, float]],
        words: list[str],
        concepts: list[tuple[int, int, Concept]],
        lang: str,
        skip: dict[str, tuple[float, float]] | None,
    ) -> None:
        """Add the terms of ``words`` not in ``skip``: a lexicon phrase counts once, as its
        concept, instead of its words."""
        if concepts:
            covered: set[int] = set()
            for position, length, concept in concepts:
                term = concept.term
                if skip is None or term not in skip:
                    w = self.weight(term, lang)
                    terms[term] = (w, w)
                covered.update(range(position, position + length))
            words = [w for i, w in enumerate(words) if i not in covered]
        memo = self._words.get(lang)
        if memo is None:
            memo = self._words[lang] = {}
        get = memo.get
        # One C-level pass over the memo; words never seen take the slow path once.
        infos = [get(word, _MISSING) for word in words]
        if _MISSING in infos:
            info_of = self._info
            infos = [
                info_of(word, lang, memo) if info is _MISSING else info
                for word, info in zip(words, infos, strict=True)
            ]
        if skip is None:
            for info in infos:
                if info is not None:
                    terms[info[0]] = info[1]
        else:
            for info in infos:
                if info is not None and info[0] not in skip:
                    terms[info[0]] = info[1]

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
            term = self.stem(word)
            if term[0] != "#" and self.cross(term) >= ACTOR_MIN:
                (agents if position < verb_at else targets).add(term)
        return tuple(sorted(agents)), tuple(sorted(targets - agents))


_MISSING: _WordInfo = ("", (0.0, 0.0))
# one string per language tag, not one per report
_LANGS: dict[str, str] = {}


def _by_cross(item: tuple[str, tuple[float, float]]) -> float:
    return item[1][1]
