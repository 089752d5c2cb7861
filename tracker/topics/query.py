"""Topic query language: tokenizer, parser to an AST, syntax errors (stdlib only).

Language (operators are UPPERCASE only; lower-case and/or/not are plain words)::

    query     := and_expr
    and_expr  := unary ( [AND] unary )*          adjacent operands are ANDed
    unary     := NOT unary | or_expr
    or_expr   := near_expr ( OR near_expr )*
    near_expr := primary ( NEAR/n primary )*      n = 1..100, left-associative
    primary   := '(' and_expr ')' | FIELD ':' primary | "phrase" | term | term* | @list

Precedence, loosest to tightest: AND sequence and NOT < OR < NEAR/n < field scope, so
``a OR b NOT c`` is ``(a OR b) AND NOT c``.

Words. Queries and documents are folded (case, accents, ß -> ss) and split into
words by ``tracker.text``, a word being a maximal run of letters/digits. ``T-MEC`` in a query is
therefore the phrase "t mec" and ``U.S.`` is "u s". A term matches whole words
only (``wall`` does not match "walls" or "firewall"); ``tariff*`` matches any
word starting with "tariff" and needs at least 2 letters before the ``*``.
Wildcards may also end words inside phrases (``"negociaci* comercial*"``).

Positions. Every word of a field has a position (0, 1, 2...); a phrase occurrence
spans its first to last word. For single words at positions i and j, ``a NEAR/n b``
holds when 1 <= |i - j| <= n, in either order: NEAR/1 means adjacent, NEAR/5 allows
up to 4 words between. For phrases the distance runs between the facing edges
(last word of the earlier occurrence to first word of the later one), and the two
occurrences must not overlap (``wall NEAR/3 wall`` needs two walls). A NEAR result
spans both occurrences, so NEARs chain: ``a NEAR/2 b NEAR/3 c`` is
``(a NEAR/2 b) NEAR/3 c``. NEAR operands are terms, phrases, wildcards, lists,
OR-groups of those, or NEARs; AND, NOT, ``feed:`` and ``lang:`` inside NEAR are
errors. Phrases and NEAR never span two fields (title, summary, content).

Fields. ``title:``; ``summary:`` and ``content:`` both mean the body (summary and
content); ``feed:`` matches words of the feed name; ``lang:es`` compares the article
language's primary subtag (``es-MX`` -> ``es``). Field names ignore case; an
unknown ``name:`` is an error (quote it to search the text). Unscoped terms search
title and body. A scope applies to everything inside its primary; an inner scope
wins.

Lists. ``@name`` is an OR of the named list's items; an item is a term, a phrase
(several words) or a ``prefix*``.

Every query needs a positive term: a part that could match an article with none of
its terms (``NOT x`` alone, ``a OR (NOT b)``) is an error. ``feed:`` and ``lang:``
count as positive, so ``feed:reuters`` alone is a valid topic. Quotes may be
straight or curly; nesting is limited to MAX_DEPTH levels.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, TypeAlias, assert_never

from tracker.text import WORD_RE, fold_with_origin

__all__ = [
    "And",
    "Field",
    "Lang",
    "Lists",
    "Near",
    "Node",
    "Not",
    "Or",
    "QuerySyntaxError",
    "Term",
    "Token",
    "Word",
    "check_query",
    "iter_terms",
    "parse",
    "tokenize",
]

MAX_NEAR = 100
MAX_DEPTH = 40  # nesting of groups, NOTs, scopes and NEAR chains; real queries use a few
MIN_PREFIX = 2

Lists = Mapping[str, Sequence[str]]  # list name -> items, for @name

# ---------------------------------------------------------------------------- errors


class QuerySyntaxError(ValueError):
    """A query that cannot be parsed; ``column`` is 1-based in ``query``."""

    def __init__(self, message: str, query: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.query = query
        self.column = column

    def __str__(self) -> str:
        return render_error(self.message, self.query, self.column)


def render_error(message: str, query: str, column: int) -> str:
    """The message, the offending query line, and a caret under ``column``."""
    if not query.strip():
        return message
    line_start = query.rfind("\n", 0, max(column - 1, 0)) + 1
    line_end = query.find("\n", line_start)
    line = query[line_start : line_end if line_end != -1 else len(query)]
    col_in_line = column - line_start
    where = f"column {col_in_line}"
    if "\n" in query.rstrip("\n"):
        where = f"line {query.count(chr(10), 0, line_start) + 1}, {where}"
    shown = line.replace("\t", " ").rstrip("\r")
    return f"{message} at {where}\n  {shown}\n  {' ' * (col_in_line - 1)}^"


# ---------------------------------------------------------------------------- AST

Field = Literal["any", "title", "body", "feed"]


@dataclass(frozen=True, slots=True)
class Word:
    """One folded query word; ``prefix`` for ``word*``."""

    text: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Term:
    """A word or phrase (consecutive words) in one field; ``raw`` is as written."""

    words: tuple[Word, ...]
    raw: str
    field: Field = "any"
    column: int = 1


@dataclass(frozen=True, slots=True)
class Lang:
    """``lang:xx``: the article language's primary subtag equals ``code``."""

    code: str
    column: int = 1


