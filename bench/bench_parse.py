"""Parse isolation benchmark: what a parse in a worker process (ingest.isolate.ParsePool, the
daemon's) costs per feed against the in-thread parse it replaced (``asyncio.to_thread`` of
``items.parse_keyed``), on the same feeds in the same run.

The feeds: every real feed in tests/data/corpus/real_feeds, and synthetic 50-item news
feeds (about 100 KB, as bench_poll serves). Each repetition parses every feed both ways,
the order of the two alternating, one feed at a time, from an event loop as the poller
does. Prints one line with the pool's start and the replacement of a killed worker, then
one JSON line per feed set with per-feed medians (ms) and the overhead. A worker's wake-up
is part of the overhead, so it grows with the machine's load (the first line says it).

    python bench/bench_parse.py --repeat 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from tracker.errors import ParseError  # noqa: E402
from tracker.ingest.isolate import InlineParser, ParsePool, Parser  # noqa: E402
from tracker.settings import ParseSettings  # noqa: E402

from feedserver import synthetic_feed  # noqa: E402

LIMITS = ParseSettings()


def real_feeds() -> list[tuple[str, bytes]]:
    folder = ROOT / "tests" / "data" / "corpus" / "real_feeds"
    return [(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file()]


def synthetic(n: int) -> list[tuple[str, bytes]]:
    return [(f"synthetic-{i}", synthetic_feed(i, 50)) for i in range(n)]


async def time_one(parser: Parser, name: str, body: bytes) -> float:
    started = time.perf_counter()
    with contextlib.suppress(ParseError):  # a feed that is not one fails the same way in both
        await parser.parse(body, {"content-type": "application/xml"}, name, LIMITS)
    return time.perf_counter() - started


async def compare(
    pool: ParsePool, feeds: list[tuple[str, bytes]], repeat: int
) -> dict[str, object]:
    inline = InlineParser()
    thread: dict[str, list[float]] = {name: [] for name, _ in feeds}
    worker: dict[str, list[float]] = {name: [] for name, _ in feeds}
    for rep in range(repeat):
        for name, body in feeds:
            pair = [(inline, thread), (pool, worker)]
            for parser, into in pair if rep % 2 == 0 else pair[::-1]:
                into[name].append(await time_one(parser, name, body))
    t = [statistics.median(v) for v in thread.values()]
    w = [statistics.median(v) for v in worker.values()]
    overhead = [b - a for a, b in zip(t, w, strict=True)]
    return {
        "feeds": len(feeds),
        "bytes_median": int(statistics.median(len(b) for _, b in feeds)),
        "repeat": repeat,
        "thread_ms_median": round(statistics.median(t) * 1000, 2),
        "worker_ms_median": round(statistics.median(w) * 1000, 2),
        "overhead_ms_median": round(statistics.median(overhead) * 1000, 2),
        "thread_ms_total": round(sum(t) * 1000, 1),
        "worker_ms_total": round(sum(w) * 1000, 1),
        "overhead_pct_total": round((sum(w) / sum(t) - 1) * 100, 1),
    }


def lifecycle() -> dict[str, object]:
    """The pool's start (forkserver and workers) and a killed worker's replacement."""
    started = time.perf_counter()
    pool = ParsePool(2)
    pool.start()
    start_s = time.perf_counter() - started
    slot = pool._slots[0]
    assert slot.worker is not None
    old = slot.worker
    slot.discard(old)
    started = time.perf_counter()
    slot.take(pool._ctx)
    replace_s = time.perf_counter() - started
    pool.close()
    return {
        "pool_start_ms": round(start_s * 1000, 1),
        "worker_replace_ms": round(replace_s * 1000, 1),
    }


async def run(repeat: int) -> None:
    pool = ParsePool(2)
    await asyncio.to_thread(pool.start)
    try:
        for label, feeds in (("real", real_feeds()), ("synthetic-50", synthetic(20))):
            result = {"set": label, **await compare(pool, feeds, repeat)}
            print(json.dumps(result), flush=True)
    finally:
        pool.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    args, _ = ap.parse_known_args()  # make bench hands every script the same arguments
    # First, while this process has no forkserver yet: what a daemon's start costs.
    print(json.dumps({**lifecycle(), "loadavg_1m": os.getloadavg()[0]}), flush=True)
    asyncio.run(run(args.repeat))


if __name__ == "__main__":
    main()
