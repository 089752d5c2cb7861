"""The story index's detection: wire copies join, English and Spanish reports of one event
join, and reports of different events that share names stay apart; rebuild and prune."""

from __future__ import annotations

import pytest

from tracker.stories.features import INDEX_TERMS
from tracker.stories.index import Joined, Report, StoryIndex, judge
from tracker.stories.lexicon import Lexicon, default_lexicon, parse_lexicon

HOUR = 3600.0
T0 = 1_500_000_000.0


def run(index: StoryIndex, reports: list[Report]) -> dict[int, tuple[int, Joined | None]]:
    """Assign each report as the pipeline does: find, then add to that story or a new one."""
    out: dict[int, tuple[int, Joined | None]] = {}
    for report in reports:
        joined = index.find(report)
        story = joined.story if joined is not None else 1000 + report.key
        index.add(report, story)
        out[report.key] = (story, joined)
    return out


WIRE = [
    Report(
        1,
        "Mexico's Videgaray meets Kushner at the White House to discuss NAFTA talks",
        "Mexican Foreign Minister Luis Videgaray met Jared Kushner on Thursday to prepare the "
        "renegotiation of the North American Free Trade Agreement, officials said.",
        "en",
        T0,
        "https://reuters.example/world/videgaray-kushner",
    ),
    Report(
        2,
        "UPDATE 1-Mexico's Videgaray meets Kushner at White House to discuss NAFTA talks",
        "WASHINGTON (Reuters) - Mexican Foreign Minister Luis Videgaray met Jared Kushner on "
        "Thursday to prepare the renegotiation of the North American Free Trade Agreement.",
        "en",
        T0 + 2 * HOUR,
        "https://yahoo.example/news/mexico-videgaray-meets?utm_source=rss",
    ),
    Report(
        3,
        "Mexico's Videgaray meets Kushner at the White House to discuss NAFTA talks | CNN",
        "",
        "en",
        T0 + 5 * HOUR,
        "https://cnn.example/2017/videgaray-kushner-white-house",
    ),
]


def test_wire_copies_with_edited_titles_and_other_links_join_one_story() -> None:
    got = run(StoryIndex(), WIRE)
    assert {story for story, _ in got.values()} == {1001}
    second = got[2][1]
    assert second is not None and second.kind == "near_duplicate" and second.matched == 1
    assert "videgaray" in second.shared and second.score >= 0.8
    assert got[3][1] is not None and got[3][1].kind == "near_duplicate"


def test_the_same_url_joins_whatever_the_text() -> None:
    index = StoryIndex()
    run(index, WIRE[:1])
    moved = Report(9, "Completely different words", "", "en", T0 + HOUR, WIRE[0].canonical_url)
    assert index.find(moved) == Joined(1001, "url", 1)


def test_an_english_and_a_spanish_report_of_one_event_join_on_names_and_an_event() -> None:
    spanish = Report(
        4,
        "Videgaray se reúne con Kushner en la Casa Blanca para preparar la renegociación del TLCAN",
        "El canciller Luis Videgaray sostuvo un encuentro con Jared Kushner, asesor de Donald "
        "Trump, como parte de los preparativos para renegociar el Tratado de Libre Comercio.",
        "es",
        T0 + 3 * HOUR,
        "https://eluniversal.example/nacion/videgaray-kushner",
    )
    # Names and topics alone (no shared number or event) are not enough across languages:
    # the same pair of names meets every week. Precision first: this pair stays apart.
    got = run(StoryIndex(), [WIRE[0], spanish])
    assert got[4][1] is None
    english = Report(
        5,
        "Magnitude 7.1 earthquake near Axochiapan kills at least 149 in central Mexico",
        "The quake struck near Axochiapan in Morelos state, toppling buildings in Puebla and "
        "Mexico City; at least 149 people died, Civil Protection said.",
        "en",
        T0,
    )
    spanish = Report(
        6,
        "Sismo de 7.1 con epicentro en Axochiapan deja al menos 149 muertos",
        "El temblor, con epicentro en Axochiapan, Morelos, derrumbó edificios en Puebla y la "
        "Ciudad de México, informó Protección Civil.",
        "es",
        T0 + 2 * HOUR,
    )
    got = run(StoryIndex(), [english, spanish])
    joined = got[6][1]
    assert joined is not None and joined.kind == "entities" and got[6][0] == 1005
    # the heaviest shared terms: the names and the number (the event is lighter)
    assert {"axochiapan", "puebla", "#:149"} <= set(joined.shared)
    assert joined.describe().startswith("entities ")
    # the same pair two days apart: no join on names (a follow-up is another story)
    late = Report(7, spanish.title, spanish.text, "es", T0 + 48 * HOUR)
    assert run(StoryIndex(), [english, late])[7][1] is None


ROUND_OPENS = Report(
    10,
    "NAFTA renegotiation: third round of talks opens in Ottawa",
    "Negotiators from Mexico, the United States and Canada began the third round of talks on "
    "the North American Free Trade Agreement in Ottawa on Saturday, with Ildefonso Guajardo "
    "and Robert Lighthizer leading the delegations.",
    "en",
    T0,
)
ROUND_CLOSES = Report(
    11,
    "NAFTA renegotiation: third round of talks closes in Ottawa",
    "Negotiators from Mexico, the United States and Canada ended the third round of talks on "
    "the North American Free Trade Agreement in Ottawa on Wednesday; Ildefonso Guajardo and "
    "Robert Lighthizer said progress was made.",
    "en",
    T0 + 96 * HOUR - 100 * HOUR + 90 * HOUR,
)


