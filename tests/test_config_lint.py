"""Warnings for configs that validate but probably do not mean what they say."""

from __future__ import annotations

from pathlib import Path

from tracker.config import loader
from tracker.config.lint import ISO_639_1, config_warnings, lang_warning, query_warnings


def test_lowercase_operators_warn_with_the_uppercase_hint() -> None:
    [w] = query_warnings("acero or aranceles")
    assert w.startswith("column 7: 'or' is searched as a word; did you mean OR?")
    assert [x.split(":")[0] for x in query_warnings("a and b Not c")] == ["column 3", "column 9"]
    assert "did you mean NOT?" in query_warnings("a and b Not c")[1]
    # Operators, quoted words and words that merely contain them are fine.
    assert query_warnings('acero OR aranceles AND NOT "or" orange android') == []
    assert query_warnings('"unterminated') == []  # a syntax error is reported elsewhere


def test_lang_values_are_checked_against_iso_639_1() -> None:
    assert len(ISO_639_1) > 180 and {"en", "es", "pt", "zh"} <= ISO_639_1
    assert lang_warning("es") is None and lang_warning("es-MX") is None
    assert lang_warning("pt_BR") is None and lang_warning("EN") is None
    english = lang_warning("english")
    assert english is not None and "did you mean en?" in english
    spa = lang_warning("spa")
    assert spa is not None and "did you mean es?" in spa
    zz = lang_warning("zz")
    assert zz is not None and "use a code such as en" in zz


def test_config_warnings_name_their_key(tmp_path: Path) -> None:
    config = loader.parse(
        "feeds:\n  - {url: 'https://a.example/rss', lang: spanish}\n"
        "topics:\n  acero: {query: 'acero or aranceles', lang: [english, es]}\n"
        "  fine: {query: 'steel OR tariffs', lang: [en]}\n",
        tmp_path,
    )
    warnings = config_warnings(config)
    assert [w.split(": ")[0] for w in warnings] == [
        "feeds[0].lang",
        "topics.acero.query",
        "topics.acero.lang",
    ]
    assert "did you mean es?" in warnings[0] and "did you mean OR?" in warnings[1]
