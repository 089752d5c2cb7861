"""Compiling plans: a topic's test and its explanation as generated Python functions.

A topic's test is compiled on its first use (most topics are rarely candidates, and
compiling is slow). Explaining a match (the terms that hit and their spans) is generated
code too, compiled for a topic on its first match: the AND/OR structure unrolled into
``h.get(key)`` steps that collect term bits and word spans (NEAR keeps a span-pairing
function); ``runtime`` maps the bits to ``TopicHit.terms``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, assert_never, cast

from tracker.topics.matcher.article import Doc, Span
from tracker.topics.matcher.plan import (
    TERM_SCAN_MIN,
    BoolFn,
    Plan,
    Planner,
    plain_word,
    scanned,
)
from tracker.topics.matcher.spans import (
    OccurrenceFn,
    Support,
    explain_terms,
    near_occurrences,
    words_occurrences,
)
from tracker.topics.query import And, Lang, Near, Node, Not, Or, Term

SupportFn = Callable[[Doc], Support | None]  # None: the node does not hold
Explanation = tuple[int, list[Span]]  # bits of the terms that hit, and their spans
CheckFn = Callable[[Doc, bool], Explanation | bool | None]  # see Compiler.check

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
# An OR's plain words and phrases: one loop over them (spans.explain_terms).
_EXPLAIN_TERMS = """\
        m |= {call}(d, s)
"""
# A NEAR, or an AND under an OR: its own support function.
_EXPLAIN_SUPPORT = """\
        p = {call}
        if p is not None:
            m = _absorb(p, m, s, _bits)
"""


class Compiler(Planner):
    """Turns plans into generated test functions, and topics into their explaining code."""

    def function(self, plan: Plan) -> BoolFn:
        """Compile a plan's expression into ``_holds(d)``."""
        names = sorted(set(_NAME_RE.findall(plan.expr)))
        source = _FUNCTION.format(names=", ".join(names), expr=plan.expr)
        scope: dict[str, Any] = {}
        exec(compile(source, "<topic>", "exec"), scope)
        return cast(BoolFn, scope["_make"](*(self.namespace[name] for name in names)))

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
            case _:
                assert_never(node)

    def check(self, plan: Plan, node: Node, terms: Sequence[Term] | None) -> CheckFn:
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
                # Unrolled, an @list of hundreds of terms made a body as long as its test.
                plain = [c for c in node.children if plain_word(c) or scanned(c)]
                batched = set(map(id, plain)) if len(plain) >= TERM_SCAN_MIN else set()
                if batched:
                    items = tuple(
                        (bits.get(id(c), 0), tuple(self.key(w) for w in c.words), c.field)
                        for c in plain
                        if isinstance(c, Term)
                    )
                    call = f"_s{len(local)}"
                    local[call] = explain_terms(items)
                    lines.append(_EXPLAIN_TERMS.format(call=call))
                for child in node.children:
                    if id(child) not in batched:
                        self._explain_lines(child, local, lines, under_or=True)
            case And() if not under_or:
                for child in node.children:
                    self._explain_lines(child, local, lines, under_or=False)
            case Near() | And():  # an AND here is under an OR
                support = f"_s{len(local)}"
                local[support] = self.support(node)
                call = f"{support}(d)"
                if under_or:
                    holds = self.name(("holds", node), lambda: self.function(self.plan(node)))
                    call = f"{call} if {holds}(d) else None"
                lines.append(_EXPLAIN_SUPPORT.format(call=call) + fail)
            case _:
                assert_never(node)

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
                # The words and phrases of an @list are looked up in one loop rather than
                # a closure call each: NEAR over lists of hundreds of terms spent most of
                # its time in those calls.
                plain = [c for c in node.children if isinstance(c, Term) and c.field == "any"]
                batched_ids = {id(c) for c in plain}
                words = tuple((c, self.key(c.words[0])) for c in plain if len(c.words) == 1)
                phrases = tuple(
                    (c, tuple(self.key(w) for w in c.words)) for c in plain if len(c.words) > 1
                )
                batched = words_occurrences(words, phrases)
                rest = tuple(self.occurrences(c) for c in node.children if id(c) not in batched_ids)
                if not rest:
                    return batched
                return lambda d: batched(d) + [o for part in rest for o in part(d)]
            case Near():
                left, right = self.occurrences(node.left), self.occurrences(node.right)
                n = node.distance
                return lambda d: near_occurrences(left(d), right(d), n)
            case Lang() | Not() | And():  # not positional: parse() keeps them out of NEAR
                raise AssertionError(node)  # pragma: no cover
            case _:
                assert_never(node)


def _support_words(pairs: tuple[tuple[Term, int], ...]) -> SupportFn:
    """Support of an OR of plain words: every occurrence of each, in one pass."""

    def support(d: Doc) -> Support | None:
        hits = d.hits
        return [(term, (p, p)) for term, kid in pairs for p in hits.get(kid, ())] or None

    return support


def _support_all(children: tuple[SupportFn, ...]) -> SupportFn:
    def support(d: Doc) -> Support | None:
        found: Support = []
        for child in children:
            part = child(d)
            if part is None:
                return None
            found += part
        return found

    return support


def _support_any(children: tuple[tuple[BoolFn | None, SupportFn], ...]) -> SupportFn:
    def support(d: Doc) -> Support | None:
        found: Support | None = None
        for holds, child in children:
            part = child(d) if holds is None or holds(d) else None
            if part is not None:
                found = part if found is None else found + part
        return found

    return support


def _absorb(pairs: Support, mask: int, spans: list[Span], bits: dict[int, int]) -> int:
    """Add a support function's term occurrences to an explanation; the new term bits."""
    for term, span in pairs:
        mask |= bits.get(id(term), 0)
        spans.append(span)
    return mask
