"""Cost of the story index: assignment time, rebuild time and memory at 100,000 stories.

Synthetic but news-shaped reports, fully seeded: real English and Spanish words drawn by
their frequency (wordfreq's lists, Zipf-like), a few invented names per report (rare words,
as names are), headlines of ~10 words and summaries of ~35, published over 72 hours; one
report in five is a wire copy of an earlier one (an outlet suffix, a word dropped), so
``find`` meets real candidates. Measures, each over several repetitions, medians reported:

- ``assign_ms``: one ``find`` plus its ``add`` with 100,000 stories in the window
  (target <= 0.2 ms);
- ``rebuild_s``: the index rebuilt at start over 100,000 stored reports, from the features
  stored with them (``ingest.stories.fill``: decoded, ``stories/codec.py``; target <= 5 s);
- ``extract_rebuild_s``: the same rebuild with no features stored (the first start after
  the v10 migration, or after an extraction change): every report extracted again, and
  encoded to be written back;
- ``index_mb``: memory the index rebuilt from stored features holds (tracemalloc, the
  shared word lists loaded before; target <= 100 MB), and the process RSS growth for
  comparison; ``extract_index_mb``: the same for the index the extracting rebuild built.

The reports are held in memory as the store's rows (``ReportRow``, with their encoded
features), so the figures leave out reading them from SQLite (``bench_story_step.py``
measures the rebuild from a database file).

Times are CPU time of this process (``time.process_time``): the machine is shared, and
wall time under load measures the neighbours. ``reference_ms`` times a fixed workload
(splitting 20,000 reports into words) in the same run, to compare runs made under
different loads.

    python bench/bench_stories.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wordfreq import get_frequency_dict

from tracker.ingest.stories import fill
from tracker.store.facade import ReportRow
from tracker.stories.codec import encode
from tracker.stories.index import Report, StoryIndex
from tracker.stories.rarity import default_rarity
from tracker.text import split_words

WINDOW = 72 * 3600.0
START = 1_600_000_000.0
TARGETS = {"assign_ms": 0.2, "rebuild_s": 5.0, "index_mb": 100.0}


class Corpus:
    """Seeded news-shaped text."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words: dict[str, tuple[list[str], list[float]]] = {}
        for lang in ("en", "es"):
            freqs = get_frequency_dict(lang, wordlist="small")
            words = list(freqs)[:20000]
            self.words[lang] = (words, [freqs[w] for w in words])
        syllables = ["ka", "ro", "mi", "ne", "zu", "ta", "vel", "gor", "an", "is", "dre", "po"]
        self.names = [
            "".join(self.rng.choices(syllables, k=self.rng.randint(2, 4))).capitalize()
            for _ in range(30000)
        ]

    def text(self, lang: str, count: int) -> str:
        words, weights = self.words[lang]
        out = self.rng.choices(words, weights, k=count)
        for _ in range(max(1, count // 8)):
            out.insert(self.rng.randrange(len(out) + 1), self.rng.choice(self.names))
        return " ".join(out)

    def reports(self, count: int, first_key: int = 0) -> list[Report]:
        out: list[Report] = []
        for n in range(count):
            key = first_key + n
            at = START + WINDOW * n / count
            if out and self.rng.random() < 0.2:
                original = self.rng.choice(out[-500:])
                words = original.title.split()
                del words[self.rng.randrange(len(words))]
                title = " ".join(words) + " | Wire"
                out.append(Report(key, title, original.text, original.lang, at, None))
                continue
            lang = "en" if self.rng.random() < 0.6 else "es"
            out.append(
                Report(
                    key,
                    self.text(lang, 10),
                    self.text(lang, 35),
                    lang,
                    at,
                    f"https://outlet{key % 50}.example/{key}",
                )
            )
        return out


def _rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rows(reports: list[Report], *, features: bool) -> list[ReportRow]:
    """The reports as the store gives them back: with the features each one's INSERT
    stored (extracted by another index, as the process that stored them did), or none."""
    weigher = StoryIndex().weigher
    key = weigher.key
    out = []
    for r in reports:
        text = encode(weigher.extract(r.title, r.text, r.lang)) if features else None
        out.append(
            ReportRow(r.key, r.title, r.text, r.lang, r.published_at, r.canonical_url, r.key,
                      text, key if features else None)
        )  # fmt: skip
    return out


def _rebuilt(stored: list[ReportRow]) -> StoryIndex:
    loaded = fill(StoryIndex(WINDOW), stored)
    assert loaded.decoded == (len(stored) if stored[0].features is not None else 0)
    return loaded.index


def _memory(stored: list[ReportRow]) -> tuple[StoryIndex, float, float]:
    """An index rebuilt from ``stored``, the MB it holds (tracemalloc) and the RSS growth."""
    gc.collect()
    rss_before = _rss_kb()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index = _rebuilt(stored)
    gc.collect()
    index_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return index, index_bytes / 1e6, (_rss_kb() - rss_before) / 1024


def measure(size: int, probes: int, repeats: int, seed: int = 7) -> dict[str, float]:
    corpus = Corpus(seed)
    reports = corpus.reports(size)
    stored = rows(reports, features=True)
    bare = rows(reports, features=False)
    default_rarity()
    # Loads the word lists (shared by every index) before measuring. The per-word memos are
    # each index's own, so every rebuild below starts cold, as a start does.
    _rebuilt(bare[:2000])

    rebuilds: list[float] = []
    extract_rebuilds: list[float] = []
    for _ in range(repeats):
        for source, times in ((stored, rebuilds), (bare, extract_rebuilds)):
            gc.collect()
            began = time.process_time()
            index = _rebuilt(source)
            times.append(time.process_time() - began)
            del index

    index, extract_mb, _ = _memory(bare)
    del index, bare
    index, index_mb, rss_growth_mb = _memory(stored)
    # The rows (and their encoded features) go before the assignments are timed: this
    # process then holds what the one rebuilding from reports held, and no more.
    del stored
    gc.collect()

    # New arrivals, a fifth of them copies of stored reports, timed in batches of 100.
    arrivals = corpus.reports(probes * repeats, first_key=size)
    for n, report in enumerate(arrivals):
        if n % 5 == 0:
            source = reports[corpus.rng.randrange(size - 5000, size)]
            arrivals[n] = Report(
                report.key, source.title + " - AP", source.text, source.lang, START + WINDOW, None
            )
    batches = []
    joined = 0
    for start in range(0, len(arrivals), 100):
        batch = arrivals[start : start + 100]
        began = time.process_time()
        for report in batch:
            found = index.find(report)
            index.add(report, found.story if found is not None else report.key)
            joined += found is not None
        batches.append((time.process_time() - began) / len(batch) * 1000)
    # A fixed pure-Python workload timed alongside: on a loaded machine every figure above
    # grows with it, so ratios to it compare runs.
    began = time.process_time()
    for report in reports[:20000]:
        split_words(report.title + " " + report.text)
    reference_ms = (time.process_time() - began) * 1000
    return {
        "stories": size,
        "assign_ms": statistics.median(batches),
        "assign_ms_p90": sorted(batches)[int(len(batches) * 0.9)],
        "joined_share": joined / len(arrivals),
        "rebuild_s": statistics.median(rebuilds),
        "extract_rebuild_s": statistics.median(extract_rebuilds),
        "index_mb": index_mb,
        "extract_index_mb": extract_mb,
        "rss_growth_mb": rss_growth_mb,
        "postings": len(index._postings),
        "reference_ms": reference_ms,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10,000 stories, fewer probes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    size, probes, repeats = (10_000, 500, 2) if args.quick else (100_000, 2000, 3)
    result = measure(size, probes, repeats)
    if args.json:
        print(json.dumps({k: round(v, 4) for k, v in result.items()}))
    else:
        for key, value in result.items():
            target = TARGETS.get(key)
            mark = (
                ""
                if target is None
                else (f"  (target <= {target}: " + ("ok)" if value <= target else "MISSED)"))
            )
            print(f"{key:<16}{value:>12.4f}{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