@dataclass(frozen=True, slots=True)
class Not:
    child: Node
    column: int = 1


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]
    column: int = 1  # the first AND, or the operand that starts an implicit AND


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]
    column: int = 1


@dataclass(frozen=True, slots=True)
class Near:
    left: Node
    right: Node
    distance: int
    column: int = 1


# Closed: every match over a Node ends in assert_never, so mypy lists each place a new
# operator must be handled.
Node: TypeAlias = Term | Lang | Not | And | Or | Near


def iter_terms(node: Node, *, negated: bool = False) -> Iterator[tuple[Term, bool]]:
    """Every term in query order, with whether it sits under a NOT."""
    match node:
        case Term():
            yield node, negated
        case Lang():
            return
        case Not():
            yield from iter_terms(node.child, negated=not negated)
        case And() | Or():
            for child in node.children:
                yield from iter_terms(child, negated=negated)
        case Near():
            yield from iter_terms(node.left, negated=negated)
            yield from iter_terms(node.right, negated=negated)
        case _:
            assert_never(node)


# ---------------------------------------------------------------------------- tokens

TokenKind = Literal["(", ")", "AND", "OR", "NOT", "NEAR", "FIELD", "PHRASE", "TERM", "LIST", "EOF"]
_QUOTES = '"\u201c\u201d'
_QUOTE_RE = re.compile('["\u201c\u201d]')
_WORD_OPERATORS: dict[str, TokenKind] = {"AND": "AND", "OR": "OR", "NOT": "NOT"}
_FIELD_RE = re.compile(r"([A-Za-z]+):")
_FIELDS: dict[str, Field | Literal["lang"]] = {
    "title": "title",
    "summary": "body",
    "content": "body",
    "body": "body",
    "feed": "feed",
    "lang": "lang",
}


@dataclass(frozen=True, slots=True)
class Token:
    """A lexical token; ``value`` is the phrase body, field, list name or NEAR distance."""

    kind: TokenKind
    text: str
    column: int
    value: str | int = ""


_LEXEME_RE = re.compile(r'\s+|[()]|["\u201c\u201d]|[^\s()"\u201c\u201d]+')


def tokenize(query: str) -> list[Token]:
    """Split ``query`` into tokens, ending with an EOF token."""
    tokens: list[Token] = []
    i = 0
    while i < len(query):
        lexeme = _LEXEME_RE.match(query, i)
        assert lexeme is not None  # the alternatives cover every character
        text = lexeme.group()
        if text == "(" or text == ")":
            tokens.append(Token("(" if text == "(" else ")", text, i + 1))
        elif text in _QUOTES:
            i = _lex_phrase(query, i, tokens)
            continue
        elif not text.isspace():
            tokens.extend(_classify(query, text, i + 1))
        i = lexeme.end()
    tokens.append(Token("EOF", "", len(query) + 1))
    return tokens


