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
anchor present are evaluated. A topic's test is Python source generated from its
AST (``3 in h and (7 in h or 9 in h) and not 4 in h``) and compiled on first use;
only key ids and generated names reach that source, never query text. Phrases are
consecutive positions of their words' keys; NEAR compares occurrence spans.

``evaluate_reference`` is a plain tree walk over the AST used to check the fast
path; the query language itself is described in ``tracker.query``.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import ahocorasick

from .models import MatchInput, TopicHit, TopicSpec
from .query import (
    WORD_RE,
    And,
    Lang,
    Near,
    Node,
    Not,
    Or,
    QuerySyntaxError,
    Term,
    Word,
    fold,
    iter_terms,
    parse,
    primary_subtag,
    split_words,
    word_spans,
)

__all__ = ["Matcher", "QuerySyntaxError", "check_query", "evaluate_reference", "fold"]

# Positions between fields; larger than any NEAR distance so nothing spans two fields.
GAP = 1000
SNIPPET_CHARS = 200
SNIPPET_LEAD = 60
_FEED_CACHE_MAX = 4096
_WORD_CACHE_MAX = 200_000  # distinct folded words remembered (~20 MB); cleared when full

Span = tuple[int, int]
Lists = Mapping[str, Sequence[str]]


def check_query(query: str, lists: Lists | None = None) -> str | None:
    """Return a human-readable syntax error for ``query``, or None when it is valid."""
    try:
        parse(query, lists)
    except QuerySyntaxError as err:
        return str(err)
    return None


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


class _Stream:
    """Word positions of the keys found in one text: the article fields, or the feed name."""

    __slots__ = ("body_pos", "hits", "segments")

    def __init__(self, hits: dict[int, list[int]], segments: Sequence[list[str]]) -> None:
        self.hits = hits
        self.segments = segments
        self.body_pos = len(segments[0]) + GAP  # position of the first body word


class _Doc:
    """Everything a compiled topic looks at for one article (flat: read in hot code)."""

    __slots__ = ("body_pos", "feed_hits", "hits", "lang", "main", "offsets")

    def __init__(self, main: _Stream, feed: _Stream, lang: str) -> None:
        self.hits = main.hits
        self.body_pos = main.body_pos
        self.feed_hits = feed.hits
        self.lang = lang
        self.main = main
        self.offsets: dict[int, list[Span]] = {}  # snippet word offsets per segment


_EMPTY_STREAM = _Stream({}, [[]])

BoolFn = Callable[[_Doc], bool]
SpanFn = Callable[[_Doc], list[Span]]
Anchor = tuple[str, int | str]  # ("t", key id) text, ("f", key id) feed, ("l", code) lang
_Support = list[tuple[Term, Span]]  # term occurrences that make a node true
SupportFn = Callable[[_Doc], _Support | None]  # None: the node does not hold
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


# ---------------------------------------------------------------------------- matcher


@dataclass(slots=True)
class _Topic:
    spec: TopicSpec
    node: Node
    plan: _Plan
    terms: tuple[Term, ...]  # positive terms in query order, for TopicHit.terms
    feeds: frozenset[str]
    langs: frozenset[str]
    # Compiled on first use: most topics are rarely candidates, and compiling is slow.
    holds: BoolFn | None = None
    support: SupportFn | None = None


