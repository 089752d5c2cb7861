"""Topic matcher: all topics compiled together, one pass per article.

Every query word of every topic is a key in one Aho-Corasick automaton: a whole
word is `` word `` and a prefix wildcard `` word`` (no trailing space), so running
the automaton over `` w `` yields exactly the keys that word satisfies, whole-word
and prefix alike. The article is folded and split into words once; each distinct
word's keys come from a memo (news text is mostly words seen before) filled from the
automaton on a miss, giving for every key the word positions where it occurs. One
automaton pass over the whole joined article was measured at ~24 us per article on
its own at 10,000 topics (a trie of ~30k keys walked char by char), while the memo
costs one dict lookup per word.

Each topic is indexed by a few anchor keys that any match must contain (AND: the
cheapest-looking child's anchors, OR: the union, NOT: none), so only topics with an
anchor present are evaluated, and only once the other keys the topic cannot match
without (a few frozensets, checked against the article's keys in C) are present too:
most candidates fail there, before their test. A topic's test is Python source
generated from its AST (``3 in h and (7 in h or 9 in h) and not 4 in h``) and compiled
on first use; only key ids and generated names reach that source, never query text.
Phrases are consecutive positions of their words' keys; NEAR compares occurrence spans.

Explaining a match (the terms that hit and a snippet) is generated code too, compiled
for a topic on its first match: the AND/OR structure unrolled into ``h.get(key)``
steps that collect term bits and word spans (NEAR keeps a span-pairing function), the
bits mapped to ``TopicHit.terms`` through a per-topic cache. Snippets are made once per
set of spans per article, with word offsets found in the folded text that ``split``
already produced (same offsets as the original text), not by re-tokenizing the field.

``evaluate_reference`` is a plain tree walk over the AST used to check the fast
path; the query language itself is described in ``tracker.query``.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, compress, count
from typing import Any, cast

import ahocorasick

from tracker.models import MatchInput, TopicHit, TopicSpec
from tracker.text import WORD_RE, fold, primary_subtag, split_words, split_words_folded, word_spans
from tracker.topics.query import (
    And,
    Lang,
    Near,
    Node,
    Not,
    Or,
    Term,
    Word,
    iter_terms,
    parse,
)

__all__ = ["Matcher", "evaluate_reference"]

# Positions between fields; larger than any NEAR distance so nothing spans two fields.
GAP = 1000
SNIPPET_CHARS = 200
SNIPPET_LEAD = 60
_FEED_CACHE_MAX = 4096
_WORD_CACHE_MAX = 200_000  # distinct folded words remembered (~20 MB); cleared when full

Span = tuple[int, int]
Lists = Mapping[str, Sequence[str]]


# ---------------------------------------------------------------------------- reference


def evaluate_reference(query: str, doc: MatchInput, lists: Lists | None = None) -> bool:
    """Whether ``query`` matches ``doc``, by a direct walk over the AST (slow, simple)."""
    return _RefDoc(doc).holds(parse(query, lists))


_RefSpan = tuple[int, int, int]  # (segment, first word, last word)


def _ref_words(text: str) -> list[str]:
    # Deliberately the regex route, not split_words: the two are cross-checked in tests.
    return WORD_RE.findall(fold(text))


class _RefDoc:
    """The document as word lists per segment, checked node by node."""

    def __init__(self, doc: MatchInput) -> None:
        self.segments = [
            ("title", _ref_words(doc.title)),
            ("body", _ref_words(doc.summary)),
            ("body", _ref_words(doc.content)),
            ("feed", _ref_words(doc.feed)),
        ]
        self.lang = primary_subtag(doc.lang)

    def holds(self, node: Node) -> bool:
        match node:
            case Term() | Near():
                return bool(self.spans(node))
            case Lang():
                return self.lang == node.code
            case Not():
                return not self.holds(node.child)
            case And():
                return all(self.holds(child) for child in node.children)
            case Or():
                return any(self.holds(child) for child in node.children)
        raise AssertionError(node)  # pragma: no cover

    def spans(self, node: Node) -> list[_RefSpan]:
        match node:
            case Term():
                return self.term_spans(node)
            case Or():
                return [span for child in node.children for span in self.spans(child)]
            case Near():
                left, right, n = self.spans(node.left), self.spans(node.right), node.distance
                return [
                    (a[0], min(a[1], b[1]), max(a[2], b[2]))
                    for a in left
                    for b in right
                    if a[0] == b[0] and (1 <= b[1] - a[2] <= n or 1 <= a[1] - b[2] <= n)
                ]
        raise AssertionError(node)  # pragma: no cover

    def term_spans(self, term: Term) -> list[_RefSpan]:
        size = len(term.words)
        return [
            (index, start, start + size - 1)
            for index, (field, words) in enumerate(self.segments)
            if field == term.field or (term.field == "any" and field != "feed")
            for start in range(len(words) - size + 1)
            if all(_word_hits(words[start + k], w) for k, w in enumerate(term.words))
        ]


def _word_hits(word: str, query_word: Word) -> bool:
    if query_word.prefix:
        return word.startswith(query_word.text)
    return word == query_word.text


# ---------------------------------------------------------------------------- per article


Hits = dict[int, list[int]]  # key id -> word positions, fields GAP apart


class _Doc:
    """Everything a compiled topic looks at for one article (flat: read in hot code)."""

    __slots__ = (
        "body_pos", "feed", "feed_hits", "folded", "hits", "lang", "segments", "snippets",
        "texts",
    )  # fmt: skip

    def __init__(
        self,
        hits: Hits,
        segments: Sequence[list[str]],
        folded: Sequence[str | None],
        feed: str,
        feed_hits: Hits,
        lang: str,
    ) -> None:
        self.hits = hits
        self.segments = segments  # words of the title, the summary and the content
        self.body_pos = len(segments[0]) + GAP  # position of the first body word
        self.folded = folded  # each segment as split_words_folded gives it
        self.feed = feed
        self.feed_hits = feed_hits
        self.lang = lang
        self.texts: dict[int, _Text] = {}  # the segments snippets are taken from
        # Snippets by the set of spans they highlight: topics that hit the same words of
        # an article share one (the snippet depends on nothing else).
        self.snippets: dict[object, str] = {}


_NO_HITS: Hits = {}

BoolFn = Callable[[_Doc], bool]
SpanFn = Callable[[_Doc], list[Span]]
Anchor = tuple[str, int | str]  # ("t", key id) text, ("f", key id) feed, ("l", code) lang
_Support = list[tuple[Term, Span]]  # term occurrences that make a node true
SupportFn = Callable[[_Doc], _Support | None]  # None: the node does not hold
Explanation = tuple[int, list[Span]]  # bits of the terms that hit, and their spans
CheckFn = Callable[[_Doc, bool], Explanation | bool | None]  # see _Compiler.check
OccurrenceFn = Callable[[_Doc], list[tuple[Span, _Support]]]


def _near_any(left: list[Span], right: list[Span], distance: int) -> bool:
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


def _near_spans(left: list[Span], right: list[Span], distance: int) -> list[Span]:
    return [
        (min(a[0], b[0]), max(a[1], b[1])) for a in left for b in right if _is_near(a, b, distance)
    ]


def _near_occurrences(
    left: list[tuple[Span, _Support]], right: list[tuple[Span, _Support]], distance: int
) -> list[tuple[Span, _Support]]:
    return [
        ((min(a[0], b[0]), max(a[1], b[1])), a_terms + b_terms)
        for a, a_terms in left
        for b, b_terms in right
        if _is_near(a, b, distance)
    ]


def _in_field(d: _Doc, position: int, field: str) -> bool:
    if field == "title":
        return position < d.body_pos
    if field == "body":
        return position >= d.body_pos
    return True


def _word_spans(kid: int, field: str) -> SpanFn:
    if field == "any":
        return lambda d: [(p, p) for p in d.hits.get(kid, ())]
    if field == "feed":
        return lambda d: [(p, p) for p in d.feed_hits.get(kid, ())]
    if field == "title":
        return lambda d: [(p, p) for p in d.hits.get(kid, ()) if p < d.body_pos]
    return lambda d: [(p, p) for p in d.hits.get(kid, ()) if p >= d.body_pos]


def _phrase_spans(kids: tuple[int, ...], field: str) -> SpanFn:
    """Spans where the phrase's words sit at consecutive positions."""
    last = len(kids) - 1

    def spans(d: _Doc) -> list[Span]:
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