def _lex_phrase(query: str, start: int, tokens: list[Token]) -> int:
    closing = _QUOTE_RE.search(query, start + 1)
    if closing is None:
        raise QuerySyntaxError("unterminated quote", query, start + 1)
    end = closing.start()
    tokens.append(Token("PHRASE", query[start : end + 1], start + 1, query[start + 1 : end]))
    return end + 1


def _classify(query: str, bare: str, column: int) -> list[Token]:
    operator = _WORD_OPERATORS.get(bare)
    if operator is not None:
        return [Token(operator, bare, column)]
    if bare == "NEAR" or bare.startswith("NEAR/"):
        return [_near_token(query, bare, column)]
    field = _FIELD_RE.match(bare)
    if field:
        return _field_tokens(query, bare, column, field)
    if bare.startswith("@"):
        if len(bare) == 1:
            raise QuerySyntaxError("'@' needs a list name, e.g. @nafta", query, column)
        return [Token("LIST", bare, column, bare[1:])]
    return [Token("TERM", bare, column, bare)]


def _near_token(query: str, bare: str, column: int) -> Token:
    if bare == "NEAR":
        raise QuerySyntaxError("NEAR needs a distance, e.g. NEAR/5", query, column)
    distance = bare[len("NEAR/") :]
    if not distance.isdecimal() or not 1 <= int(distance) <= MAX_NEAR:
        message = f"NEAR distance must be a whole number from 1 to {MAX_NEAR}"
        raise QuerySyntaxError(message, query, column)
    return Token("NEAR", bare, column, int(distance))


def _field_tokens(query: str, bare: str, column: int, field: re.Match[str]) -> list[Token]:
    name = field.group(1).lower()
    if name not in _FIELDS:
        message = (
            f"unknown field '{field.group(0)}' (fields: title, summary, content, feed, lang);"
            " quote the text to search for it literally"
        )
        raise QuerySyntaxError(message, query, column)
    tokens = [Token("FIELD", field.group(0), column, name)]
    rest = bare[field.end() :]
    if rest:
        tokens.extend(_classify(query, rest, column + field.end()))
    return tokens


# ---------------------------------------------------------------------------- parser

_WORD_STAR_RE = re.compile(r"[^\W_]+\*?|\*")
_OPERATORS = ("AND", "OR", "NOT", "NEAR", "FIELD")


def parse(query: str, lists: Lists | None = None) -> Node:
    """Parse ``query`` into an AST, expanding ``@lists``; raise QuerySyntaxError."""
    if not query.strip():
        raise QuerySyntaxError("empty query", query, 1)
    node = _Parser(query, tokenize(query), lists or {}).parse()
    _require_positive(query, node)
    return node


def check_query(query: str, lists: Lists | None = None) -> str | None:
    """Return a human-readable syntax error for ``query``, or None when it is valid."""
    # Here rather than in the matcher: config checks queries with the parser alone, so
    # `tracker check` never loads the matcher's automaton library.
    try:
        parse(query, lists)
    except QuerySyntaxError as err:
        return str(err)
    return None


