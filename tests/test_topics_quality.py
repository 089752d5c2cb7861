"""The shipped topics against a labelled set of 200+ English and Spanish news items."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tracker.config import loader as config_mod
from tracker.models import MatchInput
from tracker.topics.matcher import Matcher

from conftest import DATA, ROOT

CONFIG = config_mod.load(ROOT / "config.yaml")
ITEMS: list[dict[str, Any]] = yaml.safe_load((DATA / "topics_labelled.yaml").read_text("utf-8"))
MATCHER = Matcher.from_topics(CONFIG.topic_specs(), CONFIG.lists)


def _topics(title: str, summary: str = "", lang: str | None = None) -> set[str]:
    doc = MatchInput(title=title, summary=summary, feed="", lang=lang)
    return {hit.topic for hit in MATCHER.match(doc)}


def scores() -> dict[str, tuple[float, float, int, int, int]]:
    """topic → (precision, recall, true positives, false positives, false negatives)."""
    out = {}
    for topic in CONFIG.topics:
        tp = fp = fn = 0
        for item in ITEMS:
            got = topic in _topics(item["title"], item["summary"], item["lang"])
            want = topic in item["topics"]
            tp += got and want
            fp += got and not want
            fn += want and not got
        out[topic] = (tp / max(tp + fp, 1), tp / max(tp + fn, 1), tp, fp, fn)
    return out


def test_the_set_is_big_bilingual_and_hard() -> None:
    assert len(ITEMS) >= 150
    langs = [i["lang"] for i in ITEMS]
    assert langs.count("en") >= 60 and langs.count("es") >= 60
    negatives = [i for i in ITEMS if not i["topics"]]
    assert len(negatives) >= 0.4 * len(ITEMS)


@pytest.mark.parametrize("topic", sorted(CONFIG.topics))
def test_precision_and_recall_floors(topic: str) -> None:
    precision, recall, *_ = scores()[topic]
    assert precision >= 0.95, (topic, precision)
    assert recall >= 0.9, (topic, recall)


@pytest.mark.parametrize(
    ("headline", "topic"),
    [
        ("Trump to impose 25% tariff on steel, 10% on aluminum", "steel-tariffs"),
        ("Concluye la séptima ronda de renegociación del TLCAN", "nafta-rounds"),
        ("Peña Nieto reitera que México no pagará el muro fronterizo", "border-wall"),
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
    ],
)
def test_reference_negatives_do_not_match(headline: str) -> None:
    assert _topics(headline) == set()


if __name__ == "__main__":
    for name, (p, r, tp, fp, fn) in scores().items():
        print(f"{name:15} precision {p:.3f} recall {r:.3f}  (tp {tp}, fp {fp}, fn {fn})")