# ---------------------------------------------------------------------------- compiling


@dataclass(frozen=True, slots=True)
class _Plan:
    """A sub-query as a Python expression over ``h`` (key id -> positions) and ``d``."""

    expr: str
    anchors: frozenset[Anchor] | None  # None: can match without any positive term
    cost: float  # a guess at how often the anchors occur; lower is better
    simple: bool = False  # a plain ``k in h`` test: cheapest of all


def _word_cost(word: Word) -> float:
    """Guess how common a query word is: short words and prefixes match more."""
    cost = 1.0
    if len(word.text) <= 3:
        cost *= 4
    if word.prefix:
        cost *= 3
    return cost


def _word_key(word: Word) -> str:
    return f" {word.text}" if word.prefix else f" {word.text} "


# Helpers arrive as arguments so the test reads them as closure cells, not globals.
_FUNCTION = (
    "def _make({names}):\n"
    "    def _holds(d):\n"
    "        h = d.hits\n"
    "        return {expr}\n"
    "    return _holds\n"
)
_NAME_RE = re.compile(r"\b_v\d+\b")
# A topic's test and, once the topic has matched, its support: ``m`` collects the bits
# of the terms that hit and ``s`` their spans. One function, so that explaining a match
# runs code that testing the topic has just brought into the cache.
_CHECK = """\
def _make({names}):
    def _check(d, x):
        h = d.hits
        if not {expr}:
            return None
        if not x:
            return True
{body}\
    return _check
"""
_UNEXPLAINED_BODY = "        return True\n"  # until the topic first matches
_EXPLAIN_BODY = """\
        m = 0
        s = []
{parts}\
        return m, s
"""
# A one-word term anywhere: its positions as one-word spans.
_EXPLAIN_WORD = """\
        p = h.get({kid})
        if p:
            m |= {bit}
            s += zip(p, p)
"""
# A phrase or a field-scoped word: its spans.
_EXPLAIN_SPANS = """\
        p = {spans}(d)
        if p:
            m |= {bit}
            s += p
"""
# A NEAR, or an AND under an OR: its own support function.
_EXPLAIN_SUPPORT = """\
        p = {call}
        if p is not None:
            m = _absorb(p, m, s, _bits)
"""


