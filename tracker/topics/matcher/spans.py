"""Occurrence spans over an article's hits: words, phrases, NEAR pairs."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

from tracker.topics.matcher.article import Doc, Span
from tracker.topics.query import Term

SpanFn = Callable[[Doc], list[Span]]
Support = list[tuple[Term, Span]]  # term occurrences that make a node true
OccurrenceFn = Callable[[Doc], list[tuple[Span, Support]]]


def near_any(left: list[Span], right: list[Span], distance: int) -> bool:
    """Some left and right spans are disjoint with a gap of at most ``distance``."""
    return _follows_within(left, right, distance) or _follows_within(right, left, distance)


def _follows_within(first: list[Span], second: list[Span], distance: int) -> bool:
    if not first or not second:
        return False
    starts = sorted(start for start, _ in second)
    for _, end in first:
        i = bisect_right(starts, end)  # the earliest ``second`` span starting after ``end``
        if i < len(starts) and starts[i] <= end + distance:
            return True
    return False


def _is_near(a: Span, b: Span, distance: int) -> bool:
    return 1 <= b[0] - a[1] <= distance or 1 <= a[0] - b[1] <= distance


def near_spans(left: list[Span], right: list[Span], distance: int) -> list[Span]:
    return [
        (min(a[0], b[0]), max(a[1], b[1])) for a in left for b in right if _is_near(a, b, distance)
    ]


def near_occurrences(
    left: list[tuple[Span, Support]], right: list[tuple[Span, Support]], distance: int
) -> list[tuple[Span, Support]]:
    return [
        ((min(a[0], b[0]), max(a[1], b[1])), a_terms + b_terms)
        for a, a_terms in left
        for b, b_terms in right
        if _is_near(a, b, distance)
    ]


def words_spans(kids: tuple[int, ...], phrases: tuple[tuple[int, ...], ...]) -> SpanFn:
    """Spans of an OR's words and phrases searched anywhere, in one loop: a topic's @list
    of hundreds of terms would otherwise cost a closure call per term and article."""

    def spans(d: Doc) -> list[Span]:
        hits = d.hits
        found = [(p, p) for kid in kids for p in hits.get(kid, ())]
        for phrase in phrases:
            first = hits.get(phrase[0])
            if first:
                found += _phrase_at(hits, phrase, first)
        return found

    return spans


def words_occurrences(
    words: tuple[tuple[Term, int], ...], phrases: tuple[tuple[Term, tuple[int, ...]], ...]
) -> OccurrenceFn:
    """``words_spans`` with the term of each span, for explanations."""

    def occurrences(d: Doc) -> list[tuple[Span, Support]]:
        hits = d.hits
        found = [((p, p), [(term, (p, p))]) for term, kid in words for p in hits.get(kid, ())]
        for term, phrase in phrases:
            first = hits.get(phrase[0])
            if first:
                found += [(span, [(term, span)]) for span in _phrase_at(hits, phrase, first)]
        return found

    return occurrences


def any_term(terms: tuple[tuple[int, ...], ...], field: str) -> Callable[[Doc], bool]:
    """Whether any of ``terms`` (words and phrases as key ids) occurs in ``field``: an OR's
    terms in one scan, which looks only at those whose first word the article has."""
    grouped: dict[int, list[tuple[int, ...]]] = {}
    for kids in terms:
        grouped.setdefault(kids[0], []).append(kids)
    by_first = {kid: tuple(group) for kid, group in grouped.items()}
    firsts = frozenset(by_first)

    def holds(d: Doc) -> bool:
        hits = d.hits
        for kid in firsts.intersection(d.keys):  # set & set: walks the smaller
            first = _field_positions(d, hits[kid], field)
            if not first:
                continue
            for kids in by_first[kid]:
                if len(kids) == 1 or _phrase_at(hits, kids, first):
                    return True
        return False

    return holds


ExplainFn = Callable[[Doc, list[Span]], int]


def explain_terms(items: tuple[tuple[int, tuple[int, ...], str], ...]) -> ExplainFn:
    """An OR's words and phrases explained in one loop (``items``: each term's bit, key ids
    and field, in query order): the bits of those that occur, their spans appended."""

    def explain(d: Doc, spans: list[Span]) -> int:
        hits = d.hits
        mask = 0
        for bit, kids, field in items:
            first = hits.get(kids[0])
            if not first or not (first := _field_positions(d, first, field)):
                continue
            if len(kids) == 1:
                mask |= bit
                spans += zip(first, first, strict=True)
            elif found := _phrase_at(hits, kids, first):
                mask |= bit
                spans += found
        return mask

    return explain


def _field_positions(d: Doc, positions: list[int], field: str) -> list[int]:
    """The ``positions`` in ``field`` (title, body or any)."""
    if field == "title":
        return [p for p in positions if p < d.body_pos]
    if field == "body":
        return [p for p in positions if p >= d.body_pos]
    return positions


def _phrase_at(hits: dict[int, list[int]], phrase: tuple[int, ...], first: list[int]) -> list[Span]:
    later = []
    for kid in phrase[1:]:
        positions = hits.get(kid)
        if not positions:
            return []
        later.append(set(positions))
    last = len(phrase) - 1
    return [(p, p + last) for p in first if all(p + i in s for i, s in enumerate(later, 1))]


def _in_field(d: Doc, position: int, field: str) -> bool:
    if field == "title":
        return position < d.body_pos
    if field == "body":
        return position >= d.body_pos
    return True


def one_word_spans(kid: int, field: str) -> SpanFn:
    if field == "any":
        return lambda d: [(p, p) for p in d.hits.get(kid, ())]
    if field == "feed":
        return lambda d: [(p, p) for p in d.feed_hits.get(kid, ())]
    if field == "title":
        return lambda d: [(p, p) for p in d.hits.get(kid, ()) if p < d.body_pos]
    return lambda d: [(p, p) for p in d.hits.get(kid, ()) if p >= d.body_pos]


def phrase_spans(kids: tuple[int, ...], field: str) -> SpanFn:
    """Spans where the phrase's words sit at consecutive positions."""
    last = len(kids) - 1

    def spans(d: Doc) -> list[Span]:
        hits = d.feed_hits if field == "feed" else d.hits
        found = [hits.get(kid) for kid in kids]
        if not all(found):
            return []
        later = [set(positions or ()) for positions in found[1:]]
        return [
            (p, p + last)
            for p in found[0] or ()
            if all(p + i in s for i, s in enumerate(later, 1)) and _in_field(d, p, field)
        ]

    return spans
