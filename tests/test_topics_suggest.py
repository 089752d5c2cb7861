"""`tracker topics suggest`: the ranking on rows handed in, and the command on a database
filled by a real `tracker run --once` over feeds served on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tracker.topics.query import parse
from tracker.topics.suggest import Missed, suggest, terms_of, used_terms

from conftest import run_cli
from feedserver import FeedServer
from rss import Item, rss

# ---------------------------------------------------------------------------- ranking


def test_terms_are_folded_words_and_adjacent_pairs_without_stop_words() -> None:
    terms = terms_of("Tratado de Libre Comercio", "Los negociadores del TLCAN, en 2017")
    assert {"tratado", "libre", "comercio", "libre comercio", "negociadores", "tlcan"} <= terms
    assert "negociadores tlcan" not in terms  # "del" stands between them
    assert "tratado libre" not in terms
    assert not {"de", "del", "los", "en", "2017"} & terms
    # a phrase never spans two fields
    assert "comercio los" not in terms and "comercio negociadores" not in terms


def test_ranking_prefers_what_the_missed_reports_share_and_the_background_lacks() -> None:
    used = used_terms(parse('NAFTA OR "free trade agreement" OR negociaci*'))
    missed = [
        Missed("Ronda de Montreal", "El Tratado de Libre Comercio avanza; negociaciones duras."),
        Missed("Sexta ronda del TLCAN", "Libre comercio: la negociación sigue en Montreal."),
        Missed("Mercados en calma", "El peso mexicano sube; libre comercio en la mira."),
    ]
    background = [
        ("Peso sube", "El peso mexicano sube frente al dólar."),
        ("Peso baja", "El peso mexicano cae."),
        ("Lluvias en Montreal", "Montreal bajo la lluvia."),
        *((m.title, m.text) for m in missed),
    ]
    found = suggest(missed, background, used, limit=50)
    by_term = {s.term: s for s in found}
    assert found[0].term in {"libre comercio", "libre", "comercio"}
    assert by_term["libre comercio"].reports == 3
    assert by_term["libre comercio"].background == 3
    # as frequent among the missed (2 of 3) as montreal, but montreal is common elsewhere
    assert by_term["ronda"].reports == by_term["montreal"].reports == 2
    assert by_term["ronda"].score > by_term["montreal"].score
    assert by_term["mexicano"].score < by_term["ronda"].score
    # the query's own terms: words, prefixes (negociaci* covers negociaciones) and stop words
    assert "nafta" not in by_term
    assert not any(t.startswith("negociaci") or " negociaci" in t for t in by_term)
    assert "de" not in by_term and "la" not in by_term
    assert by_term["tlcan"].examples == ("Sexta ronda del TLCAN",)
    assert by_term["libre comercio"].examples == tuple(m.title for m in missed)
    assert [s.term for s in suggest(missed, background, used, limit=2)] == [
        s.term for s in found[:2]
    ]


def test_a_phrase_the_query_has_is_not_suggested_but_its_neighbours_are() -> None:
    used = used_terms(parse('"libre comercio"'))
    found = suggest([Missed("Tratado de libre comercio", "")], [], used)
    terms = {s.term for s in found}
    assert "libre comercio" not in terms
    assert {"tratado", "libre", "comercio"} <= terms


def test_on_a_tie_a_phrase_comes_before_its_words() -> None:
    found = suggest([Missed("Reglas origen", "")], [], used_terms(parse("nafta")))
    assert [s.term for s in found] == ["reglas origen", "origen", "reglas"]


def test_nothing_missed_suggests_nothing() -> None:
    assert suggest([], [("a", "b")], used_terms(parse("nafta"))) == []


# ---------------------------------------------------------------------------- the command

# Both outlets: one headline, and the same names and number in their summaries, which the
# index's cross-language rule needs (names alone never join two languages).
TITLE = "Montreal, day six / Montreal, sexto día"


def _config(tmp_path: Path, feeds: list[tuple[str, str]]) -> Path:
    path = tmp_path / "config.yaml"
    lines = [f"database: {tmp_path / 't.db'}", "defaults: {jitter: 0s}", "feeds:"]
    for name, url in feeds:
        lines += [f"  - url: {url}", f"    name: {name}"]
    lines += ["topics:", "  nafta:", "    query: 'NAFTA OR \"trade talks\"'"]
    path.write_text("\n".join(lines) + "\n")
    return path


def by_title(found: list[dict[str, object]], term: str) -> object:
    return next(f["examples"] for f in found if f["term"] == term)


def _run(cfg: Path) -> None:
    out = run_cli("--config", str(cfg), "run", "--once")
    assert out.returncode == 0, out.stderr


@pytest.mark.slow
def test_suggest_lists_the_words_of_the_spanish_copy_the_topic_missed(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    paths = [f"/suggest-{n}.xml" for n in ("lat", "eu", "mil", "jor", "pro")]
    names = ["Los Angeles Times", "El Universal", "Milenio", "La Jornada", "Proceso"]
    feeds = [(name, feed_server.url(p)) for name, p in zip(names, paths, strict=True)]
    cfg = _config(tmp_path, feeds)
    for i, p in enumerate(paths):
        feed_server.add(p, rss([Item(f"Old {i}", f"https://old.example/{i}", f"o{i}")]))
    _run(cfg)
    empty = run_cli("--config", str(cfg), "topics", "suggest", "nafta")
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout == "nafta: no unmatched reports in its stories of the last 30 days\n"
    english = Item(
        TITLE,
        "https://latimes.example/world/nafta-montreal",
        "lat-1",
        "NAFTA negotiators Lighthizer, Freeland and Guajardo closed the sixth round of trade"
        " talks in Montreal, with 34 chapters still open.",
        age_s=600,
    )
    spanish = Item(
        TITLE,
        "https://eluniversal.example/nacion/tlcan-montreal",
        "eu-1",
        "Los negociadores del Tratado de Libre Comercio de América del Norte cerraron en"
        " Montreal la sexta ronda con 34 capítulos abiertos; Guajardo, Lighthizer y Freeland"
        " hablaron de avances en reglas de origen.",
        age_s=300,
    )
    other = Item(
        "Guajardo visita Montreal",
        "https://milenio.example/negocios/guajardo",
        "mil-1",
        "El secretario Guajardo llegó a Montreal para una reunión con empresarios.",
        age_s=200,
    )
    feed_server.add(paths[0], rss([english], lang="en"))
    feed_server.add(paths[1], rss([spanish], lang="es"))
    feed_server.add(paths[2], rss([other], lang="es"))
    _run(cfg)

    conn = sqlite3.connect(tmp_path / "t.db")
    try:
        rows = dict(conn.execute("SELECT url, story_id FROM articles"))
        sql = "SELECT a.url FROM matches m JOIN articles a ON a.id = m.article_id"
        matched = [r[0] for r in conn.execute(sql + " WHERE m.topic = 'nafta'")]
    finally:
        conn.close()
    assert rows[spanish.link] == rows[english.link]  # one story
    assert matched == [english.link]  # the English report only
    # Two more outlets link the English report (one canonical URL: one article), each under
    # its own Spanish headline; the topic matches the second headline, not the first.
    copy = "Lighthizer y Freeland negocian en Montreal"
    feed_server.add(paths[3], rss([Item(copy, english.link, "jor-1", "", 100)], lang="es"))
    matching = "NAFTA: Ottawa rechaza la propuesta"
    feed_server.add(paths[4], rss([Item(matching, english.link, "pro-1", "", 100)], lang="es"))
    _run(cfg)

    out = run_cli("--config", str(cfg), "topics", "suggest", "nafta", "-n", "100", "--json")
    assert out.returncode == 0, out.stderr
    found = [json.loads(line) for line in out.stdout.splitlines()]
    terms = [f["term"] for f in found]
    assert {"libre comercio", "tratado", "sexta ronda", "negociadores"} <= set(terms)
    assert not {"nafta", "de", "del", "la", "en", "negotiators", "talks"} & set(terms)
    assert "reglas origen" not in terms  # "de" stands between them
    assert by_title(found, "lighthizer") == [TITLE, copy]  # the report and the copy
    assert not {"ottawa", "rechaza", "propuesta"} & set(terms)  # that headline matches
    by_term = {f["term"]: f for f in found}
    assert by_term["libre comercio"]["examples"] == [TITLE]
    assert by_term["libre comercio"]["reports"] == 1
    # Guajardo is in the background's other articles too (the English report, another
    # Spanish one): ranked lower
    assert by_term["guajardo"]["background"] >= 2
    assert by_term["tratado"]["score"] > by_term["guajardo"]["score"]
    # in both missed reports (the article and the retitled copy): near the top, both shown
    assert "montreal" in terms[:3]
    assert by_term["montreal"]["reports"] == 2
    assert by_term["montreal"]["examples"] == [TITLE, copy]

    text = run_cli("--config", str(cfg), "topics", "suggest", "nafta", "-n", "3")
    assert text.returncode == 0, text.stderr
    assert "nafta: 2 unmatched reports in 1 story" in text.stdout
    assert text.stdout.count("e.g. ") == 6  # the top three are each in both missed reports
    assert f"e.g. {TITLE}" in text.stdout

    unknown = run_cli("--config", str(cfg), "topics", "suggest", "steel")
    assert unknown.returncode == 2
    assert "no topic named 'steel'" in unknown.stderr