class _Compiler:
    """Turns ASTs into generated test functions and span closures over one key table."""

    def __init__(self) -> None:
        self.keys: dict[str, int] = {}
        self.uses_feed = False  # whether any term searches the feed name
        # Objects the generated code refers to by name: span closures, language codes.
        self.namespace: dict[str, Any] = {}
        self.names: dict[object, str] = {}

    def key(self, word: Word) -> int:
        return self.keys.setdefault(_word_key(word), len(self.keys))

    def name(self, cache_key: object, make: Callable[[], object]) -> str:
        """A namespace name for ``make()``, shared between equal ``cache_key``s."""
        name = self.names.get(cache_key)
        if name is None:
            name = self.names[cache_key] = f"_v{len(self.names)}"
            self.namespace[name] = make()
        return name

    def function(self, plan: _Plan) -> BoolFn:
        """Compile a plan's expression into ``_holds(d)``."""
        names = sorted(set(_NAME_RE.findall(plan.expr)))
        source = _FUNCTION.format(names=", ".join(names), expr=plan.expr)
        scope: dict[str, Any] = {}
        exec(compile(source, "<topic>", "exec"), scope)
        return cast(BoolFn, scope["_make"](*(self.namespace[name] for name in names)))

    def clauses(self, node: Node) -> list[frozenset[int]]:
        """Sets of keys that each must occur in the text for ``node`` to hold.

        A necessary condition only (phrases, NEAR and NOT have more to them), checked
        before a topic's test: most candidates fail it, and a set lookup is cheaper than
        a call of their generated test. The key ids are the automaton's own int objects,
        as the article's hits are, so lookups compare them by identity.
        """
        match node:
            case Term(field="feed") | Lang() | Not():
                return []
            case Term():
                return [frozenset([self.key(word)]) for word in node.words]
            case And():
                return [clause for child in node.children for clause in self.clauses(child)]
            case Near():
                return self.clauses(node.left) + self.clauses(node.right)
            case Or():
                firsts = [self.clauses(child)[:1] for child in node.children]
                if not all(firsts):
                    return []
                return [frozenset().union(*(first[0] for first in firsts))]
        raise AssertionError(node)  # pragma: no cover

    def plan(self, node: Node) -> _Plan:
        match node:
            case Term():
                return self._plan_term(node)
            case Lang():
                code = self.name(("lang", node.code), lambda: node.code)
                return _Plan(f"(d.lang == {code})", frozenset([("l", node.code)]), 50.0)
            case Not():
                return _Plan(f"(not {self.plan(node.child).expr})", None, 0.0)
            case And():
                return self._plan_and([self.plan(child) for child in node.children])
            case Or():
                return self._plan_or([self.plan(child) for child in node.children])
            case Near():
                return self._plan_near(node)
        raise AssertionError(node)  # pragma: no cover

    def _plan_term(self, term: Term) -> _Plan:
        words, field = term.words, term.field
        kids = [self.key(word) for word in words]
        # A phrase needs all its words: anchor on the one that looks rarest.
        rarest = min(range(len(kids)), key=lambda i: (_word_cost(words[i]), -len(words[i].text)))
        anchors = frozenset([("f" if field == "feed" else "t", kids[rarest])])
        cost = _word_cost(words[rarest]) * (0.3 if len(kids) > 1 else 1.0)
        self.uses_feed |= field == "feed"
        hits = "d.feed_hits" if field == "feed" else "h"
        present = " and ".join(f"{kid} in {hits}" for kid in dict.fromkeys(kids))
        if len(kids) > 1 or field in ("title", "body"):
            spans = self.name(("spans", term.words, field), lambda: self.spans(term))
            return _Plan(f"({present} and {spans}(d) != [])", anchors, cost)
        return _Plan(f"({present})", anchors, cost, simple=True)

    def _plan_and(self, plans: list[_Plan]) -> _Plan:
        anchored = [p for p in plans if p.anchors is not None]
        best = min(anchored, key=lambda p: p.cost) if anchored else None
        # Plain word tests first: cheapest and most likely to fail. The anchor child is
        # likely true (it is why the topic is evaluated) so it comes after the other
        # positives, and NOTs, which rarely fail, come last.
        ordered = sorted(plans, key=lambda p: (p.anchors is None, p is best, not p.simple, p.cost))
        expr = "(" + " and ".join(p.expr for p in ordered) + ")"
        if best is None:
            return _Plan(expr, None, 0.0)
        return _Plan(expr, best.anchors, best.cost)

    def _plan_or(self, plans: list[_Plan]) -> _Plan:
        ordered = sorted(plans, key=lambda p: not p.simple)
        expr = "(" + " or ".join(p.expr for p in ordered) + ")"
        if any(p.anchors is None for p in plans):
            return _Plan(expr, None, 0.0)
        anchors = frozenset().union(*(p.anchors for p in plans if p.anchors is not None))
        return _Plan(expr, anchors, sum(p.cost for p in plans))

    def _plan_near(self, node: Near) -> _Plan:
        left, right = self.plan(node.left), self.plan(node.right)
        near = self.name(("near", node), lambda: self._near_test(node))
        # Presence tests first: usually only the anchor side is there at all.
        best = min(left, right, key=lambda p: p.cost)
        return _Plan(f"({left.expr} and {right.expr} and {near}(d))", best.anchors, best.cost)

    def _near_test(self, node: Near) -> BoolFn:
        left, right, n = self.spans(node.left), self.spans(node.right), node.distance
        return lambda d: _near_any(left(d), right(d), n)

    def spans(self, node: Node) -> SpanFn:
        """Occurrence spans of a positional node (term, OR of them, NEAR)."""
        match node:
            case Term():
                kids = tuple(self.key(word) for word in node.words)
                if len(kids) == 1:
                    return _word_spans(kids[0], node.field)
                return _phrase_spans(kids, node.field)
            case Or():
                parts = tuple(self.spans(child) for child in node.children)
                return lambda d: [span for part in parts for span in part(d)]
            case Near():
                left, right, n = self.spans(node.left), self.spans(node.right), node.distance
                return lambda d: _near_spans(left(d), right(d), n)
        raise AssertionError(node)  # pragma: no cover

    def support(self, node: Node) -> SupportFn:
        """Which term occurrences make ``node`` true; compiled only for topics that match."""
        match node:
            case Term(field="feed") | Lang() | Not():
                holds = self.function(self.plan(node))  # filters and NOTs highlight nothing
                return lambda d: [] if holds(d) else None
            case Term():
                spans, term = self.spans(node), node
                return lambda d: [(term, span) for span in spans(d)] or None
            case Or() if all(self._plain_word(c) is not None for c in node.children):
                pairs = tuple((c, self._plain_word(c)) for c in node.children)
                return _support_words(cast(tuple[tuple[Term, int], ...], pairs))
            case Near():
                occurrences = self.occurrences(node)
                return lambda d: [pair for _, pairs in occurrences(d) for pair in pairs] or None
            case And():
                return _support_all(tuple(self.support(child) for child in node.children))
            case Or():
                # Terms answer None cheaply by themselves; other children are tested first.
                children = tuple(
                    (None if isinstance(c, Term) else self.function(self.plan(c)), self.support(c))
                    for c in node.children
                )
                return _support_any(children)
        raise AssertionError(node)  # pragma: no cover

    def check(self, plan: _Plan, node: Node, terms: Sequence[Term] | None) -> CheckFn:
        """Compile a topic's ``_check(d, explain)``; ``terms`` None: test only.

        ``_check`` returns None unless the topic holds; else True without ``explain``
        (or when compiled test only), and with it the terms and spans ``support(node)``
        gives, as term bits (bit i: ``terms[i]``) and spans. Under an AND that holds every
        child holds and an OR collects each child that holds, so both are unrolled into
        straight-line steps over key ids; what cannot be split that way (NEAR, an AND
        under an OR) keeps its own support function.
        """
        # This topic's own objects: support functions return its Term objects, so they
        # cannot be shared with an equal sub-query of another topic.
        local: dict[str, object] = {}
        body = _UNEXPLAINED_BODY
        if terms is not None:
            bits: dict[int, int] = {}
            for index, term in enumerate(terms):  # the AST's own objects: no deep hashing
                bits[id(term)] = bits.get(id(term), 0) | 1 << index
            local = {"_bits": bits, "_absorb": _absorb}
            parts: list[str] = []
            self._explain_lines(node, local, parts, under_or=False)
            body = _EXPLAIN_BODY.format(parts="".join(parts))
        shared = sorted(set(_NAME_RE.findall(plan.expr + body)))
        values = [*local.values(), *(self.namespace[name] for name in shared)]
        names = ", ".join([*local, *shared])
        source = _CHECK.format(names=names, expr=plan.expr, body=body)
        scope: dict[str, Any] = {}
        exec(compile(source, "<topic>", "exec"), scope)
        return cast(CheckFn, scope["_make"](*values))

    def _explain_lines(
        self, node: Node, local: dict[str, object], lines: list[str], under_or: bool
    ) -> None:
        bits = cast(dict[int, int], local["_bits"])
        # Under an AND that holds, a part finding nothing means the support fails, as
        # ``support`` has it: the whole explanation is then empty.
        fail = "" if under_or else "        else:\n            return 0, []\n"
        match node:
            case Term(field="feed") | Lang() | Not():
                return  # filters and NOTs highlight nothing
            case Term(field="any", words=(word,)):
                bit = bits.get(id(node), 0)
                lines.append(_EXPLAIN_WORD.format(kid=self.key(word), bit=bit) + fail)
            case Term():
                spans = self.name(("spans", node.words, node.field), lambda: self.spans(node))
                bit = bits.get(id(node), 0)
                lines.append(_EXPLAIN_SPANS.format(spans=spans, bit=bit) + fail)
            case Or():
                for child in node.children:
                    self._explain_lines(child, local, lines, under_or=True)
            case And() if not under_or:
                for child in node.children:
                    self._explain_lines(child, local, lines, under_or=False)
            case _:
                support = f"_s{len(local)}"
                local[support] = self.support(node)
                call = f"{support}(d)"
                if under_or:
                    holds = self.name(("holds", node), lambda: self.function(self.plan(node)))
                    call = f"{call} if {holds}(d) else None"
                lines.append(_EXPLAIN_SUPPORT.format(call=call) + fail)

    def _plain_word(self, node: Node) -> int | None:
        """The key id of a one-word term searched anywhere, else None."""
        if isinstance(node, Term) and node.field == "any" and len(node.words) == 1:
            return self.key(node.words[0])
        return None

    def occurrences(self, node: Node) -> OccurrenceFn:
        """Spans of a positional node, each with the term occurrences inside it."""
        match node:
            case Term():
                spans, term = self.spans(node), node
                return lambda d: [(span, [(term, span)]) for span in spans(d)]
            case Or():
                parts = tuple(self.occurrences(child) for child in node.children)
                return lambda d: [occurrence for part in parts for occurrence in part(d)]
            case Near():
                left, right = self.occurrences(node.left), self.occurrences(node.right)
                n = node.distance
                return lambda d: _near_occurrences(left(d), right(d), n)
        raise AssertionError(node)  # pragma: no cover


