"""`tracker topics suggest`: candidate terms for a topic from the reports it missed.

Pure: handed the missed reports (articles of stories the topic matched through another
report) and a background of stored articles, it lists the words and two-word phrases (folded
as queries fold them, stop words in English and Spanish left out, and the topic's own terms
too) that the most missed reports carry, weighed by how rare each is in the background:
``score = reports × (ln((N + 1) / (background + 1)) + 1)``, the smoothed inverse document
frequency, so a term every article carries sinks below one only the missed reports share.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tracker.text import split_words
from tracker.topics.query import Node, iter_terms

# Function words of English and Spanish, folded (no accents) as split_words returns them:
# they are in every report, so they say nothing about what a topic misses.
_STOP_TEXT = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    out over own said same says she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours new one two three
    first last year years told says according amid may might must mr mrs ms week monday
    tuesday wednesday thursday friday saturday sunday al algo algunas algunos ante antes aquel
    aquella aquellas aquellos aqui asi aun cada casi como con contra cual cuales cuando cuanto
    de del desde donde dos durante e el ella ellas ello ellos en entre era eran es esa esas ese
    eso esos esta estaba estan estar estas este esto estos fue fueron ha habia han hasta
    hay la las le les lo los mas me mi mientras muy nada ni no nos nosotros o otra otras otro
    otros para pero poco por porque que quien quienes se segun ser si sido sin sobre solo son
    su sus tambien tan tanto te tiene tienen todo todos tras tu un una unas uno unos y ya yo
    dijo dice afirmo ano anos lunes martes miercoles jueves viernes sabado domingo ayer hoy
    este esta semana
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


@dataclass(frozen=True)
class Missed:
    """One report the topic did not match, in a story it did."""

    title: str
    text: str


@dataclass(frozen=True)
class Suggestion:
    """A candidate term: in how many missed reports and background articles, and examples."""

    term: str
    reports: int
    background: int
    score: float
    examples: tuple[str, ...]


@dataclass(frozen=True)
class UsedTerms:
    """What a topic's query already says: single words (``prefix`` ones as stems) and phrases."""

    words: frozenset[str]
    prefixes: tuple[str, ...]
    phrases: frozenset[str]

    def covers(self, term: str) -> bool:
        """A candidate the query already has: the phrase itself, or one of its words."""
        if term in self.phrases:
            return True
        return any(w in self.words or w.startswith(self.prefixes) for w in term.split())


def used_terms(query: Node) -> UsedTerms:
    """Every term of a parsed query (also those under NOT: the author chose them)."""
    words: set[str] = set()
    prefixes: list[str] = []
    phrases: set[str] = set()
    for term, _negated in iter_terms(query):
        if len(term.words) == 1:
            w = term.words[0]
            if w.prefix:
                prefixes.append(w.text)
            else:
                words.add(w.text)
        else:
            phrases.add(" ".join(w.text for w in term.words))
    return UsedTerms(frozenset(words), tuple(prefixes), frozenset(phrases))


def _keep(word: str) -> bool:
    return len(word) > 1 and not word.isdigit() and word not in STOP_WORDS


def terms_of(*fields: str) -> set[str]:
    """The folded words and two-word phrases (adjacent, neither a stop word) of some text;
    a phrase never spans two fields."""
    out: set[str] = set()
    for text in fields:
        words = split_words(text)
        for i, w in enumerate(words):
            if not _keep(w):
                continue
            out.add(w)
            if i + 1 < len(words) and _keep(words[i + 1]):
                out.add(f"{w} {words[i + 1]}")
    return out


def suggest(
    missed: Sequence[Missed],
    background: Iterable[tuple[str, str]],
    used: UsedTerms,
    *,
    limit: int = 20,
    examples: int = 3,
) -> list[Suggestion]:
    """The ``limit`` best candidate terms for a topic from its missed reports, best first
    (ties: more reports, phrases first, then alphabetical), each with up to ``examples``
    headlines."""
    df: Counter[str] = Counter()
    heads: defaultdict[str, list[str]] = defaultdict(list)
    for report in missed:
        for term in terms_of(report.title, report.text):
            if used.covers(term):
                continue
            df[term] += 1
            if len(heads[term]) < examples and report.title not in heads[term]:
                heads[term].append(report.title)
    if not df:
        return []
    bg: Counter[str] = Counter()
    total = 0
    for title, text in background:
        total += 1
        bg.update(t for t in terms_of(title, text) if t in df)
    total = max(total, len(missed))
    ranked = []
    for term, n in df.items():
        b = max(bg[term], n)  # the background may not hold every missed report
        score = n * (math.log((total + 1) / (b + 1)) + 1)
        ranked.append(Suggestion(term, n, b, round(score, 3), tuple(heads[term])))
    # Ties: a phrase before its words (it says more), then alphabetical.
    ranked.sort(key=lambda s: (-s.score, -s.reports, -s.term.count(" "), s.term))
    return ranked[:limit]
