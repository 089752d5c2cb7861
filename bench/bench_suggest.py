"""`topics suggest` ranking cost: the pure ranking over N missed reports against a background
of M articles (the CLI caps the background at 20,000), texts drawn from the words of the real
feed items in ../shared/corpus/real_feeds (or a fixed vocabulary when that is absent).
Prints the median wall time of ``--rounds`` runs.

    python bench/bench_suggest.py [--missed 200] [--background 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from tracker.text import split_words
from tracker.topics.query import parse
from tracker.topics.suggest import Missed, suggest, used_terms

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "real_feeds"


def _vocabulary() -> list[str]:
    words: list[str] = []
    if CORPUS.is_dir():
        for path in sorted(CORPUS.iterdir()):
            words += split_words(path.read_text(encoding="utf-8", errors="replace"))
    return words or [f"w{i}" for i in range(5000)]


def _doc(rng: random.Random, vocab: list[str]) -> tuple[str, str]:
    return " ".join(rng.choices(vocab, k=10)), " ".join(rng.choices(vocab, k=45))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--missed", type=int, default=200)
    ap.add_argument("--background", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    rng = random.Random(15)
    vocab = _vocabulary()
    missed = [Missed(*_doc(rng, vocab)) for _ in range(args.missed)]
    background = [_doc(rng, vocab) for _ in range(args.background)]
    used = used_terms(parse('NAFTA OR TLCAN OR "libre comercio" OR negociaci*'))
    times = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        found = suggest(missed, background, used)
        times.append(time.perf_counter() - start)
    print(
        f"missed={args.missed} background={args.background} vocabulary={len(set(vocab))}"
        f" terms={len(found)} median={statistics.median(times):.3f}s"
        f" min={min(times):.3f}s max={max(times):.3f}s"
    )


if __name__ == "__main__":
    main()