class _Parser:
    """Recursive descent over the grammar in the module docstring."""

    def __init__(self, query: str, tokens: list[Token], lists: Lists):
        self.query = query
        self.tokens = tokens
        self.lists = lists
        self.pos = 0
        self.depth = 0

    def parse(self) -> Node:
        node = self._and_expr()
        tok = self._peek()
        if tok.kind != "EOF":
            raise self._error(f"unexpected '{tok.text}'", tok.column)
        return node

    def _peek(self) -> Token:
        return self.tokens[self.pos]

    def _advance(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def _error(self, message: str, column: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.query, column)

    def _and_expr(self) -> Node:
        children = [self._unary()]
        column = 0
        while self._peek().kind not in ("EOF", ")"):
            tok = self._peek()
            if tok.kind == "AND":
                self._advance()
            column = column or tok.column
            children.append(self._unary())
        return _flatten(And, children, column)

    def _unary(self) -> Node:
        tok = self._peek()
        if tok.kind == "NOT":
            self._advance()
            self._descend(tok)
            node = Not(self._unary(), tok.column)
            self.depth -= 1
            return node
        return self._or_expr()

    def _descend(self, tok: Token) -> None:
        """Bound recursion: deep queries would exhaust the stack here and in the matcher."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._error(f"query is nested more than {MAX_DEPTH} levels deep", tok.column)

    def _or_expr(self) -> Node:
        children = [self._near_expr()]
        column = 0
        while self._peek().kind == "OR":
            tok = self._advance()
            column = column or tok.column
            children.append(self._near_expr())
        return _flatten(Or, children, column)

    def _near_expr(self) -> Node:
        left = self._primary()
        depth = self.depth
        while self._peek().kind == "NEAR":
            tok = self._advance()
            self._descend(tok)  # each link nests the chain one level deeper
            right = self._primary()
            self._check_near_operand(left)
            self._check_near_operand(right)
            assert isinstance(tok.value, int)
            left = Near(left, right, tok.value, tok.column)
        self.depth = depth
        return left

    def _primary(self) -> Node:
        tok = self._peek()
        if tok.kind == "(":
            return self._group()
        if tok.kind == "FIELD":
            self._advance()
            self._descend(tok)
            node = self._scope(self._primary(), _FIELDS[str(tok.value)])
            self.depth -= 1
            return node
        if tok.kind == "PHRASE":
            self._advance()
            words = self._words(str(tok.value), tok.column + 1, tok.text, tok.column)
            return Term(words, tok.text, "any", tok.column)
        if tok.kind == "TERM":
            self._advance()
            words = self._words(tok.text, tok.column, tok.text, tok.column)
            return Term(words, tok.text, "any", tok.column)
        if tok.kind == "LIST":
            self._advance()
            return self._list(tok)
        raise self._missing_operand(tok)

    def _group(self) -> Node:
        opening = self._advance()
        if self._peek().kind == ")":
            raise self._error("empty parentheses", opening.column)
        self._descend(opening)
        node = self._and_expr()
        if self._peek().kind != ")":
            raise self._error("unclosed '('", opening.column)
        self._advance()
        self.depth -= 1
        return node

    def _missing_operand(self, tok: Token) -> QuerySyntaxError:
        """Explain why ``tok`` cannot start an operand, blaming the operator if any."""
        prev = self.tokens[self.pos - 1] if self.pos else None
        if tok.kind == "NOT" and prev is not None:
            return self._error(_misplaced_not(prev), tok.column)
        if prev is not None and prev.kind in _OPERATORS:
            return self._error(f"'{prev.text}' needs a term after it", prev.column)
        if tok.kind in ("AND", "OR", "NEAR"):
            return self._error(f"'{tok.text}' needs a term before it", tok.column)
        if tok.kind == ")":
            return self._error("unexpected ')'", tok.column)
        return self._error("unexpected end of query", tok.column)

    def _words(self, text: str, column: int, shown: str, at: int) -> tuple[Word, ...]:
        """Fold and split a term or phrase body (starting at ``column``) into words."""
        folded, origin = fold_with_origin(text)
        words: list[Word] = []
        for match in _WORD_STAR_RE.finditer(folded):
            where = column + origin[match.start()]
            if match.group() == "*":
                raise self._error("'*' must end a word, e.g. tariff*", where)
            prefix = match.group().endswith("*")
            word = match.group().rstrip("*")
            if prefix and len(word) < MIN_PREFIX:
                message = f"a wildcard needs at least {MIN_PREFIX} letters before '*'"
                raise self._error(message, where)
            if prefix and match.end() < len(folded) and WORD_RE.match(folded, match.end()):
                star = column + origin[match.end() - 1]
                raise self._error("'*' is only allowed at the end of a word", star)
            words.append(Word(word, prefix))
        if not words:
            raise self._error(f"{shown} has no letters or digits to search for", at)
        return tuple(words)

    def _list(self, tok: Token) -> Node:
        name = str(tok.value)
        items = self.lists.get(name)
        if items is None:
            known = ", ".join(f"@{n}" for n in sorted(self.lists)[:10]) or "none defined"
            raise self._error(f"unknown list '@{name}' (known: {known})", tok.column)
        if isinstance(items, str):
            items = [items]
        terms: list[Node] = [self._list_item(name, item, tok.column) for item in items]
        if not terms:
            raise self._error(f"list '@{name}' is empty", tok.column)
        return _flatten(Or, terms, tok.column)

    def _list_item(self, name: str, item: str, column: int) -> Term:
        body = item.strip().strip(_QUOTES)
        try:
            return Term(_words_of(body), item, "any", column)
        except QuerySyntaxError as err:
            raise self._error(f"list '@{name}' item '{item}': {err.message}", column) from None

    def _scope(self, node: Node, field: Field | Literal["lang"]) -> Node:
        """Apply a field scope to every term under ``node``; inner scopes win."""
        match node:
            case Term(field="any"):
                if field == "lang":
                    return self._lang(node)
                return replace(node, field=field)
            case Term() | Lang():
                return node
            case Not():
                return replace(node, child=self._scope(node.child, field))
            case And() | Or():
                return replace(node, children=tuple(self._scope(c, field) for c in node.children))
            case Near():
                if field in ("feed", "lang"):
                    raise self._error(f"{field}: cannot be applied to NEAR", node.column)
                left, right = self._scope(node.left, field), self._scope(node.right, field)
                return replace(node, left=left, right=right)
            case _:
                assert_never(node)

    def _lang(self, term: Term) -> Lang:
        words = term.words
        if len(words) != 1 or words[0].prefix or not words[0].text.isalpha():
            message = "lang: takes a primary language subtag such as es or pt"
            raise self._error(message, term.column)
        return Lang(words[0].text, term.column)

    def _check_near_operand(self, node: Node) -> None:
        match node:
            case Term(field="feed"):
                raise self._error("feed: cannot be used inside NEAR", node.column)
            case Lang():
                raise self._error("lang: cannot be used inside NEAR", node.column)
            case Not():
                raise self._error("NOT cannot be used inside NEAR", node.column)
            case And():
                negated = next((c for c in node.children if isinstance(c, Not)), None)
                if negated is not None:
                    raise self._error("NOT cannot be used inside NEAR", negated.column)
                message = "AND cannot be used inside NEAR (use terms, phrases or OR-groups)"
                raise self._error(message, node.column)
            case Or():
                for child in node.children:
                    self._check_near_operand(child)
            case Term() | Near():
                return
            case _:
                assert_never(node)


def _misplaced_not(prev: Token) -> str:
    if prev.kind == "NEAR":
        return "NOT cannot be used inside NEAR"
    if prev.kind == "OR":
        return "NOT cannot follow OR; use parentheses, e.g. (a OR b) NOT c"
    if prev.kind == "FIELD":
        return f"NOT cannot follow '{prev.text}'; write NOT {prev.text}term"
    return f"NOT cannot follow '{prev.text}'"


@functools.lru_cache(maxsize=16384)
def _words_of(text: str) -> tuple[Word, ...]:
    """Words of a standalone term (list items), raising with columns inside ``text``.
    Cached: the shipped topics name 5,161 list items, 1,318 of them distinct, and folding
    them was most of building the matcher (at every start and reload); words are frozen."""
    return _Parser(text, [], {})._words(text, 1, repr(text), 1)


def _flatten(kind: type[And] | type[Or], children: list[Node], column: int) -> Node:
    """One child stays itself; nested nodes of the same kind merge."""
    if len(children) == 1:
        return children[0]
    merged: list[Node] = []
    for child in children:
        merged.extend(child.children if isinstance(child, kind) else (child,))
    return kind(tuple(merged), column or 1)


def _require_positive(query: str, node: Node) -> None:
    culprit = _unanchored(node)
    if culprit is not None:
        message = "this part matches articles without any of its terms; add a term outside NOT"
        raise QuerySyntaxError(message, query, culprit)


def _unanchored(node: Node) -> int | None:
    """Column of a part that can match with no positive evidence, else None."""
    match node:
        case Term() | Lang() | Near():
            return None
        case Not():
            return node.column
        case And():
            culprits = [_unanchored(child) for child in node.children]
            return None if None in culprits else culprits[0]
        case Or():
            return next((c for c in map(_unanchored, node.children) if c is not None), None)
        case _:
            assert_never(node)
