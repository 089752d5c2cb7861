"""Planning topics: key ids, the test expression, anchors and required keys.

Every query word is a key (`` word `` whole, `` word`` a prefix) with one id in a table
shared by all topics. Each topic is indexed by a few anchor keys that any match must
contain (AND: the cheapest-looking child's anchors, OR: the union, NOT: none), so only
topics with an anchor present are evaluated, and only once the other keys the topic
cannot match without (a few frozensets, checked against the article's keys in C) are
present too: most candidates fail there, before their test. A topic's test is a Python
expression built from its AST (``3 in h and (7 in h or 9 in h) and not 4 in h``),
compiled by ``codegen``; only key ids and generated names reach that source, never query
text. Phrases are consecutive positions of their words' keys; NEAR compares spans. An OR's
plain words are one set test (``not d.keys.isdisjoint(_v3)``) and its phrases, or words of one
field, one scan (``spans.any_term``): an @list of hundreds of terms is a short test, not
hundreds of kilobytes of source to compile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard, assert_never

from tracker.topics.matcher.article import Doc
from tracker.topics.matcher.spans import (
    SpanFn,
    any_term,
    near_any,
    near_spans,
    one_word_spans,
    phrase_spans,
    words_spans,
)
from tracker.topics.query import And, Lang, Near, Node, Not, Or, Term, Word

BoolFn = Callable[[Doc], bool]
Anchor = tuple[str, int | str]  # ("t", key id) text, ("f", key id) feed, ("l", code) lang

# Under an OR, this many plain words or more are one set test, and this many other terms of
# one field (phrases, a title's words) one scan. Below that the chain of ``k in h`` tests
# is cheaper (four of them took 40 ns, one set test of the same four 60-90 ns) and its
# source small anyway; the memory went to lists of hundreds.
WORD_SET_MIN = 8
TERM_SCAN_MIN = 8


@dataclass(frozen=True, slots=True)
class Plan:
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


def plain_word(node: Node) -> TypeGuard[Term]:
    """A one-word term searched anywhere (a key's presence is all it asks)."""
    return isinstance(node, Term) and node.field == "any" and len(node.words) == 1


def scanned(node: Node) -> str | None:
    """The field of a term an OR's scan can take (any but a plain word, and not the feed's
    name), else None."""
    if isinstance(node, Term) and node.field != "feed" and not plain_word(node):
        return node.field
    return None


def _word_key(word: Word) -> str:
    return f" {word.text}" if word.prefix else f" {word.text} "


class Planner:
    """Plans sub-queries over one key table: expressions, anchors, costs, key clauses."""

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
            case _:
                assert_never(node)

    def plan(self, node: Node) -> Plan:
        match node:
            case Term():
                return self._plan_term(node)
            case Lang():
                code = self.name(("lang", node.code), lambda: node.code)
                return Plan(f"(d.lang == {code})", frozenset([("l", node.code)]), 50.0)
            case Not():
                return Plan(f"(not {self.plan(node.child).expr})", None, 0.0)
            case And():
                return self._plan_and([self.plan(child) for child in node.children])
            case Or():
                return self._plan_or(node)
            case Near():
                return self._plan_near(node)
            case _:
                assert_never(node)

    def _term_anchor(self, term: Term) -> tuple[Anchor, float]:
        """A term's anchor and cost: a phrase needs all its words, so its rarest-looking."""
        words = term.words
        kids = [self.key(word) for word in words]
        rarest = min(range(len(kids)), key=lambda i: (_word_cost(words[i]), -len(words[i].text)))
        cost = _word_cost(words[rarest]) * (0.3 if len(kids) > 1 else 1.0)
        return ("f" if term.field == "feed" else "t", kids[rarest]), cost

    def _plan_term(self, term: Term) -> Plan:
        words, field = term.words, term.field
        kids = [self.key(word) for word in words]
        anchor, cost = self._term_anchor(term)
        self.uses_feed |= field == "feed"
        hits = "d.feed_hits" if field == "feed" else "h"
        present = " and ".join(f"{kid} in {hits}" for kid in dict.fromkeys(kids))
        if len(kids) > 1 or field in ("title", "body"):
            spans = self.name(("spans", term.words, field), lambda: self.spans(term))
            return Plan(f"({present} and {spans}(d) != [])", frozenset([anchor]), cost)
        return Plan(f"({present})", frozenset([anchor]), cost, simple=True)

    def _plan_and(self, plans: list[Plan]) -> Plan:
        anchored = [p for p in plans if p.anchors is not None]
        best = min(anchored, key=lambda p: p.cost) if anchored else None
        # Plain word tests first: cheapest and most likely to fail. The anchor child is
        # likely true (it is why the topic is evaluated) so it comes after the other
        # positives, and NOTs, which rarely fail, come last.
        ordered = sorted(plans, key=lambda p: (p.anchors is None, p is best, not p.simple, p.cost))
        expr = "(" + " and ".join(p.expr for p in ordered) + ")"
        if best is None:
            return Plan(expr, None, 0.0)
        return Plan(expr, best.anchors, best.cost)

    def _plan_or(self, node: Or) -> Plan:
        # An @list of hundreds of terms planned a test per term: a source of hundreds of
        # kilobytes per topic, tens of megabytes while compiling it. Its plain words are
        # one set test over the article's keys and its phrases one scan instead.
        words = [c for c in node.children if plain_word(c)]
        plans: list[Plan] = []
        batched: set[int] = set()
        if len(words) >= WORD_SET_MIN:
            plans.append(self._plan_words(words))
            batched.update(map(id, words))
        for field in ("any", "title", "body"):
            terms = [c for c in node.children if isinstance(c, Term) and scanned(c) == field]
            if len(terms) >= TERM_SCAN_MIN:
                plans.append(self._plan_scan(terms, field))
                batched.update(map(id, terms))
        plans += [self.plan(c) for c in node.children if id(c) not in batched]
        ordered = sorted(plans, key=lambda p: not p.simple)
        expr = "(" + " or ".join(p.expr for p in ordered) + ")"
        if any(p.anchors is None for p in plans):
            return Plan(expr, None, 0.0)
        anchors = frozenset().union(*(p.anchors for p in plans if p.anchors is not None))
        return Plan(expr, anchors, sum(p.cost for p in plans))

    def _plan_words(self, terms: list[Term]) -> Plan:
        """Plain one-word terms under one OR: whether the article has any of their keys."""
        kids = frozenset(self.key(term.words[0]) for term in terms)
        name = self.name(("any-key", kids), lambda: kids)
        anchors = frozenset(("t", kid) for kid in kids)
        cost = sum(_word_cost(term.words[0]) for term in terms)
        return Plan(f"(not d.keys.isdisjoint({name}))", anchors, cost, simple=True)

    def _plan_scan(self, terms: list[Term], field: str) -> Plan:
        """Phrases (and words of a title or body) under one OR: whether any of them occurs."""
        kids = tuple(dict.fromkeys(tuple(self.key(w) for w in term.words) for term in terms))
        name = self.name(("any-term", kids, field), lambda: any_term(kids, field))
        found = [self._term_anchor(term) for term in terms]
        anchors = frozenset(anchor for anchor, _ in found)
        return Plan(f"{name}(d)", anchors, sum(cost for _, cost in found))

    def _plan_near(self, node: Near) -> Plan:
        left, right = self.plan(node.left), self.plan(node.right)
        near = self.name(("near", node), lambda: self._near_test(node))
        # Presence tests first: usually only the anchor side is there at all.
        best = min(left, right, key=lambda p: p.cost)
        return Plan(f"({left.expr} and {right.expr} and {near}(d))", best.anchors, best.cost)

    def _near_test(self, node: Near) -> BoolFn:
        left, right, n = self.spans(node.left), self.spans(node.right), node.distance
        return lambda d: near_any(left(d), right(d), n)

    def spans(self, node: Node) -> SpanFn:
        """Occurrence spans of a positional node (term, OR of them, NEAR)."""
        match node:
            case Term():
                kids = tuple(self.key(word) for word in node.words)
                if len(kids) == 1:
                    return one_word_spans(kids[0], node.field)
                return phrase_spans(kids, node.field)
            case Or():
                # The words and phrases of an @list are looked up in one loop rather than
                # a closure call each: NEAR over lists of hundreds of terms spent most of
                # its time in those calls.
                plain = [c for c in node.children if isinstance(c, Term) and c.field == "any"]
                batched_ids = {id(c) for c in plain}
                words = tuple(self.key(c.words[0]) for c in plain if len(c.words) == 1)
                phrases = tuple(
                    tuple(self.key(w) for w in c.words) for c in plain if len(c.words) > 1
                )
                batched = words_spans(words, phrases)
                rest = tuple(self.spans(c) for c in node.children if id(c) not in batched_ids)
                if not rest:
                    return batched
                return lambda d: batched(d) + [span for part in rest for span in part(d)]
            case Near():
                left, right, n = self.spans(node.left), self.spans(node.right), node.distance
                return lambda d: near_spans(left(d), right(d), n)
            case Lang() | Not() | And():  # not positional: parse() keeps them out of NEAR
                raise AssertionError(node)  # pragma: no cover
            case _:
                assert_never(node)


def required_clauses(
    clauses: list[frozenset[int]], anchors: frozenset[Anchor]
) -> tuple[frozenset[int], ...] | None:
    """The clauses worth checking for a candidate: not those its anchor satisfies."""
    text = {kid for kind, kid in anchors if kind == "t"}
    if len(text) == len(anchors):  # a candidate only for having one of these keys
        clauses = [clause for clause in clauses if not text <= clause]
    return tuple(dict.fromkeys(clauses)) or None


def anchor_table(
    by_anchor: Mapping[Anchor, list[int]], kind: str, size: int
) -> list[tuple[int, ...]]:
    """Topic indices per key id, as a list so the hot loop indexes instead of hashing."""
    table: list[tuple[int, ...]] = [()] * size
    for (anchor_kind, kid), indices in by_anchor.items():
        if anchor_kind == kind and isinstance(kid, int):
            table[kid] = tuple(indices)
    return table
