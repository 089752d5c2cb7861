"""The topic query language: tokens, parse trees, precedence, and every syntax error."""

from __future__ import annotations

import pytest

from tracker.topics.query import (
    MAX_DEPTH,
    And,
    Lang,
    Near,
    Node,
    Not,
    Or,
    QuerySyntaxError,
    Term,
    iter_terms,
    parse,
    tokenize,
)

LISTS = {
    "nafta": ["NAFTA", "TLCAN", "USMCA", "T-MEC", "tratado de libre comercio"],
    "steel": ["steel", "acero", "alumin*"],
    "one": ["solo"],
}


def show(node: Node) -> str:
    """A compact s-expression of a tree, so expectations read like the query."""
    match node:
        case Term():
            words = " ".join(w.text + ("*" if w.prefix else "") for w in node.words)
            text = f'"{words}"' if len(node.words) > 1 else words
            return text if node.field == "any" else f"{node.field}:{text}"
        case Lang():
            return f"lang:{node.code}"
        case Not():
            return f"(NOT {show(node.child)})"
        case And() | Or():
            name = "AND" if isinstance(node, And) else "OR"
            return f"({name} " + " ".join(show(c) for c in node.children) + ")"
        case Near():
            return f"(NEAR/{node.distance} {show(node.left)} {show(node.right)})"
    raise AssertionError(node)


def parsed(query: str) -> str:
    return show(parse(query, LISTS))


# ---------------------------------------------------------------------------- tokens


def test_tokenize_kinds_columns_and_values() -> None:
    tokens = tokenize('title:"border wall" OR wall* NEAR/5 @nafta)')
    assert [(t.kind, t.column) for t in tokens] == [
        ("FIELD", 1),
        ("PHRASE", 7),
        ("OR", 21),
        ("TERM", 24),
        ("NEAR", 30),
        ("LIST", 37),
        (")", 43),
        ("EOF", 44),
    ]
    assert [t.value for t in tokens[:6]] == ["title", "border wall", "", "wall*", 5, "nafta"]


def test_curly_quotes_delimit_phrases() -> None:
    assert parsed("\u201cborder wall\u201d") == '"border wall"'


# ---------------------------------------------------------------------------- terms


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("wall", "wall"),
        ("México", "mexico"),
        ("Peña", "pena"),
        ("Straße", "strasse"),
        ("T-MEC", '"t mec"'),
        ("U.S.", '"u s"'),
        ("25%", "25"),
        ("O'Brien", '"o brien"'),
        ("tariff*", "tariff*"),
        ("ARANCEL*", "arancel*"),
        ('"Border  Wall"', '"border wall"'),
        ('"negociaci* comercial*"', '"negociaci* comercial*"'),
        ('"wall"', "wall"),
        ("and or not", "(AND and or not)"),
        ("near/5", '"near 5"'),
        ("10:30", '"10 30"'),
    ],
)
def test_terms_are_folded_and_split_like_documents(query: str, tree: str) -> None:
    assert parsed(query) == tree


def test_term_keeps_its_text_as_written() -> None:
    node = parse('Tariff* "Border Wall"')
    assert [t.raw for t, _ in iter_terms(node)] == ["Tariff*", '"Border Wall"']
    assert [t.column for t, _ in iter_terms(node)] == [1, 9]


# ---------------------------------------------------------------------------- precedence


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("a b", "(AND a b)"),
        ("a AND b c", "(AND a b c)"),
        ("a b OR c", "(AND a (OR b c))"),
        ("a OR b c", "(AND (OR a b) c)"),
        ("a OR b OR c", "(OR a b c)"),
        ("a OR b NOT c", "(AND (OR a b) (NOT c))"),
        ("a NOT b OR c", "(AND a (NOT (OR b c)))"),
        ("a AND NOT b", "(AND a (NOT b))"),
        ("a NOT NOT b", "(AND a (NOT (NOT b)))"),
        ("NOT a b", "(AND (NOT a) b)"),
        ("a NEAR/3 b OR c", "(OR (NEAR/3 a b) c)"),
        ("a OR b NEAR/3 c", "(OR a (NEAR/3 b c))"),
        ("a NEAR/3 b NEAR/2 c", "(NEAR/2 (NEAR/3 a b) c)"),
        ("(a OR b) NEAR/3 (c OR d)", "(NEAR/3 (OR a b) (OR c d))"),
        ("(a OR b) c", "(AND (OR a b) c)"),
        ("(a b) OR c", "(OR (AND a b) c)"),
        ("((a))", "a"),
        ("(a OR (b OR c))", "(OR a b c)"),
        ("a (b c)", "(AND a b c)"),
        ("title:a b", "(AND title:a b)"),
        ("title:a OR b", "(OR title:a b)"),
        ("title:a NEAR/2 b", "(NEAR/2 title:a b)"),
    ],
)
def test_precedence(query: str, tree: str) -> None:
    assert parsed(query) == tree