class Matcher:
    """Matches articles against every configured topic at once."""

    def __init__(self, topics: Sequence[TopicSpec], lists: Lists | None = None) -> None:
        compiler = _Compiler()
        self._topics: list[_Topic] = []
        by_anchor: dict[Anchor, list[int]] = {}
        for index, spec in enumerate(topics):
            node = parse(spec.query, lists)
            plan = compiler.plan(node)
            assert plan.anchors is not None  # parse() rejects queries without a positive term
            for anchor in plan.anchors:
                by_anchor.setdefault(anchor, []).append(index)
            self._topics.append(_compile_topic(spec, node, plan))
        self._compiler = compiler
        self._automaton = _build_automaton(compiler.keys)
        self._by_text = _anchor_table(by_anchor, "t", len(compiler.keys))
        self._by_feed = _anchor_table(by_anchor, "f", len(compiler.keys))
        self._by_lang = {str(a[1]): tuple(ts) for a, ts in by_anchor.items() if a[0] == "l"}
        self._uses_feed = compiler.uses_feed
        self._word_keys: dict[str, tuple[int, ...]] = {}
        self._feed_cache: dict[str, _Stream] = {}

    @classmethod
    def from_topics(cls, topics: Sequence[TopicSpec], lists: Lists | None = None) -> Matcher:
        """Compile ``topics``; raise QuerySyntaxError for an invalid query."""
        return cls(topics, lists)

    @property
    def topic_names(self) -> list[str]:
        return [t.spec.name for t in self._topics]

    def match(self, doc: MatchInput, *, explain: bool = True) -> list[TopicHit]:
        """The topics ``doc`` matches, in configuration order.

        ``explain=False`` leaves ``terms`` and ``snippet`` empty, for callers that only
        count or filter: finding the hits is then about twice as cheap at many topics.
        """
        if not self._topics:
            return []
        content = split_words(doc.content) if doc.content else []
        segments = (split_words(doc.title), split_words(doc.summary), content)
        main = _Stream(self._scan(segments), segments)
        feed_name = _feed_key(doc.feed)
        feed = self._feed_stream(feed_name)
        lang = _lang_key(doc.lang)
        candidates = self._candidates(main, feed, lang)
        if not candidates:
            return []
        ctx = _Doc(main, feed, lang)
        hits: list[TopicHit] = []
        for index in sorted(candidates):
            topic = self._topics[index]
            if topic.feeds and feed_name not in topic.feeds:
                continue
            if topic.langs and lang not in topic.langs:
                continue
            holds = topic.holds
            if holds is None:
                holds = topic.holds = self._compiler.function(topic.plan)
            if holds(ctx):
                hits.append(
                    self._explain(topic, ctx, doc) if explain else TopicHit(topic.spec.name)
                )
        return hits

    def _scan(self, segments: Sequence[list[str]]) -> dict[int, list[int]]:
        """Key id -> word positions, fields GAP apart."""
        memo_get = self._word_keys.get
        hits: dict[int, list[int]] = {}
        base = 0
        for words in segments:
            for position, kids in enumerate(map(memo_get, words), base):
                if kids is None:
                    kids = self._keys_of(words[position - base])
                for kid in kids:
                    positions = hits.get(kid)
                    if positions is None:
                        hits[kid] = [position]
                    else:
                        positions.append(position)
            base += len(words) + GAP
        return hits

    def _keys_of(self, word: str) -> tuple[int, ...]:
        """Whole-word and prefix keys that ``word`` satisfies (memo miss)."""
        kids: tuple[int, ...] = ()
        if self._compiler.keys:
            kids = tuple(kid for _, kid in self._automaton.iter(f" {word} "))
        if len(self._word_keys) >= _WORD_CACHE_MAX:
            self._word_keys.clear()
        self._word_keys[word] = kids
        return kids

    def _feed_stream(self, feed_name: str) -> _Stream:
        if not self._uses_feed:
            return _EMPTY_STREAM
        stream = self._feed_cache.get(feed_name)
        if stream is None:
            segments = [split_words(feed_name)]
            stream = _Stream(self._scan(segments), segments)
            if len(self._feed_cache) >= _FEED_CACHE_MAX:
                self._feed_cache.clear()
            self._feed_cache[feed_name] = stream
        return stream

    def _candidates(self, main: _Stream, feed: _Stream, lang: str) -> set[int]:
        candidates: set[int] = set()
        by_text = self._by_text
        for kid in main.hits:
            candidates.update(by_text[kid])
        by_feed = self._by_feed
        for kid in feed.hits:
            candidates.update(by_feed[kid])
        candidates.update(self._by_lang.get(lang, ()))
        return candidates

    def _explain(self, topic: _Topic, ctx: _Doc, doc: MatchInput) -> TopicHit:
        if topic.support is None:
            topic.support = self._compiler.support(topic.node)
        support = topic.support(ctx) or []
        hit = {id(term) for term, _ in support}  # the AST's own objects: no deep hashing
        terms = tuple(dict.fromkeys(t.raw for t in topic.terms if id(t) in hit))
        return TopicHit(topic.spec.name, terms, _snippet(doc, ctx, [s for _, s in support]))


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
    segment, base = _segment_at(ctx.main, min(spans)[0])
    text = (doc.title, doc.summary, doc.content)[segment]
    words = ctx.offsets.get(segment)
    if words is None:
        words = ctx.offsets[segment] = word_spans(text)
    limit = base + len(words)
    ranges = [(words[a - base][0], words[b - base][1]) for a, b in spans if base <= a < limit]
    return _render(text, ranges)


def _segment_at(stream: _Stream, position: int) -> tuple[int, int]:
    """The segment holding a word position, and the position of its first word."""
    base = 0
    for index, words in enumerate(stream.segments):
        if position < base + len(words):
            return index, base
        base += len(words) + GAP
    raise IndexError(position)


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
    if len(text) <= SNIPPET_CHARS:
        return 0, len(text)
    start = max(0, min(first[0] - SNIPPET_LEAD, len(text) - SNIPPET_CHARS))
    if start > 0:
        space = text.find(" ", start, first[0])
        start = space + 1 if space != -1 else start
    end = min(len(text), max(start + SNIPPET_CHARS, first[1]))
    if end < len(text):
        space = text.rfind(" ", first[1], end)
        end = space if space != -1 else end
    return start, end


def _render(text: str, ranges: list[Span]) -> str:
    ranges = _merge(ranges) if len(ranges) > 1 else ranges
    start, end = _window(text, ranges[0] if ranges else (0, 0))
    parts = ["…"] if start > 0 else []
    cursor = start
    for a, b in ranges:
        if start <= a and b <= end:
            parts += [text[cursor:a], "**", text[a:b], "**"]
            cursor = b
    parts.append(text[cursor:end])
    if end < len(text):
        parts.append("…")
    snippet = "".join(parts)
    # Summaries can carry newlines and runs of spaces; substring tests beat a regex here.
    if "  " in snippet or "\n" in snippet or "\t" in snippet or "\r" in snippet:
        return " ".join(snippet.split())
    return snippet.strip()
