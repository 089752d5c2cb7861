"""The shipped topics against the labelled sets of English and Spanish news items.

The figures per topic and language come from ``bench/topics_quality.py``. The floors cover
the three tuning sets and, since round four tuned on them, the three spent held-out sets; a
held-out set that has not been tuned on gets no floor here, it only measures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import yaml

from tracker.config import loader as config_mod
from tracker.models import MatchInput
from tracker.topics.matcher import Matcher

from conftest import DATA, ROOT

CONFIG = config_mod.load(ROOT / "config.yaml")
ITEMS: list[dict[str, Any]] = yaml.safe_load((DATA / "topics_labelled.yaml").read_text("utf-8"))
# The second tuning set, by a writer who saw neither the queries nor the held-out set.
ITEMS2: list[dict[str, Any]] = yaml.safe_load((DATA / "topics_tuning2.yaml").read_text("utf-8"))
# The third, written blind to the queries and the other sets (topics_tuning3.md).
ITEMS3: list[dict[str, Any]] = yaml.safe_load((DATA / "topics_tuning3.yaml").read_text("utf-8"))
MATCHER = Matcher.from_topics(CONFIG.topic_specs(), CONFIG.lists)
SCRIPT = ROOT / "bench" / "topics_quality.py"
# What the runtime install lacks: the script must run without them (README: make run's venv).
TEST_ONLY = ("pytest", "hypothesis", "trustme", "aiosmtpd", "pytest_httpserver", "conftest")


def _topics(title: str, summary: str = "", lang: str | None = None) -> set[str]:
    doc = MatchInput(title=title, summary=summary, feed="", lang=lang)
    return {hit.topic for hit in MATCHER.match(doc)}


def scores(
    lang: str | None = None, source: list[dict[str, Any]] = ITEMS
) -> dict[str, tuple[float, float, int, int, int]]:
    """topic → (precision, recall, true positives, false positives, false negatives)."""
    items = [i for i in source if lang is None or i["lang"] == lang]
    got = [_topics(i["title"], i["summary"], i["lang"]) for i in items]
    out = {}
    for topic in CONFIG.topics:
        tp = fp = fn = 0
        for item, matched in zip(items, got, strict=True):
            hit, want = topic in matched, topic in item["topics"]
            tp += hit and want
            fp += hit and not want
            fn += want and not hit
        out[topic] = (tp / max(tp + fp, 1), tp / max(tp + fn, 1), tp, fp, fn)
    return out


def test_the_set_is_big_bilingual_and_hard() -> None:
    assert len(ITEMS) >= 150
    langs = [i["lang"] for i in ITEMS]
    assert langs.count("en") >= 60 and langs.count("es") >= 60
    negatives = [i for i in ITEMS if not i["topics"]]
    assert len(negatives) >= 0.4 * len(ITEMS)


def test_the_second_set_is_big_bilingual_and_hard() -> None:
    assert len(ITEMS2) >= 300
    langs = [i["lang"] for i in ITEMS2]
    assert langs.count("en") >= 150 and langs.count("es") >= 150
    hard = [i for i in ITEMS2 if i.get("hard") and not i["topics"]]
    assert len(hard) >= 0.25 * len(ITEMS2)
    assert not {i["id"] for i in ITEMS2} & {i["id"] for i in ITEMS}


def test_the_third_set_is_bilingual_and_new() -> None:
    assert len(ITEMS3) >= 200
    langs = [i["lang"] for i in ITEMS3]
    assert langs.count("en") >= 100 and langs.count("es") >= 100
    assert not {i["id"] for i in ITEMS3} & ({i["id"] for i in ITEMS} | {i["id"] for i in ITEMS2})


SETS = {"tuning": ITEMS, "tuning2": ITEMS2, "tuning3": ITEMS3}
# The held-out sets that round four tuned on (docs/topics-quality.md): spent, so floored.
for _spent in ("heldout", "heldout2", "heldout3"):
    SETS[_spent] = yaml.safe_load((DATA / f"topics_{_spent}.yaml").read_text("utf-8"))


# Floors (round four: 0.96-1.00 per topic and language on all six sets, but for tuning 1's
# Spanish nafta-rounds precision, 18/19, whose one false positive is the labelling call
# in docs/topics-quality.md); a fresh held-out set only measures. heldout4, tuned on in
# round five, has floors of its own below.
@pytest.mark.parametrize("name", sorted(SETS))
@pytest.mark.parametrize("topic", sorted(CONFIG.topics))
def test_precision_and_recall_floors(topic: str, name: str) -> None:
    precision, recall, *_ = scores(None, SETS[name])[topic]
    assert precision >= 0.95, (name, topic, precision)
    assert recall >= 0.95, (name, topic, recall)


@pytest.mark.parametrize("name", sorted(SETS))
@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("topic", sorted(CONFIG.topics))
def test_floors_hold_in_each_language(topic: str, lang: str, name: str) -> None:
    precision, recall, *_ = scores(lang, SETS[name])[topic]
    assert precision >= 0.94, (name, topic, lang, precision)
    assert recall >= 0.95, (name, topic, lang, recall)


HELDOUT4 = yaml.safe_load((DATA / "topics_heldout4.yaml").read_text("utf-8"))
# Round five on heldout4 (docs/topics-quality.md): every topic 1.00 precision; border-wall
# 1.00 recall; steel-tariffs 0.96 in English (25/26: Canada's counter-tariffs, the metal 12
# words from them) and 1.00 in Spanish; nafta-rounds 0.93 in English (25/27: Canada's talks
# with Washington, with neither the agreement nor one of its subjects named; the signing
# ceremony, whose "sign" is not a word of the talks in progress) and 0.89 in Spanish
# (24/27: the new name's debate, a proposal on panels with Mexico alone, "un nuevo TLCAN"
# with no word of the talks). Round six took in the new name's debate (25/27, 0.93).
HELDOUT4_RECALL = {"nafta-rounds": {"en": 0.92, "es": 0.92}}


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("topic", sorted(CONFIG.topics))
def test_heldout4_floors(topic: str, lang: str) -> None:
    precision, recall, *_ = scores(lang, HELDOUT4)[topic]
    assert precision >= 0.95, (topic, lang, precision)
    assert recall >= HELDOUT4_RECALL.get(topic, {}).get(lang, 0.95), (topic, lang, recall)


HELDOUT5 = yaml.safe_load((DATA / "topics_heldout5.yaml").read_text("utf-8"))
# Round six on heldout5 (docs/topics-quality.md): precision 1.00 but border-wall's in
# English (25/26: troops sent "until a wall is built"); recall 0.95 or more but
# border-wall's in English, 0.93 (25/27: an editorial on the ports of entry, the Colorado
# River at San Luis). nafta-rounds' Spanish recall is 0.96 (27/28: the Mexican farm lobby
# on the bilateral "entendimiento" of August 2018).
HELDOUT5_RECALL = {"border-wall": {"en": 0.92}}


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("topic", sorted(CONFIG.topics))
def test_heldout5_floors(topic: str, lang: str) -> None:
    precision, recall, *_ = scores(lang, HELDOUT5)[topic]
    assert precision >= 0.95, (topic, lang, precision)
    assert recall >= HELDOUT5_RECALL.get(topic, {}).get(lang, 0.95), (topic, lang, recall)


@pytest.mark.parametrize(
    ("headline", "topic"),
    [
        ("Trump to impose 25% tariff on steel, 10% on aluminum", "steel-tariffs"),
        ("Concluye la séptima ronda de renegociación del TLCAN", "nafta-rounds"),
        ("Peña Nieto reitera que México no pagará el muro fronterizo", "border-wall"),
        # the vocabulary review: full names, paraphrases, milestones, instruments, press usage
        (
            "Seade, Lighthizer y Freeland firman el protocolo modificatorio del T-MEC",
            "nafta-rounds",
        ),
        ("Pláticas del Tratado de Libre Comercio de Norteamérica se reanudan", "nafta-rounds"),
        ("House passes the United States-Mexico-Canada Agreement", "nafta-rounds"),
        ("Canada wants a 16-year extension of CUSMA without reopening it", "nafta-rounds"),
        ("Commerce opens Section 232 probe; aluminum imports at issue", "steel-tariffs"),
        ("Canada imposes surtaxes on U.S. steel products", "steel-tariffs"),
        ("Mexico exempt from new steel levies for now", "steel-tariffs"),
        ("Texas installs buoy barrier in the Rio Grande", "border-wall"),
        ("Trump dice que el muro 'ya se está pagando' por México", "border-wall"),
        # round two: the agreement unnamed or paraphrased, the instruments, the barrier
        ("Guajardo: la renegociación se reanudará después del 1 de julio", "nafta-rounds"),
        ("Officials rewriting the continental trade accord reconvene", "nafta-rounds"),
        ("Negotiators from the three North American countries end Ottawa round", "nafta-rounds"),
        (
            "Revisión sexenal del pacto: México y Canadá llegan con agendas distintas",
            "nafta-rounds",
        ),
        ("Trump amaga con terminar el TLCAN", "nafta-rounds"),
        ("EU grava con 200% el aluminio ruso", "steel-tariffs"),
        ("Army Corps awards contract for 60 miles of barrier in Arizona", "border-wall"),
        ("Pentágono desvía 3,600 mdd para el muro", "border-wall"),
        ("Trump says he is proud to shut down government over wall", "border-wall"),
    ],
)
def test_reference_headlines_match(headline: str, topic: str) -> None:
    assert _topics(headline) == {topic}


@pytest.mark.parametrize(
    "headline",
    [
        "Wall Street closes higher",
        "Great Wall of China",
        "Steelers beat Ravens",
        "Brexit talks: fifth round ends in deadlock",
        "U.S. imposes tariffs on solar panels",
        # passing mentions and other walls the review keeps out
        "El T-MEC, que reemplazó al TLCAN en 2020, impulsa exportaciones récord",
        "Trump to extend tariff exemption for USMCA-compliant goods",
        "Former NAFTA negotiator joins consulting firm",
        "Nucor to invest $232 million in Arizona mill",
        "Poland finishes steel border wall with Belarus",
        "Mexico's peso hits a wall as Trump talks tariffs",
        "Se derrumba muro en obra de construcción en Monterrey",
        # round two: the same negotiators on other agreements, the other barriers
        "Freeland: Canada's negotiators wrap up CPTPP talks in Tokyo",
        "Guajardo y negociadores de la UE cierran la modernización del TLCUEM",
        "Army Corps awards $50 million contract for flood barrier in Houston, Texas",
        "Caltrans builds $3 million noise barrier along I-5 in San Diego",
        "Texas town raises sea wall with $20 million in federal funds",
        "Trade barriers at the border cost Texas exporters $2 billion, Trump aide says",
        "Arizona county builds $2 million fence around fairgrounds",
    ],
)
def test_reference_negatives_do_not_match(headline: str) -> None:
    assert _topics(headline) == set()


# Round three's vocabulary review, with the summary where the story needs it: what each
# group of terms in config.yaml is there for (the first half) and what it must not catch
# (the second half).
ROUND_THREE = [
    ("Negotiators sit down in Washington for fourth NAFTA session", "", "en", {"nafta-rounds"}),
    (
        "Haggling over dairy delays the U.S.-Mexico-Canada pact",
        "Officials said a compromise on milk quotas was within reach.",
        "en",
        {"nafta-rounds"},
    ),
    (
        "Trump meets Trudeau as NAFTA clock ticks",
        "The leaders met at the White House.",
        "en",
        {"nafta-rounds"},
    ),
    (
        "Canada, U.S. race to deadline",
        "Negotiators worked to bring Canada into the pact agreed between the United States"
        " and Mexico.",
        "en",
        {"nafta-rounds"},
    ),
    ("Inicia en Washington encuentro sobre el acuerdo trilateral", "", "es", {"nafta-rounds"}),
    ("Trump amaga con sacar a EU del TLCAN", "", "es", {"nafta-rounds"}),
    (
        "Sheinbaum y Carney hablan del T-MEC en llamada",
        "Acordaron coordinarse de cara a la revisión con Washington.",
        "es",
        {"nafta-rounds"},
    ),
    ("Melted and poured: U.S. tightens rule for Mexican steel", "", "en", {"steel-tariffs"}),
    ("Steelworkers union backs 232 tariffs", "", "en", {"steel-tariffs"}),
    (
        "Mexico impone cuotas compensatorias a lámina galvanizada china",
        "",
        "es",
        {"steel-tariffs"},
    ),
    (
        "Asturias teme el impacto de los aranceles de Trump",
        "La siderurgia asturiana exporta a Estados Unidos un tercio de su producción.",
        "es",
        {"steel-tariffs"},
    ),
    (
        "Washington impone aranceles de 25 por ciento a las importaciones de productos de acero",
        "",
        "es",
        {"steel-tariffs"},
    ),
    ("Butterfly center sues over barrier", "", "en", {"border-wall"}),
    ("Avanza el cerco fronterizo en Sonora", "", "es", {"border-wall"}),
    (
        "Pintan de negro la barda en Nuevo México",
        "El gobierno de Trump quiere que el metal se caliente.",
        "es",
        {"border-wall"},
    ),
    # what the broader words must not catch
    (
        "U.S., Mexico and Guatemala sign trilateral migration agreement",
        "The accord commits the three countries to share information after a meeting.",
        "en",
        set(),
    ),
    (
        "México, Estados Unidos y Canadá acuerdan plan trilateral contra el fentanilo",
        "Los tres países firmaron un acuerdo de seguridad en Washington.",
        "es",
        set(),
    ),
    (
        "Canadian lumber duties: Ottawa files USMCA challenge",
        "Canada asked for a panel review of the latest U.S. softwood duties.",
        "en",
        set(),
    ),
    ("Cita con la historia: 30 años del TLCAN", "Un repaso desde 1994.", "es", set()),
    (
        "China retaliates with tariffs on soybeans and pork",
        "Beijing answered the Section 301 duties.",
        "en",
        set(),
    ),
    (
        "Supreme Court weighs Trump's emergency tariffs",
        "The case covers levies under the IEEPA; duties on steel under Section 232 are not at"
        " issue.",
        "en",
        set(),
    ),
    ("Cerco policial en Ciudad Juárez tras balacera", "Operativo en la frontera.", "es", set()),
    (
        "Otay Mesa port of entry adds lanes",
        "Officials called long lines a barrier to trade.",
        "en",
        set(),
    ),
    (
        "Takeaways from the State of the Union",
        "Trump touted the economy and renewed his call for a border wall.",
        "en",
        set(),
    ),
]


@pytest.mark.parametrize(("title", "summary", "lang", "want"), ROUND_THREE)
def test_round_three_vocabulary(title: str, summary: str, lang: str, want: set[str]) -> None:
    assert _topics(title, summary, lang) == want


# Round four's review, written from domain knowledge (none is taken from a labelled set):
# what the new groups in config.yaml are for, then what they must keep out.
ROUND_FOUR = [
    (
        "Negotiators make little headway on dairy in Montreal",
        "The sixth round ended without progress on Canada's supply management system or the"
        " sunset clause.",
        "en",
        {"nafta-rounds"},
    ),
    (
        "Mexico, U.S. close in on auto rules; Canada waits",
        "Officials said a bilateral understanding on cars could come this week, after which"
        " Ottawa would rejoin the trilateral talks.",
        "en",
        {"nafta-rounds"},
    ),
    (
        "Mexico's Senate ratifies revised trade pact with U.S., Canada",
        "Lawmakers voted 114-4 to approve the protocol.",
        "en",
        {"nafta-rounds"},
    ),
    (
        "Trump threatens to leave Canada out of new trade pact",
        "The president said Congress could approve a bilateral deal with Mexico.",
        "en",
        {"nafta-rounds"},
    ),
    (
        "U.S. seeks annual reviews instead of 16-year extension of USMCA",
        "Greer told lawmakers the administration wanted leverage.",
        "en",
        {"nafta-rounds"},
    ),
    (
        "Concluye sin acuerdo la séptima ronda en la Ciudad de México",
        "Los negociadores de los tres países seguirán trabajando en reglas de origen.",
        "es",
        {"nafta-rounds"},
    ),
    (
        "Trudeau llama a Peña Nieto para hablar de la renegociación",
        "Los líderes acordaron mantener una postura común.",
        "es",
        {"nafta-rounds"},
    ),
    (
        "México rechaza la cláusula de caducidad que propone EU",
        "Guajardo dijo que el país no aceptará un tratado con fecha de expiración.",
        "es",
        {"nafta-rounds"},
    ),
    (
        "Seade y Lighthizer afinan la adenda laboral del nuevo tratado",
        "Los demócratas piden inspectores.",
        "es",
        {"nafta-rounds"},
    ),
    (
        "Ebrard viaja a Washington para preparar la revisión del tratado comercial",
        "Se reunirá con Greer y Lutnick.",
        "es",
        {"nafta-rounds"},
    ),
    ("U.S. metal levies take effect", "", "en", {"steel-tariffs"}),
    ("EU investiga importaciones de aluminio por seguridad nacional", "", "es", {"steel-tariffs"}),
    (
        "Bruselas endurece su régimen de protección del acero",
        "El arancel fuera de cuota sube al 50%.",
        "es",
        {"steel-tariffs"},
    ),
    ("Gusts topple a stretch of new border barrier near Yuma", "", "en", {"border-wall"}),
    ("Border Patrol seeks bids for 20 more miles of wall in Texas", "", "en", {"border-wall"}),
    (
        "Government shutdown enters third week over wall funding",
        "Federal workers miss paychecks.",
        "en",
        {"border-wall"},
    ),
    (
        "Jaguar cameras capture wildlife blocked by the wall",
        "Biologists say corridors are cut.",
        "en",
        {"border-wall"},
    ),
    # what the new groups must not catch
    (
        "Mexico and Brazil open first round of trade talks",
        "Negotiators in Brasilia seek to expand their 2002 agreement.",
        "en",
        set(),
    ),
    (
        "Canada and UK open third round of trade talks",
        "Negotiators met in London; the U.S. was not part of it.",
        "en",
        set(),
    ),
    (
        "Canadá y EE UU retoman el diálogo sobre madera",
        "Las dos partes no lograron un acuerdo sobre lácteos ni sobre la madera suave.",
        "es",
        set(),
    ),
    (
        "Canada and Mexico sign bilateral agreement on seasonal farm workers",
        "The deal was signed in Ottawa.",
        "en",
        set(),
    ),
    ("Trump's State of the Union: takeaways", "He praised the USMCA and the wall.", "en", set()),
    (
        "México presenta queja ante el T-MEC por reglas de origen automotrices",
        "El panel deberá resolver en 150 días.",
        "es",
        set(),
    ),
    (
        "Sheinbaum y Trump hablan por teléfono",
        "Ella le propuso un acuerdo para reducir la migración; Ebrard y Seade seguirán el"
        " proceso con Washington.",
        "es",
        set(),
    ),
    (
        "Trump pauses fentanyl tariffs on USMCA-compliant goods",
        "Most Canadian and Mexican imports that meet the pact's rules of origin are spared.",
        "en",
        set(),
    ),
    (
        "Commerce opens Section 232 investigation of copper imports",
        "Duties on the metal could follow.",
        "en",
        set(),
    ),
    (
        "Steel prices rise in Asia",
        "Demand from builders grew; tariffs on cars were not discussed.",
        "en",
        set(),
    ),
    ("Juárez: lluvias derrumban barda de escuela", "Protección Civil revisa daños.", "es", set()),
    (
        "Who is Kristi Noem?",
        "The governor backed the border wall and tax cuts.",
        "en",
        set(),
    ),
    (
        "Vance rallies voters in Arizona",
        "He promised to finish the wall and cut taxes.",
        "en",
        set(),
    ),
    ("Trump reza en el Muro de las Lamentaciones", "", "es", set()),
]


@pytest.mark.parametrize(("title", "summary", "lang", "want"), ROUND_FOUR)
def test_round_four_vocabulary(title: str, summary: str, lang: str, want: set[str]) -> None:
    assert _topics(title, summary, lang) == want


# Round five's rules, written from domain knowledge (none is taken from a labelled set):
# the agreement standing by its subjects, the Spanish inflections and "tasa", pipe, other
# countries' border walls, and the senses each rule must keep out (a Chapter 11
# bankruptcy, Argentina's petrol, copper, PVC and tobacco pipe, an interest rate, a palace
# fenced for a march, a house's wall, someone aged 16, a blanket tariff threat, Mexico's
# southern border, a firm, a petition, a yard's wall in a border town, Mexico's Senate).
ROUND_FIVE = [
    # nafta-rounds: the agreement unnamed, standing by its subjects, with two partners.
    (
        "Dairy quotas and auto rules top agenda as talks resume",
        "Canadian and American negotiators met in Washington to narrow gaps on supply"
        " management and rules of origin.",
        "en",
        {"nafta-rounds"},
    ),
    (
        "EU y México chocan por el contenido regional de autos en la revisión",
        "Los equipos técnicos no lograron acuerdo sobre el porcentaje de piezas que deben"
        " fabricarse en la región.",
        "es",
        {"nafta-rounds"},
    ),
    (
        "Washington quiere revisiones anuales si Ottawa no cede",
        "Funcionarios estadounidenses dijeron que no extenderán la vigencia de 16 años del"
        " acuerdo sin cambios en lácteos.",
        "es",
        {"nafta-rounds"},
    ),
    (
        "Ottawa y México acuerdan modernizar el tratado con Norteamérica en mente",
        "Los dos gobiernos revisarán capítulos de comercio digital y energía.",
        "es",
        {"nafta-rounds"},
    ),
    # ...and what they must keep out.
    (
        "Aeroméxico se acoge al Capítulo 11 en Estados Unidos",
        "La aerolínea mexicana inicia negociaciones con sus acreedores en Nueva York.",
        "es",
        set(),
    ),
    (
        "Sube la nafta en Córdoba: nueva ronda de aumentos",
        "Los surtidores de YPF y Shell remarcaron el litro de súper.",
        "es",
        set(),
    ),
    (
        "EU and Mexico resume talks on rules of origin for their modernised agreement",
        "Brussels and Mexico City aim to sign the update this year.",
        "en",
        set(),
    ),
    # steel-tariffs: pipe, the flat products' inflections, the Spanish "tasa".
    (
        "Commerce sets duties on oil country pipe from South Korea",
        "",
        "en",
        {"steel-tariffs"},
    ),
    (
        "España pide a Bruselas una tasa sobre el acero chino",
        "Las siderúrgicas denuncian la entrada de bobinas laminadas a bajo precio.",
        "es",
        {"steel-tariffs"},
    ),
    (
        "Tariffs on copper pipe and wire take effect",
        "The 50% duty covers semi-finished products.",
        "en",
        set(),
    ),
    (
        "Tube strike: drivers on duty walk out",
        "London Underground services were suspended.",
        "en",
        set(),
    ),
    (
        "Banxico mantiene la tasa; acereras, a la espera",
        "La tasa de interés se queda en 10% mientras la producción de acero cae.",
        "es",
        set(),
    ),
    # border-wall: other countries' walls, placing barriers, the House.
    (
        "Lithuania finishes fence on Belarus border",
        "The 500-km barrier was built in under two years.",
        "en",
        set(),
    ),
    (
        "Senate GOP pairs Israel aid with border wall money",
        "The package would restart construction of the barrier.",
        "en",
        {"border-wall"},
    ),
    (
        "Colocan vallas metálicas en Palacio Nacional ante la marcha",
        "Las autoridades instalaron barreras en el Zócalo y frente al Congreso.",
        "es",
        set(),
    ),
    (
        "House fire: wall collapses, repair costs climb",
        "The homeowners face a bill of thousands of dollars.",
        "en",
        set(),
    ),
    (
        "Muere joven mexicano de 16 años en la frontera con EU",
        "La familia pide una revisión del caso a las autoridades estadounidenses.",
        "es",
        set(),
    ),
    (
        "Mexican peso slides as tariff threat looms",
        "Investors fear levies on all Mexican goods, from avocados to cars to steel and"
        " electronics.",
        "en",
        set(),
    ),
    ("Guatemala refuerza su frontera con México con vallas", "", "es", set()),
    ("Ladrones saltan la barda de una casa en Tijuana", "Robaron aparatos.", "es", set()),
    ("Arancel a tubos de PVC importados", "La industria del plástico protesta.", "es", set()),
    ("Duty on pipe tobacco doubles", "", "en", set()),
    ("Instalan concertina en penal de Ciudad Juárez", "Para evitar fugas.", "es", set()),
    (
        "El Senado aprueba presupuesto; el muro de la sede se pinta",
        "Los senadores votaron.",
        "es",
        set(),
    ),
    (
        "Firma mexicana de autopartes invierte en Texas",
        "La empresa busca cumplir las reglas de origen para exportar a Estados Unidos.",
        "es",
        set(),
    ),
    (
        "Tomato growers in Florida sign petition against Mexican imports",
        "They want seasonal produce protections from Washington.",
        "en",
        set(),
    ),
    (
        "Guardia Nacional coloca concertina frente a Ciudad Juárez",
        "Los rollos de alambre cubren la orilla del río Bravo.",
        "es",
        {"border-wall"},
    ),
]


@pytest.mark.parametrize(("title", "summary", "lang", "want"), ROUND_FIVE)
def test_round_five_rules(title: str, summary: str, lang: str, want: set[str]) -> None:
    assert _topics(title, summary, lang) == want


# Round six (docs/topics-quality.md), written from domain knowledge, not from heldout5's
# items: each rule with a story it is for and the senses it must keep out.
ROUND_SIX = [
    # nafta-rounds: the agreement described, the region's talks, the 2019 protocol, a
    # subject next to the pact's negotiation, the bare TLC, the numbered rounds.
    (
        "Pelosi and Lighthizer near a deal on the revised trade pact",
        "Democrats want stronger labor enforcement.",
        "en",
        {"nafta-rounds"},
    ),
    (
        "Congreso de EU y Seade: reunión sobre la reforma laboral",
        "Los demócratas piden inspectores laborales en el nuevo pacto comercial.",
        "es",
        {"nafta-rounds"},
    ),
    (
        "Canadá y EU: la negociación trinacional se reanuda en Washington",
        "Freeland viajará el lunes.",
        "es",
        {"nafta-rounds"},
    ),
    (
        "Canada and the U.S. begin trilateral talks with Mexico on electricity grid",
        "Ministers met in Ottawa.",
        "en",
        set(),
    ),
    (
        "Productores de berries temen la cláusula de estacionalidad",
        "La negociación del acuerdo comercial entra en su fase final.",
        "es",
        {"nafta-rounds"},
    ),
    (
        "Exportadores de Chihuahua siguen la renegociación del TLC",
        "El gobierno negocia en Washington las reglas de origen.",
        "es",
        {"nafta-rounds"},
    ),
    (
        "Arranca en Ottawa la tercera ronda",
        "Los equipos de los tres países revisan textos de comercio electrónico.",
        "es",
        {"nafta-rounds"},
    ),
    (
        "Economía envía al Senado los objetivos de la renegociación",
        "El documento fija las líneas rojas de México en la mesa con Washington y Ottawa.",
        "es",
        {"nafta-rounds"},
    ),
    (
        "Hundreds testify at USTR hearings on the trade pact's future",
        "Farm groups and unions told the panel what they want changed before talks begin.",
        "en",
        {"nafta-rounds"},
    ),
    (
        "Lighthizer to brief senators on state of Canada talks",
        "The trade chief will meet the Finance Committee on Thursday.",
        "en",
        {"nafta-rounds"},
    ),
    (
        "Trump signs order to withdraw from trade pact, aides say",
        "The notice would give Mexico and Canada six months.",
        "en",
        {"nafta-rounds"},
    ),
    (
        "Canadian dairy farmers watch the trade pact review closely",
        "Supply management is on the table.",
        "en",
        {"nafta-rounds"},
    ),
    (
        "India-US trade deal talks stall over dairy",
        "Washington wants access for its milk.",
        "en",
        set(),
    ),
    (
        "India-US trade talks: dairy access is the sticking point",
        "New Delhi refuses to open its milk market to American farmers.",
        "en",
        set(),
    ),
    (
        "Democrats press Greer on trade talks with India",
        "The trade representative defended the framework.",
        "en",
        set(),
    ),
    (
        "U.S. and Vietnam talks on rules of origin for transshipped goods",
        "Washington wants a 40% tariff on rerouted products.",
        "en",
        set(),
    ),
    ("Ecuador sets objectives for talks with Mexico", "Quito wants shrimp access.", "en", set()),
    (
        "Mexico rules of origin for cars exported to Brazil revised in talks",
        "Itamaraty and the economy ministry met in Brasilia.",
        "en",
        set(),
    ),
    (
        "Mexico withdraws from the tomato suspension pact talks with U.S.",
        "Growers in Sinaloa worry about the antidumping deposit.",
        "en",
        set(),
    ),
    (
        "Trump withdraws from Paris climate pact as Mexico and Canada stay",
        "Leaders criticised the move.",
        "en",
        set(),
    ),
    (
        "Trudeau and Biden discuss continental defence negotiations",
        "NORAD modernization talks will resume in Ottawa.",
        "en",
        set(),
    ),
    (
        "Greer: talks with Mexico on steel quotas progress",
        "The trade representative said a deal on the metal could come soon.",
        "en",
        {"steel-tariffs"},
    ),
    (
        "Guajardo: hay que cerrar el T-MEC antes de julio",
        "El secretario confía en un acuerdo.",
        "es",
        {"nafta-rounds"},
    ),
    (
        "GM cerrará planta en Ramos Arizpe pese al T-MEC",
        "La armadora trasladará la producción.",
        "es",
        set(),
    ),
    (
        "Canada and Mexico sign new trade accord on aerospace parts",
        "Bombardier and Safran welcomed it.",
        "en",
        set(),
    ),
    (
        "Biden and Trudeau discuss new trade deal with the U.K.",
        "Both leaders met in Ottawa.",
        "en",
        set(),
    ),
    ("Mexico City's new pact with Uber drivers", "The U.S. company agreed on fees.", "en", set()),
    (
        "El nuevo tratado de aguas entre México y Estados Unidos",
        "La CILA negocia la entrega de agua del río Bravo.",
        "es",
        set(),
    ),
    (
        "Trump threatens new trade pact unless Mexico stops migrants",
        "The president said the deal was at risk.",
        "en",
        set(),
    ),
    (
        "Mexico and U.S. sign new trade agreement on sugar",
        "The suspension agreements set export limits.",
        "en",
        set(),
    ),
    (
        "Salinas recuerda cómo se negoció el TLC con Estados Unidos",
        "El expresidente presenta sus memorias.",
        "es",
        set(),
    ),
    (
        "TLC con Colombia: Estados Unidos retoma la negociación",
        "Bogotá pide revisar el capítulo agrícola.",
        "es",
        set(),
    ),
    (
        "Trump dice que México pagará el muro con el nuevo tratado",
        "Los ahorros del acuerdo comercial cubrirán la obra, según el presidente.",
        "es",
        {"border-wall"},
    ),
    (
        "Corn growers recall the pact negotiated under Salinas",
        "NAFTA's 1994 opening flooded Mexico with U.S. grain.",
        "en",
        set(),
    ),
    # steel-tariffs: the metal and the duty in one headline; the war over the metal.
    (
        "Steel imports through the port of Baltimore slide as the new duties take hold",
        "Importers cited the national-security tariffs.",
        "en",
        {"steel-tariffs"},
    ),
    (
        "La guerra por el acero llega a los productores de cerdo",
        "Los porcicultores temen la represalia mexicana.",
        "es",
        {"steel-tariffs"},
    ),
    (
        "Steel stocks lead a broad rally as the Fed holds rates and Trump again delays his tariffs",
        "Investors bought shares across the market.",
        "en",
        set(),
    ),
    (
        "Steel output climbs at Monterrey mills after a quiet winter, while car tariffs dominate"
        " Detroit",
        "Ternium said demand rose.",
        "en",
        set(),
    ),
    ("La guerra de las galaxias: Man of Steel", "Reseña de cine.", "es", set()),
    (
        "Acerinox warns 25% U.S. levy hurts exports from Spain",
        "The company has a plant in Kentucky.",
        "en",
        {"steel-tariffs"},
    ),
    ("Thyssenkrupp elevator unit sold to private equity", "The deal is large.", "en", set()),
    ("Rusal sanctions lifted by U.S. Treasury", "Deripaska cut his stake.", "en", set()),
    # border-wall: the whole line's towns, a side of the line, the headline's wall over the
    # summary's works, the wall's heights; other walls in those towns stay out.
    (
        "Crews raise new bollards east of Naco",
        "Contractors are replacing the old landing-mat fence along the line.",
        "en",
        {"border-wall"},
    ),
    (
        "Vecinos de Sonoyta ven avanzar el muro",
        "Del lado estadounidense, las máquinas trabajan en un nuevo tramo.",
        "es",
        {"border-wall"},
    ),
    (
        "Nuevo Laredo: la barda del lado texano ya llega a la ribera",
        "Los pescadores dicen que perdieron el acceso al río.",
        "es",
        {"border-wall"},
    ),
    (
        "La valla de 30 pies ya cruza el cerro en Tecate",
        "Vecinos la ven desde el centro de la ciudad.",
        "es",
        {"border-wall"},
    ),
    (
        "Muro de escuela en Nogales será reconstruido",
        "La obra costará 300 mil pesos, dijo el alcalde.",
        "es",
        set(),
    ),
    ("Fence around Naco school gets funding", "The district approved money for it.", "en", set()),
    ("Derrumban muro del panteón de Sonoyta", "La reconstrucción costará 2 mdp.", "es", set()),
    (
        "Homeowner's 30-foot garden wall in Texas draws complaints",
        "Neighbors say it blocks the sun.",
        "en",
        set(),
    ),
    (
        "San Luis Potosí: levantan muro en el centro histórico",
        "La obra del ayuntamiento costará dos millones de pesos.",
        "es",
        set(),
    ),
    ("Reynosa: the mayor's new plaza wall", "Construction cost 2 million pesos.", "en", set()),
    ("Climbers scale 30-foot wall at Tucson gym", "The new route opened Monday.", "en", set()),
    (
        "A 30-foot wall of water hits the Rio Grande Valley coast",
        "Hurricane surge flooded Brownsville streets.",
        "en",
        set(),
    ),
    (
        "El muro de la fama del lado mexicano del estadio",
        "Los aficionados de Xolos firmaron.",
        "es",
        set(),
    ),
    (
        "El Paso hospital builds new wall for emergency room",
        "The construction will cost $5 million.",
        "en",
        set(),
    ),
    ("Reynosa: muro de casa se derrumba por lluvias", "La obra era reciente.", "es", set()),
    ("Los texanos levantan un muro en la defensa", "El equipo de Houston ganó.", "es", set()),
]


@pytest.mark.parametrize(("title", "summary", "lang", "want"), ROUND_SIX)
def test_round_six_rules(title: str, summary: str, lang: str, want: set[str]) -> None:
    assert _topics(title, summary, lang) == want


def _run_script(*args: str) -> subprocess.CompletedProcess[str]:
    # Test-only packages are made unimportable, as in the venv `make run` builds.
    blocked = ";".join(f"sys.modules[{name!r}] = None" for name in TEST_ONLY)
    run = "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    code = f"import runpy, sys; {blocked}; {run}"
    cmd = [sys.executable, "-c", code, str(SCRIPT), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)


# The blind set of the next round, written by someone else and merged later: the tests
# tolerate its absence and never read it.
HELDOUT6 = DATA / "topics_heldout6.yaml"


@pytest.mark.slow
def test_quality_script_agrees_and_needs_no_test_packages() -> None:
    done = _run_script("--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    spent = {
        "tuning", "tuning2", "tuning3", "heldout", "heldout2", "heldout3", "heldout4", "heldout5",
    }  # fmt: skip
    assert set(result) == spent | ({"heldout6"} if HELDOUT6.exists() else set())
    assert ("heldout6 left out" in done.stderr) != HELDOUT6.exists()
    for name, source in (("tuning", ITEMS), ("tuning2", ITEMS2), ("tuning3", ITEMS3)):
        for lang in ("en", "es", None):
            for topic, (_p, _r, tp, fp, fn) in scores(lang, source).items():
                got = result[name][topic][lang or "all"]
                assert (got["tp"], got["fp"], got["fn"]) == (tp, fp, fn), (name, topic, lang)
    for name in set(result) - {"tuning", "tuning2", "tuning3"}:
        assert set(result[name]) == set(CONFIG.topics)
        assert all(0.0 <= s["all"]["recall"] <= 1.0 for s in result[name].values())


@pytest.mark.slow
def test_quality_script_never_prints_heldout_items() -> None:
    done = _run_script("--misses")
    assert done.returncode == 0, done.stderr
    # heldout5 is spent (round six tuned on it): its misses print like the tuning sets'.
    assert "| heldout5 |" in done.stdout
    assert _run_script("--set", "heldout5", "--misses").returncode == 0
    listed = {line.split()[0] for line in done.stdout.splitlines() if line[:1].isalpha()}
    assert "heldout6" not in listed
    refused = _run_script("--set", "heldout6", "--misses")
    assert refused.returncode == 2
    assert "| heldout6 |" not in refused.stdout
    if not HELDOUT6.exists():
        assert "not there" in refused.stderr
        return
    assert "never the held-out" in refused.stderr
    assert "| heldout6 |" in done.stdout
    assert not refused.stdout.strip()


@pytest.mark.slow
def test_quality_script_lists_exactly_the_second_tuning_sets_misses() -> None:
    done = _run_script("--set", "tuning2", "--misses")
    assert done.returncode == 0, done.stderr
    listed = {
        (words[2], words[1], words[3])
        for words in (line.split() for line in done.stdout.splitlines())
        if words and words[0] == "tuning2"
    }
    want = set()
    for item in ITEMS2:
        matched = _topics(item["title"], item["summary"], item["lang"])
        for topic in CONFIG.topics:
            hit, labelled = topic in matched, topic in item["topics"]
            if hit != labelled:
                want.add((topic, "fp" if hit else "fn", item["id"]))
    assert listed == want


def test_shipped_border_wall_reads_only_the_lead() -> None:
    lead = "The senator toured a factory, spoke with workers about wages and trade"
    filler = " and then took questions from reporters about the economy for an hour" * 2
    passing = f"{lead}{filler}, saying he still backs Trump's border wall."
    assert "border-wall" not in _topics("Vance tours Ohio factory", passing, "en")
    early = f"He still backs Trump's border wall. {lead}{filler}."
    assert "border-wall" in _topics("Vance tours Ohio factory", early, "en")