def test_news_query_reads_as_or_group_and_not() -> None:
    query = (
        '"border wall" OR "muro fronterizo" OR (wall NEAR/5 (border OR Mexico OR frontera))'
        ' NOT "Wall Street"'
    )
    assert parsed(query) == (
        '(AND (OR "border wall" "muro fronterizo" (NEAR/5 wall (OR border mexico frontera)))'
        ' (NOT "wall street"))'
    )


# ---------------------------------------------------------------------------- fields and lists


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("title:wall", "title:wall"),
        ("Title:wall", "title:wall"),
        ("summary:wall", "body:wall"),
        ("content:wall", "body:wall"),
        ('title:"border wall"', 'title:"border wall"'),
        ("title: wall", "title:wall"),
        ("title:(a OR bc*)", "(OR title:a title:bc*)"),
        ("title:(a NOT b)", "(AND title:a (NOT title:b))"),
        ("title:(a NEAR/2 b)", "(NEAR/2 title:a title:b)"),
        ("title:(a summary:b)", "(AND title:a body:b)"),
        ("feed:reuters", "feed:reuters"),
        ('feed:"la jornada" x', '(AND feed:"la jornada" x)'),
        ("lang:es", "lang:es"),
        ("lang:ES x", "(AND lang:es x)"),
        ("lang:(es OR pt) x", "(AND (OR lang:es lang:pt) x)"),
        ("title:@steel", "(OR title:steel title:acero title:alumin*)"),
    ],
)
def test_field_scopes(query: str, tree: str) -> None:
    assert parsed(query) == tree


def test_list_expands_to_or_of_items() -> None:
    assert parsed("@nafta") == '(OR nafta tlcan usmca "t mec" "tratado de libre comercio")'
    assert parsed("@one x") == "(AND solo x)"
    node = parse("@nafta", LISTS)
    assert [t.raw for t, _ in iter_terms(node)] == LISTS["nafta"]


def test_list_items_may_be_quoted_and_single_string() -> None:
    assert show(parse("@q", {"q": ['"Wall Street"']})) == '"wall street"'
    assert show(parse("@q", {"q": "Wall Street"})) == '"wall street"'