def _support_words(pairs: tuple[tuple[Term, int], ...]) -> SupportFn:
    """Support of an OR of plain words: every occurrence of each, in one pass."""

    def support(d: _Doc) -> _Support | None:
        hits = d.hits
        return [(term, (p, p)) for term, kid in pairs for p in hits.get(kid, ())] or None

    return support


def _support_all(children: tuple[SupportFn, ...]) -> SupportFn:
    def support(d: _Doc) -> _Support | None:
        found: _Support = []
        for child in children:
            part = child(d)
            if part is None:
                return None
            found += part
        return found

    return support


def _support_any(children: tuple[tuple[BoolFn | None, SupportFn], ...]) -> SupportFn:
    def support(d: _Doc) -> _Support | None:
        found: _Support | None = None
        for holds, child in children:
            part = child(d) if holds is None or holds(d) else None
            if part is not None:
                found = part if found is None else found + part
        return found

    return support


def _absorb(pairs: _Support, mask: int, spans: list[Span], bits: dict[int, int]) -> int:
    """Add a support function's term occurrences to an explanation; the new term bits."""
    for term, span in pairs:
        mask |= bits.get(id(term), 0)
        spans.append(span)
    return mask


class _Terms:
    """A topic's TopicHit.terms for the bits of the terms that hit."""

    __slots__ = ("by_mask", "raws", "topic")

    def __init__(self, topic: str, raws: tuple[str, ...]) -> None:
        self.topic = topic
        self.raws = raws  # the topic's positive terms as written, in query order
        self.by_mask: dict[int, tuple[str, ...]] = {}

    def terms(self, mask: int) -> tuple[str, ...]:
        """The distinct raw terms among ``mask``'s bits, in query order."""
        terms = self.by_mask.get(mask)
        if terms is None:
            raws = self.raws
            hit = (raws[i] for i in range(len(raws)) if mask >> i & 1)
            terms = self.by_mask[mask] = tuple(dict.fromkeys(hit))
        return terms


