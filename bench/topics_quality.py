"""Precision and recall of the configured topics on the labelled sets, per topic and language.

    .venv/bin/python bench/topics_quality.py                 # every set present, config.yaml
    .venv/bin/python bench/topics_quality.py --config old.yaml --json
    .venv/bin/python bench/topics_quality.py --misses        # the tuning sets' misses
    .venv/bin/python bench/topics_quality.py --set tuning2 --misses

Needs only the runtime install (``make run``'s venv), not pytest. Nine sets, each
reported on its own (a set whose file is absent is left out, with a note on stderr):

- ``tuning``: tests/data/topics_labelled.yaml, the first set the queries are tuned on;
- ``tuning2``: tests/data/topics_tuning2.yaml, a second tuning set written by someone who
  saw neither the queries nor the held-out set (hard paraphrases and hard negatives);
- ``tuning3``: tests/data/topics_tuning3.yaml (see topics_tuning3.md), a third tuning set
  written blind to the queries and to the other sets;
- ``heldout``: tests/data/topics_heldout.yaml (see topics_heldout.md), for measuring only.
  Its misses are never printed, so that tuning on it cannot happen by accident.
- ``heldout2``: tests/data/topics_heldout2.yaml (see topics_heldout2.md), a second held-out
  set written blind to the queries and to the other sets, also for measuring only.
- ``heldout3``: tests/data/topics_heldout3.yaml (see topics_heldout3.md), a third held-out
  set, written by the writer of tuning3 and sharing no item with it.
- ``heldout4``: tests/data/topics_heldout4.yaml (see topics_heldout4.md), a fourth held-out
  set written blind to the queries, measured once with round four's queries.
- ``heldout5``: tests/data/topics_heldout5.yaml (see topics_heldout5.md), a fifth held-out
  set written blind to the queries, measured once with round four's and round five's queries.
- ``heldout6``: tests/data/topics_heldout6.yaml, a sixth held-out set written blind to the
  queries; for measuring only. Its misses are never printed, so that tuning on it cannot
  happen by accident. Left out, with a note, while its file is absent.

``heldout`` to ``heldout5`` are spent: each was measured against a round's queries, and a
later round (four for the first three, five for ``heldout4``, six for ``heldout5``) tuned on
them, so their misses print like the tuning sets' and only ``heldout6`` still measures
queries that never saw it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from tracker.config import loader
from tracker.models import MatchInput
from tracker.topics.matcher import Matcher

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SETS = {
    "tuning": DATA / "topics_labelled.yaml",
    "tuning2": DATA / "topics_tuning2.yaml",
    "tuning3": DATA / "topics_tuning3.yaml",
    "heldout": DATA / "topics_heldout.yaml",
    "heldout2": DATA / "topics_heldout2.yaml",
    "heldout3": DATA / "topics_heldout3.yaml",
    "heldout4": DATA / "topics_heldout4.yaml",
    "heldout5": DATA / "topics_heldout5.yaml",
    "heldout6": DATA / "topics_heldout6.yaml",
}
# The sets whose misses may be printed: the tuning sets and the spent held-out ones, never
# the held-out set that is still blind.
TUNING = (
    "tuning", "tuning2", "tuning3", "heldout", "heldout2", "heldout3", "heldout4", "heldout5",
)  # fmt: skip
LANGS = ("en", "es", "all")


@dataclass(frozen=True)
class Score:
    """One topic on one set and language: counts, and the ratios they give."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass(frozen=True)
class Miss:
    """An item the topic got wrong: ``kind`` is ``fp`` (matched, not labelled) or ``fn``."""

    set: str
    topic: str
    kind: str
    id: str
    lang: str
    title: str
    summary: str


def load_items(path: Path) -> list[dict[str, Any]]:
    """A labelled set: a YAML list of items with lang, title, summary and topics."""
    items = yaml.safe_load(path.read_text("utf-8"))
    assert isinstance(items, list)
    return items


def predict(matcher: Matcher, items: Iterable[Mapping[str, Any]]) -> list[set[str]]:
    """The topics each item matches, as the daemon would see it (title and summary)."""
    out = []
    for item in items:
        doc = MatchInput(title=item["title"], summary=item["summary"], lang=item["lang"])
        out.append({hit.topic for hit in matcher.match(doc, explain=False)})
    return out