def test_the_opening_and_the_close_of_one_round_stay_apart() -> None:
    got = run(StoryIndex(), [ROUND_OPENS, ROUND_CLOSES])
    assert got[10][0] != got[11][0]
    spanish_close = Report(
        12,
        "Concluye en Ottawa la tercera ronda de renegociación del TLCAN",
        "Ildefonso Guajardo y Robert Lighthizer cerraron la tercera ronda de negociaciones del "
        "Tratado de Libre Comercio de América del Norte en Ottawa, con México, Estados Unidos "
        "y Canadá.",
        "es",
        ROUND_CLOSES.published_at + HOUR,
    )
    got = run(StoryIndex(), [ROUND_OPENS, spanish_close])
    assert got[10][0] != got[12][0]


def test_the_same_round_named_in_both_languages_joins() -> None:
    spanish_open = Report(
        13,
        "Arranca en Ottawa la tercera ronda de renegociación del TLCAN",
        "Ildefonso Guajardo y Robert Lighthizer iniciaron en Ottawa la tercera ronda de "
        "negociaciones del Tratado de Libre Comercio de América del Norte entre México, "
        "Estados Unidos y Canadá.",
        "es",
        ROUND_OPENS.published_at + 2 * HOUR,
    )
    got = run(StoryIndex(), [ROUND_OPENS, spanish_open])
    assert got[13][0] == got[10][0]


def test_expulsions_in_opposite_directions_stay_apart() -> None:
    uk = Report(
        20,
        "UK expels 23 Russian diplomats over Salisbury nerve agent attack",
        "Prime Minister Theresa May said the 23 diplomats identified as undeclared intelligence "
        "officers have one week to leave, after the poisoning of Sergei Skripal in Salisbury.",
        "en",
        T0,
    )
    russia = Report(
        21,
        "Russia expels 23 British diplomats in retaliation over Salisbury nerve agent attack",
        "Moscow said the 23 diplomats have one week to leave, in response to Theresa May's "
        "expulsions after the poisoning of Sergei Skripal in Salisbury.",
        "en",
        T0 + 48 * HOUR,
    )
    rusia = Report(
        22,
        "Rusia expulsa a 23 diplomáticos británicos por el caso Skripal",
        "Moscú respondió a Theresa May: los 23 diplomáticos tienen una semana para salir tras "
        "el envenenamiento de Sergei Skripal en Salisbury.",
        "es",
        T0 + 49 * HOUR,
    )
    got = run(StoryIndex(), [uk, russia, rusia])
    assert got[20][0] != got[21][0]
    assert got[20][0] != got[22][0]


def test_different_round_numbers_stay_apart() -> None:
    fifth = Report(30, "Fifth round of NAFTA talks ends in Mexico City", "", "en", T0)
    sixth = Report(31, "Sixth round of NAFTA talks ends in Mexico City", "", "en", T0 + 40 * HOUR)
    got = run(StoryIndex(), [fifth, sixth])
    assert got[30][0] != got[31][0]


def test_unrelated_reports_of_one_day_stay_apart() -> None:
    other = Report(40, "Stocks rise as oil prices climb", "Wall Street gained.", "en", T0 + HOUR)
    got = run(StoryIndex(), [WIRE[0], other])
    assert got[40][1] is None


def test_rebuild_from_stored_pairs_keeps_membership() -> None:
    index = StoryIndex()
    got = run(index, WIRE[:2])
    pairs = [(report, got[report.key][0]) for report in WIRE[:2]]
    rebuilt = StoryIndex.rebuild(pairs)
    assert len(rebuilt) == 2
    found = rebuilt.find(WIRE[2])
    assert found is not None and found.story == 1001


def test_outside_the_window_and_after_prune_nothing_is_found() -> None:
    index = StoryIndex(window_s=24 * HOUR)
    run(index, WIRE[:1])
    late = Report(50, WIRE[1].title, WIRE[1].text, "en", T0 + 30 * HOUR)
    assert index.find(late) is None
    assert index.prune(now=T0 + 30 * HOUR) == 1
    assert len(index) == 0 and not index._postings  # posting lists emptied too
    assert index.find(Report(51, WIRE[1].title, WIRE[1].text, "en", T0 + HOUR)) is None


def test_each_report_is_found_by_a_few_rare_terms() -> None:
    index = StoryIndex()
    features = index.features(WIRE[0])
    keys = features.index_keys()
    assert len(keys) == INDEX_TERMS
    assert "videgaray" in keys and "the" not in features.terms
    assert judge(features, features, index.weigher) is not None


def test_config_lists_join_spellings_the_lexicon_does_not_know() -> None:
    english = Report(60, "Quenton and Varsk sign the Zorblat accord with 23 nations", "", "en", T0)
    spanish = Report(
        61, "Quenton y Varsk firman con 23 naciones el pacto Glorbax", "", "es", T0 + HOUR
    )
    plain = run(StoryIndex(), [english, spanish])
    assert plain[61][0] != plain[60][0]
    lists = {"zorblat": ["Zorblat accord", "pacto Glorbax"]}
    listed = run(StoryIndex(lists=lists), [english, spanish])
    assert listed[61][0] == listed[60][0]


def test_the_shipped_lexicon_maps_both_languages_onto_one_concept() -> None:
    lexicon = default_lexicon()
    assert lexicon.phrases[("casa", "blanca")] == lexicon.phrases[("white", "house")]
    assert lexicon.phrases[("tlcan",)].term == "#nafta"


def test_a_bad_lexicon_line_is_refused() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_lexicon("# comment\nwhite_house\tplace\twhite house\n")
    assert isinstance(Lexicon.build(parse_lexicon("x\tterm\ta b|c\n")), Lexicon)