# ---------------------------------------------------------------------------- matcher


@dataclass(slots=True)
class _Topic:
    spec: TopicSpec
    node: Node
    plan: _Plan
    terms: tuple[Term, ...]  # positive terms in query order, for TopicHit.terms
    feeds: frozenset[str]
    langs: frozenset[str]


class Matcher:
    """Matches articles against every configured topic at once."""

    def __init__(self, topics: Sequence[TopicSpec], lists: Lists | None = None) -> None:
        compiler = _Compiler()
        self._topics: list[_Topic] = []
        by_anchor: dict[Anchor, list[int]] = {}
        self._requires: list[tuple[frozenset[int], ...] | None] = []
        for index, spec in enumerate(topics):
            node = parse(spec.query, lists)
            plan = compiler.plan(node)
            assert plan.anchors is not None  # parse() rejects queries without a positive term
            for anchor in plan.anchors:
                by_anchor.setdefault(anchor, []).append(index)
            self._topics.append(_compile_topic(spec, node, plan))
            self._requires.append(_requires(compiler.clauses(node), plan.anchors))
        self._compiler = compiler
        self._automaton = _build_automaton(compiler.keys)
        self._by_text = _anchor_table(by_anchor, "t", len(compiler.keys))
        self._by_feed = _anchor_table(by_anchor, "f", len(compiler.keys))
        self._by_lang = {str(a[1]): tuple(ts) for a, ts in by_anchor.items() if a[0] == "l"}
        self._uses_feed = compiler.uses_feed
        self._word_keys = _WordKeys(self._automaton if compiler.keys else None)
        self._feed_cache: dict[str, Hits] = {}
        # Compiled on first use: most topics are rarely candidates, and compiling is slow.
        self._checks: list[CheckFn | None] = [None] * len(self._topics)
        self._names = [spec.name for spec in topics]
        self._terms: list[_Terms | None] = [None] * len(self._topics)

    @classmethod
    def from_topics(cls, topics: Sequence[TopicSpec], lists: Lists | None = None) -> Matcher:
        """Compile ``topics``; raise QuerySyntaxError for an invalid query."""
        return cls(topics, lists)

    @property
    def topic_names(self) -> list[str]:
        return list(self._names)

    def match(self, doc: MatchInput, *, explain: bool = True) -> list[TopicHit]:
        """The topics ``doc`` matches, in configuration order.

        ``explain=False`` leaves ``terms`` and ``snippet`` empty, for callers that only
        count or filter: a quarter to a third cheaper at 10,000 topics.
        """
        if not self._topics:
            return []
        title, title_folded = split_words_folded(doc.title)
        summary, summary_folded = split_words_folded(doc.summary)
        content, content_folded = split_words_folded(doc.content) if doc.content else ([], "")
        segments = (title, summary, content)
        hits = self._scan(segments)
        candidates = set(chain.from_iterable(map(self._by_text.__getitem__, hits)))
        feed = _feed_key(doc.feed)
        feed_hits = _NO_HITS
        if self._uses_feed:
            feed_hits = self._feed_hits(feed)
            candidates.update(chain.from_iterable(map(self._by_feed.__getitem__, feed_hits)))
        lang = _lang_key(doc.lang)
        if self._by_lang:
            candidates.update(self._by_lang.get(lang, ()))
        if not candidates:
            return []
        folded = (title_folded, summary_folded, content_folded)
        ctx = _Doc(hits, segments, folded, feed, feed_hits, lang)
        checks, requires = self._checks, self._requires
        absent = set(hits).isdisjoint
        found: list[TopicHit] = []
        for index in sorted(candidates):
            required = requires[index]
            if required is not None and any(map(absent, required)):
                continue
            check = checks[index]
            if check is None:
                check = self._compile(index, explained=False)
            why = check(ctx, explain)
            if why is None:
                continue
            if not explain:
                found.append(TopicHit(self._names[index]))
                continue
            if why is True:  # the topic's first match: compile its explaining part
                why = self._compile(index, explained=True)(ctx, True)
            found.append(self._explain(index, ctx, doc, cast(Explanation, why)))
        return found

    def _compile(self, index: int, *, explained: bool) -> CheckFn:
        topic = self._topics[index]
        check = self._compiler.check(topic.plan, topic.node, topic.terms if explained else None)
        if topic.feeds or topic.langs:
            check = _restricted(check, topic.feeds, topic.langs)
        self._checks[index] = check
        return check

    def _scan(self, segments: Sequence[list[str]]) -> Hits:
        """Key id -> word positions, fields GAP apart."""
        keys_of = self._word_keys.__getitem__
        hits: Hits = {}
        base = 0
        for words in segments:
            # Most words are no key at all: C-level steps pick out the few that are (and
            # count from 0, where ints are preallocated, rather than from ``base``).
            found = list(map(keys_of, words))
            for offset, kids in zip(compress(count(), found), filter(None, found), strict=True):
                position = base + offset
                for kid in kids:
                    positions = hits.get(kid)
                    if positions is None:
                        hits[kid] = [position]
                    else:
                        positions.append(position)
            base += len(words) + GAP
        return hits

    def _feed_hits(self, feed: str) -> Hits:
        hits = self._feed_cache.get(feed)
        if hits is None:
            hits = self._scan([split_words(feed)])
            if len(self._feed_cache) >= _FEED_CACHE_MAX:
                self._feed_cache.clear()
            self._feed_cache[feed] = hits
        return hits

    def _explain(self, index: int, ctx: _Doc, doc: MatchInput, why: Explanation) -> TopicHit:
        mask, spans = why
        names = self._terms[index]
        if names is None:
            topic = self._topics[index]
            names = self._terms[index] = _Terms(topic.spec.name, tuple(t.raw for t in topic.terms))
        terms = names.by_mask.get(mask)
        if terms is None:
            terms = names.terms(mask)
        # The snippet depends only on the set of spans, so topics that hit the same words
        # of this article share one; a single span is its own key.
        key: object = spans[0] if len(spans) == 1 else frozenset(spans)
        snippet = ctx.snippets.get(key)
        if snippet is None:
            snippet = ctx.snippets[key] = _snippet(doc, ctx, spans)
        return TopicHit(names.topic, terms, snippet)


