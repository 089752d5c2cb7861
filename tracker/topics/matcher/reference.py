"""The reference evaluator: a plain walk over the AST, slow and obviously right.

The property tests check the compiled matcher against it on random queries and articles.
"""

from __future__ import annotations

from typing import assert_never

from tracker.models import MatchInput
from tracker.text import WORD_RE, fold, primary_subtag
from tracker.topics.query import And, Lang, Lists, Near, Node, Not, Or, Term, Word, parse


def evaluate_reference(query: str, doc: MatchInput, lists: Lists | None = None) -> bool:
    """Whether ``query`` matches ``doc``, by a direct walk over the AST (slow, simple)."""
    return RefDoc(doc).holds(parse(query, lists))


_RefSpan = tuple[int, int, int]  # (segment, first word, last word)


def _ref_words(text: str) -> list[str]:
    # Deliberately the regex route, not split_words: the two are cross-checked in tests.
    return WORD_RE.findall(fold(text))


class RefDoc:
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
            case _:
                assert_never(node)

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
            case Lang() | Not() | And():  # not positional: parse() keeps them out of NEAR
                raise AssertionError(node)  # pragma: no cover
            case _:
                assert_never(node)

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
