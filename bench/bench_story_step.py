"""Benchmark the story step around the index: storing one article with its story in the
ingest transaction (index find, the article's INSERT with its story and features, the
story's row), the index rebuild at start from the stored window (decoding the features
stored with each article), the same rebuild with no features stored (the first start after
migration v10: every report extracted) and its write-back, and the index's memory after the
rebuild.

The index measured is the one the pipeline runs (``tracker.stories.index.StoryIndex``:
the canonical URL, near-duplicates within a language, entities across languages), through
``tracker.ingest.stories``. Synthetic, seeded articles: titles of 8-12 words from a
20,000-word vocabulary, every fifth one a copy of an earlier title (a reprint), published
over 72 hours, stored in one SQLite file (WAL), 500 per transaction as the pipeline does.
Prints medians of several repetitions.

    python bench/bench_story_step.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker.ingest.stories import StoryStep, rebuild
from tracker.models import Article, FeedSpec
from tracker.store.facade import Store

SEED = 20261202
WINDOW_S = 72 * 3600.0


def articles(n: int, now: float) -> list[Article]:
    rng = random.Random(SEED)
    vocab = [f"w{i}" for i in range(20_000)]
    titles: list[str] = []
    out = []
    for i in range(n):
        if titles and rng.random() < 0.2:
            title = rng.choice(titles).upper()  # a reprint: identical after folding
        else:
            title = " ".join(rng.choices(vocab, k=rng.randint(8, 12)))
            titles.append(title)
        published = now - WINDOW_S + (i / n) * (WINDOW_S - 60)
        out.append(
            Article(
                entry_key=f"k{i}",
                url=f"https://n{i % 50}.example/{i}?utm_source=rss",
                canonical_url=f"https://n{i % 50}.example/{i}",
                title=title,
                summary=title + " summary text of the article",
                content="",
                published_at=datetime.fromtimestamp(published, UTC),
                lang="en",
            )
        )
    return out


def fill(store: Store, feed: int, items: list[Article], now: float) -> list[float]:
    """Store every article with its story, 500 per transaction; seconds per article."""
    step = StoryStep(rebuild(store, WINDOW_S, now))
    timings = []
    for i in range(0, len(items), 500):
        chunk = items[i : i + 500]
        assign_s = 0.0
        with step.transaction(store, now):
            for a in chunk:
                t0 = time.perf_counter()
                step.add_entry(store, feed, a, now)
                assign_s += time.perf_counter() - t0
        timings.append(assign_s / len(chunk))
    return timings


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10,000 articles, not 100,000")
    args = parser.parse_args()
    n = 10_000 if args.quick else 100_000
    now = time.time()
    items = articles(n, now)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        store.sync_feeds([FeedSpec("https://bench.example/feed", "bench", 600)], now)
        (feed,) = store.pollable_feeds(now + 10_000)
        per_article = fill(store, feed.id, items, now)
        # The last tenth: the index (and the tables) are at their full size.
        tail = per_article[len(per_article) * 9 // 10 :]
        stories = store.count("stories")
        rebuilds = []
        for _ in range(3):
            gc.collect()
            t0 = time.perf_counter()
            index = rebuild(store, WINDOW_S, now)
            rebuilds.append(time.perf_counter() - t0)
            del index
        gc.collect()
        tracemalloc.start()
        index = rebuild(store, WINDOW_S, now)
        size, _peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # The first start after v10: no features stored, every report extracted at the
        # rebuild, then written back after the first commit.
        store.db.execute("UPDATE articles SET features = NULL, features_key = NULL")
        gc.collect()
        step = StoryStep.deferred(store, WINDOW_S)
        t0 = time.perf_counter()
        step.ready(now)
        extract_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        written = 0  # each commit writes for a bounded time; as many as the window needs
        while batch := step.write_back(store, now):
            written += batch
        write_back_s = time.perf_counter() - t0
        store.close()
    print(f"articles {n:,}, stories {stories:,}, reports in the index {len(index):,}")
    print(
        f"store with its story (add_entry: index find + article and story rows), last 10%:"
        f" median"
        f" {statistics.median(tail) * 1000:.3f} ms/article (target <= 0.2 ms at 100,000)"
    )
    print(
        f"rebuild from the store: median {statistics.median(rebuilds):.2f} s over 3"
        f" (target <= 5 s for 100,000)"
    )
    print(f"index memory after rebuild: {size / 1e6:.1f} MB (target <= 100 MB)")
    print(
        f"first start after v10 (no stored features): rebuild {extract_s:.2f} s, then"
        f" {written:,} rows written back in {write_back_s:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