def _requires(
    clauses: list[frozenset[int]], anchors: frozenset[Anchor]
) -> tuple[frozenset[int], ...] | None:
    """The clauses worth checking for a candidate: not those its anchor satisfies."""
    text = {kid for kind, kid in anchors if kind == "t"}
    if len(text) == len(anchors):  # a candidate only for having one of these keys
        clauses = [clause for clause in clauses if not text <= clause]
    return tuple(dict.fromkeys(clauses)) or None


def _restricted(check: CheckFn, feeds: frozenset[str], langs: frozenset[str]) -> CheckFn:
    """``check`` for a topic limited to some feeds or languages."""

    def restricted(d: _Doc, explain: bool) -> Explanation | bool | None:
        if feeds and d.feed not in feeds:
            return None
        if langs and d.lang not in langs:
            return None
        return check(d, explain)

    return restricted


class _WordKeys(dict[str, tuple[int, ...]]):
    """Folded word -> the whole-word and prefix keys it satisfies; filled on first sight."""

    def __init__(self, automaton: ahocorasick.Automaton | None) -> None:
        super().__init__()
        self.automaton = automaton  # None when there are no keys

    def __missing__(self, word: str) -> tuple[int, ...]:
        kids: tuple[int, ...] = ()
        if self.automaton is not None:
            kids = tuple(kid for _, kid in self.automaton.iter(f" {word} "))
        if len(self) >= _WORD_CACHE_MAX:
            self.clear()
        self[word] = kids
        return kids


