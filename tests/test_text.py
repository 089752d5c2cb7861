"""Text folding, word splitting and language tags: the rules queries and articles share."""

from __future__ import annotations

import re

import pytest

from tracker.text import (
    fold,
    primary_lang,
    primary_subtag,
    split_words,
    split_words_folded,
    word_bytes,
    word_spans,
)

# ---------------------------------------------------------------------------- folding


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("México", "mexico"),
        ("PEÑA NIETO", "pena nieto"),
        ("Straße", "strasse"),
        ("ÆRØ Łódź", "aero lodz"),
        ("ﬁnance", "finance"),
        ("İstanbul", "istanbul"),
        ("ΟΔΟΣ", "οδοσ"),
        ("e\u0301", "e"),
        ("plain ascii 123", "plain ascii 123"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_split_words_is_fold_then_letter_digit_runs() -> None:
    assert split_words("U.S.–Mexico: 25% tariff on T-MEC, O'Brien's “call”") == [
        "u",
        "s",
        "mexico",
        "25",
        "tariff",
        "on",
        "t",
        "mec",
        "o",
        "brien",
        "s",
        "call",
    ]
    assert split_words("snake_case") == ["snake", "case"]
    assert split_words("") == []


# Windows-1252 covers the quotes, dashes and ellipsis of news text; the chars after it
# fold to several chars, to nothing, or to a word char outside ASCII.
CP1252 = [bytes([b]).decode("cp1252", "ignore") for b in range(256)]
TRICKY = ["…", "’", "“", "—", "\xa0", "ß", "Æ", "œ", "™", "¼", "µ", "ƒ", "\u0303", "ﬁ", "İ", "Ω"]


@pytest.mark.parametrize("char", [c for c in CP1252 + TRICKY if c])
def test_word_bytes_folds_every_char_as_split_words_and_word_spans_do(char: str) -> None:
    for text in (f"ab{char}cd", f"Él {char} dijo", char, f"{char}x y", f"x y{char}", "a?b" + char):
        folded = word_bytes(text)
        words, folded_text = split_words_folded(text)
        assert words == split_words(text)
        if folded is None:
            assert folded_text is None
            continue
        assert len(folded) == len(text) and folded.decode("ascii") == folded_text
        # The folded words sit at word_spans' offsets, one byte per char of the text.
        runs = [(m.start(), m.end()) for m in re.finditer(rb"[^ ]+", folded)]
        assert runs == word_spans(text)
        assert folded.split() == [w.encode() for w in words]


def test_word_bytes_falls_back_for_chars_that_do_not_fold_one_to_one() -> None:
    assert word_bytes("Peña “dijo” … ¿qué?") == b"pena  dijo     que "
    assert word_bytes("Straße") is None  # ß -> ss
    assert word_bytes("Pen\u0303a") is None  # a combining accent folds to nothing
    assert word_bytes("Ωmega") is None  # folds to a non-ASCII letter
    assert word_bytes("™") is None  # a symbol that folds to letters
    assert split_words("Straße Pen\u0303a Ωmega") == ["strasse", "pena", "ωmega"]


# ---------------------------------------------------------------------------- language tags


def test_primary_lang() -> None:
    assert primary_lang("es-MX") == "es"
    assert primary_lang("EN_us") == "en"
    assert primary_lang("") is None
    assert primary_lang("12") is None


def test_primary_subtag_is_primary_lang_without_the_validity_check() -> None:
    # Articles keep only a plausible language (primary_lang); topics compare whatever
    # subtag they were given (primary_subtag), so a bad one matches nothing.
    assert primary_subtag("es-MX") == "es"
    assert primary_subtag(" EN_us ") == "en"
    assert primary_subtag(None) == primary_subtag("") == ""
    assert primary_subtag("12") == "12"
    assert primary_subtag("english") == "english"
    for tag in ("es-MX", "EN_us", "", None, "12", "english", "pt-BR", " fr "):
        assert primary_lang(tag) in (None, primary_subtag(tag))