def test_iter_terms_marks_negated_terms() -> None:
    node = parse("a NOT (b OR (x NOT c))")
    assert [(t.raw, negated) for t, negated in iter_terms(node)] == [
        ("a", False),
        ("b", True),
        ("x", True),
        ("c", False),
    ]


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("query", "message", "column"),
    [
        ("", "empty query", 1),
        ("   ", "empty query", 1),
        ("steel AND (tariff))", "unexpected ')'", 19),
        (")", "unexpected ')'", 1),
        ("(steel", "unclosed '('", 1),
        ("a ((b) c", "unclosed '('", 3),
        ('"steel', "unterminated quote", 1),
        ('a "b', "unterminated quote", 3),
        ("steel AND", "'AND' needs a term after it", 7),
        ("steel OR", "'OR' needs a term after it", 7),
        ("a OR OR b", "'OR' needs a term after it", 3),
        ("a AND OR b", "'AND' needs a term after it", 3),
        ("a NEAR/3", "'NEAR/3' needs a term after it", 3),
        ("a NOT", "'NOT' needs a term after it", 3),
        ("title:", "'title:' needs a term after it", 1),
        ("a (title:)", "'title:' needs a term after it", 4),
        ("AND steel", "'AND' needs a term before it", 1),
        ("OR steel", "'OR' needs a term before it", 1),
        ("NEAR/2 steel", "'NEAR/2' needs a term before it", 1),
        ("a (OR b)", "'OR' needs a term before it", 4),
        ("()", "empty parentheses", 1),
        ("a ()", "empty parentheses", 3),
        ("a NEAR b", "NEAR needs a distance, e.g. NEAR/5", 3),
        ("a NEAR/0 b", "NEAR distance must be a whole number from 1 to 100", 3),
        ("a NEAR/101 b", "NEAR distance must be a whole number from 1 to 100", 3),
        ("a NEAR/x b", "NEAR distance must be a whole number from 1 to 100", 3),
        ("a NEAR/ b", "NEAR distance must be a whole number from 1 to 100", 3),
        ("NOT a", "this part matches articles without any of its terms", 1),
        ("NOT a NOT b", "this part matches articles without any of its terms", 1),
        ("y OR (a OR (NOT b))", "this part matches articles without any of its terms", 13),
        ("a OR (NOT b)", "this part matches articles without any of its terms", 7),
        ("a OR NOT b", "NOT cannot follow OR", 6),
        ("a NEAR/3 NOT b", "NOT cannot be used inside NEAR", 10),
        ("title:NOT b", "NOT cannot follow 'title:'", 7),
        ("(a b) NEAR/3 c", "AND cannot be used inside NEAR", 4),
        ("(a AND b) NEAR/3 c", "AND cannot be used inside NEAR", 4),
        ("c NEAR/3 (a b)", "AND cannot be used inside NEAR", 13),
        ("(a NOT b) NEAR/3 c", "NOT cannot be used inside NEAR", 4),
        ("(a OR (b c)) NEAR/3 c", "AND cannot be used inside NEAR", 10),
        ("feed:x NEAR/2 y", "feed: cannot be used inside NEAR", 6),
        ("lang:es NEAR/2 y", "lang: cannot be used inside NEAR", 6),
        ("feed:(a NEAR/2 b)", "feed: cannot be applied to NEAR", 9),
        ("t* x", "a wildcard needs at least 2 letters before '*'", 1),
        ('x "border w*"', "a wildcard needs at least 2 letters before '*'", 11),
        ("tar*iff", "'*' is only allowed at the end of a word", 4),
        ("*tariff", "'*' must end a word, e.g. tariff*", 1),
        ("x *", "'*' must end a word, e.g. tariff*", 3),
        ("tariff**", "'*' must end a word, e.g. tariff*", 8),
        ("x —", "— has no letters or digits to search for", 3),
        ('x ""', '"" has no letters or digits to search for', 3),
        ("@unknown", "unknown list '@unknown'", 1),
        ("x @", "'@' needs a list name, e.g. @nafta", 3),
        ("titel:x", "unknown field 'titel:'", 1),
        ("lang:pt-BR", "lang: takes a primary language subtag such as es or pt", 6),
        ("lang:es*", "lang: takes a primary language subtag such as es or pt", 6),
        (
            "(" * (MAX_DEPTH + 5) + "a" + ")" * (MAX_DEPTH + 5),
            "query is nested more than",
            MAX_DEPTH + 1,
        ),
    ],
)
def test_syntax_errors_point_at_the_problem(query: str, message: str, column: int) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(query, LISTS)
    assert caught.value.message.startswith(message)
    assert caught.value.column == column
    assert caught.value.query == query


def test_syntax_error_is_a_value_error_rendered_with_a_caret() -> None:
    with pytest.raises(ValueError) as caught:
        parse("steel AND (tariff))")
    assert str(caught.value) == (
        "unexpected ')' at column 19\n  steel AND (tariff))\n                    ^"
    )


def test_caret_on_the_right_line_of_a_multi_line_query() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse("steel AND\n  (tariff))\nOR x")
    assert caught.value.column == 21
    assert str(caught.value) == (
        "unexpected ')' at line 2, column 11\n    (tariff))\n            ^"
    )


def test_error_past_the_end_points_after_the_last_char() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse("(a OR b")
    assert str(caught.value).splitlines()[-1] == "  ^"
    with pytest.raises(QuerySyntaxError) as caught:
        parse("a OR ")
    assert caught.value.column == 3


def test_empty_query_message_has_no_caret() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse("  ")
    assert str(caught.value) == "empty query"


def test_unknown_list_names_the_known_ones() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse("@naft", LISTS)
    assert "(known: @nafta, @one, @steel)" in caught.value.message
    with pytest.raises(QuerySyntaxError) as caught:
        parse("@naft")
    assert "none defined" in caught.value.message


def test_bad_list_items_are_reported_at_the_reference() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse("x @bad", {"bad": ["ok", "bo*d"]})
    assert caught.value.column == 3
    assert caught.value.message == (
        "list '@bad' item 'bo*d': '*' is only allowed at the end of a word"
    )
    with pytest.raises(QuerySyntaxError) as caught:
        parse("x @empty", {"empty": []})
    assert caught.value.message == "list '@empty' is empty"
    with pytest.raises(QuerySyntaxError, match="no letters or digits"):
        parse("@dash", {"dash": ["—"]})


def test_near_chains_and_nesting_within_the_limit_parse() -> None:
    chain = " NEAR/2 ".join(f"w{i}" for i in range(MAX_DEPTH))
    assert isinstance(parse(chain), Near)
    deep = "(" * (MAX_DEPTH - 1) + "a" + ")" * (MAX_DEPTH - 1)
    assert parsed(deep) == "a"
    with pytest.raises(QuerySyntaxError, match="nested more than"):
        parse(" NEAR/2 ".join(f"w{i}" for i in range(MAX_DEPTH + 2)))