@functools.lru_cache(maxsize=1024)
def _feed_key(feed: str) -> str:
    return fold(feed).strip()


@functools.lru_cache(maxsize=256)
def _lang_key(lang: str | None) -> str:
    return primary_subtag(lang)


def _compile_topic(spec: TopicSpec, node: Node, plan: _Plan) -> _Topic:
    terms = tuple(term for term, negated in iter_terms(node) if not negated)
    feeds = frozenset(_feed_key(f) for f in spec.feeds)
    langs = frozenset(primary_subtag(lang) for lang in spec.langs)
    return _Topic(spec, node, plan, terms, feeds, langs)


def _build_automaton(keys: Mapping[str, int]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for key, kid in keys.items():
        automaton.add_word(key, kid)
    if keys:
        automaton.make_automaton()
    return automaton


def _anchor_table(
    by_anchor: Mapping[Anchor, list[int]], kind: str, size: int
) -> list[tuple[int, ...]]:
    """Topic indices per key id, as a list so the hot loop indexes instead of hashing."""
    table: list[tuple[int, ...]] = [()] * size
    for (anchor_kind, kid), indices in by_anchor.items():
        if anchor_kind == kind and isinstance(kid, int):
            table[kid] = tuple(indices)
    return table


# ---------------------------------------------------------------------------- snippets


def _snippet(doc: MatchInput, ctx: _Doc, spans: list[Span]) -> str:
    """Excerpt of the field holding the first hit, hits wrapped in ``**``."""
    if not spans:
        return _render(doc.title or doc.summary, [])
    first, last = spans[0] if len(spans) == 1 else min(spans)
    body = ctx.body_pos  # the segments start at 0, body and body + len(summary) + GAP
    if first < body:
        segment, base = 0, 0
    elif first < body + len(ctx.segments[1]):
        segment, base = 1, body
    else:
        segment, base = 2, body + len(ctx.segments[1]) + GAP
    text = ctx.texts.get(segment)
    if text is None:
        text = ctx.texts[segment] = _Text(doc, ctx, segment)
    if len(spans) == 1:
        return text.snippet(first - base, last - base)
    limit = base + len(text.words)
    ranges = [text.char_range(a - base, b - base) for a, b in spans if base <= a < limit]
    return _render(text.text, ranges, text.plain)


_FIND_WORDS_MAX = 200  # longer segments get a table of all word offsets instead
_WORD_STARTS: dict[int, Callable[[str], re.Match[str] | None]] = {}


class _Text:
    """One field of an article as snippets need it: made on the first snippet from it."""

    __slots__ = ("folded", "plain", "table", "text", "words")

    def __init__(self, doc: MatchInput, ctx: _Doc, segment: int) -> None:
        self.text = text = (doc.title, doc.summary, doc.content)[segment]
        self.words = ctx.segments[segment]
        folded = ctx.folded[segment]
        self.folded = "" if folded is None else folded
        self.table: list[Span] | None = None
        if folded is None or len(self.words) > _FIND_WORDS_MAX:
            self.table = word_spans(text)
        # Without runs of spaces or line breaks (printable: no control chars) no snippet
        # of the text has them either, and _layout has nothing to do.
        self.plain = text.isprintable() and "  " not in text

    def snippet(self, first: int, last: int) -> str:
        """``_render`` for one span, words ``first`` to ``last``: the usual snippet."""
        if self.table is not None:
            a, b = self.table[first][0], self.table[last][1]
        else:
            a = self.word_start(last)
            b = a + len(self.words[last])
            if first != last:
                a = self.word_start(first)
        text = self.text
        size = len(text)
        if size <= SNIPPET_CHARS:
            snippet = f"{text[:a]}**{text[a:b]}**{text[b:]}"
        else:
            start, end = _window(text, (a, b))
            snippet = f"{text[start:a]}**{text[a:b]}**{text[b:end]}"
            if start > 0:
                snippet = "…" + snippet
            if end < size:
                snippet += "…"
        return snippet.strip() if self.plain else _layout(snippet)

    def char_range(self, first: int, last: int) -> Span:
        """Offsets in the text from the start of word ``first`` to the end of ``last``."""
        if self.table is not None:
            return self.table[first][0], self.table[last][1]
        start = self.word_start(last)
        return (start if first == last else self.word_start(first)), start + len(self.words[last])

    def word_start(self, index: int) -> int:
        """Where word ``index`` starts: the folded text has the same offsets.

        The folded text is the words with runs of spaces between: the first and the last
        word are found by the spaces around them, a word's first occurrence as `` word ``
        by a C-level search, and a repeated word by a regex that counts the words before.
        """
        folded, words = self.folded, self.words
        word = words[index]
        if index == 0:
            return len(folded) - len(folded.lstrip(" "))
        if index == len(words) - 1:
            return len(folded.rstrip(" ")) - len(word)
        # Found between spaces, the word is a whole word; if it is not the first or last
        # word and occurs once, that is word ``index``.
        needle = f" {word} "
        found_at = folded.find(needle)
        if words[0] != word != words[-1] and folded.find(needle, found_at + 1) == -1:
            return found_at + 1
        match = _WORD_STARTS.get(index)
        if match is None:
            match = _WORD_STARTS[index] = re.compile(rf" *(?:[^ ]+ +){{{index}}}").match
        counted = match(folded)
        assert counted is not None  # the segment has more than ``index`` words
        return counted.end()


def _merge(ranges: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _window(text: str, first: Span) -> Span:
    """About SNIPPET_CHARS of ``text`` starting a little before ``first``, on word breaks."""
    size = len(text)
    if size <= SNIPPET_CHARS:
        return 0, size
    # Plain comparisons rather than min() and max(): this runs for most snippets.
    start = first[0] - SNIPPET_LEAD
    if start > size - SNIPPET_CHARS:
        start = size - SNIPPET_CHARS
    if start > 0:
        space = text.find(" ", start, first[0])
        start = space + 1 if space != -1 else start
    else:
        start = 0
    end = start + SNIPPET_CHARS
    if end < first[1]:
        end = first[1]
    if end < size:
        space = text.rfind(" ", first[1], end)
        end = space if space != -1 else end
    else:
        end = size
    return start, end


def _render(text: str, ranges: list[Span], plain: bool = False) -> str:
    """``text`` or a window of it with ``ranges`` in ``**``; ``plain``: no layout spaces."""
    size = len(text)
    if len(ranges) > 1:
        ranges = _merge(ranges)
    start, end = (0, size) if size <= SNIPPET_CHARS else _window(text, (ranges or [(0, 0)])[0])
    if len(ranges) == 1:  # the usual case; the window always holds the first range
        a, b = ranges[0]
        snippet = f"{text[start:a]}**{text[a:b]}**{text[b:end]}"
        if start > 0:
            snippet = "…" + snippet
        if end < size:
            snippet += "…"
    else:
        parts = ["…"] if start > 0 else []
        cursor = start
        for a, b in ranges:
            if start <= a and b <= end:
                parts += [text[cursor:a], "**", text[a:b], "**"]
                cursor = b
        parts.append(text[cursor:end])
        if end < size:
            parts.append("…")
        snippet = "".join(parts)
    return snippet.strip() if plain else _layout(snippet)


def _layout(snippet: str) -> str:
    """Collapse the runs of spaces and line breaks that summaries can carry."""
    # Substring tests beat a regex here.
    if "  " in snippet or "\n" in snippet or "\t" in snippet or "\r" in snippet:
        return " ".join(snippet.split())
    return snippet.strip()