def score(
    topics: Sequence[str], items: Sequence[Mapping[str, Any]], got: Sequence[set[str]]
) -> dict[str, dict[str, Score]]:
    """topic → language (en, es, all) → Score."""
    out: dict[str, dict[str, Score]] = {}
    for topic in topics:
        out[topic] = {}
        for lang in LANGS:
            tp = fp = fn = 0
            for item, matched in zip(items, got, strict=True):
                if lang != "all" and item["lang"] != lang:
                    continue
                hit, want = topic in matched, topic in item["topics"]
                tp += hit and want
                fp += hit and not want
                fn += want and not hit
            out[topic][lang] = Score(tp, fp, fn)
    return out


def misses(
    set_name: str,
    topics: Sequence[str],
    items: Sequence[Mapping[str, Any]],
    got: Sequence[set[str]],
) -> list[Miss]:
    """Every false positive and false negative of a tuning set, topic by topic."""
    if set_name not in TUNING:
        raise ValueError(f"{set_name} is not a tuning set: its misses are never listed")
    out = []
    for topic in topics:
        for item, matched in zip(items, got, strict=True):
            hit, want = topic in matched, topic in item["topics"]
            if hit != want:
                kind = "fp" if hit else "fn"
                fields = (item["id"], item["lang"], item["title"], item["summary"])
                out.append(Miss(set_name, topic, kind, *fields))
    return out


def measure(config: Path, sets: Sequence[str]) -> dict[str, dict[str, dict[str, Score]]]:
    """set name → topic → language → Score, for the topics of ``config``."""
    cfg = loader.load(config)
    matcher = Matcher.from_topics(cfg.topic_specs(), cfg.lists)
    topics = list(cfg.topics)
    out = {}
    for name in sets:
        items = load_items(SETS[name])
        out[name] = score(topics, items, predict(matcher, items))
    return out


def table(results: Mapping[str, Mapping[str, Mapping[str, Score]]]) -> str:
    """A Markdown table: one row per set and topic, P/R per language."""
    head = "| set | topic | " + " | ".join(f"P {x} | R {x}" for x in LANGS) + " | tp/fp/fn (all) |"
    lines = [head, "|" + "---|" * (3 + 2 * len(LANGS))]
    for set_name, by_topic in results.items():
        for topic, by_lang in by_topic.items():
            cells = " | ".join(
                f"{by_lang[x].precision:.2f} | {by_lang[x].recall:.2f}" for x in LANGS
            )
            a = by_lang["all"]
            lines.append(f"| {set_name} | {topic} | {cells} | {a.tp}/{a.fp}/{a.fn} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--set", choices=[*SETS, "all"], default="all")
    parser.add_argument("--json", action="store_true", help="scores as JSON")
    parser.add_argument(
        "--misses", action="store_true", help="list the tuning sets' misses (never the held-out)"
    )
    args = parser.parse_args(argv)
    sets = list(SETS) if args.set == "all" else [args.set]
    absent = [name for name in sets if not SETS[name].exists()]
    if args.set != "all" and absent:
        parser.error(f"{args.set}: {SETS[args.set]} is not there (yet)")
    for name in absent:
        print(f"note: {name} left out: {SETS[name]} is not there (yet)", file=sys.stderr)
    sets = [name for name in sets if name not in absent]
    if args.misses and not any(name in TUNING for name in sets):
        parser.error("--misses lists the tuning sets' misses only, never the held-out set's")
    results = measure(args.config, sets)
    if args.json:
        plain = {
            s: {t: {x: {**asdict(sc), "precision": sc.precision, "recall": sc.recall}
                    for x, sc in by_lang.items()} for t, by_lang in by_topic.items()}
            for s, by_topic in results.items()
        }  # fmt: skip
        print(json.dumps(plain, indent=1))
    else:
        print(table(results))
    if args.misses:
        cfg = loader.load(args.config)
        matcher = Matcher.from_topics(cfg.topic_specs(), cfg.lists)
        for name in (x for x in sets if x in TUNING):
            items = load_items(SETS[name])
            for miss in misses(name, list(cfg.topics), items, predict(matcher, items)):
                print(
                    f"\n{miss.set} {miss.kind} {miss.topic} {miss.id} ({miss.lang}): {miss.title}"
                )
                print(f"    {miss.summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
