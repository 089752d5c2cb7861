"""Poll benchmark: N feeds served by a separate process over loopback, through fetch, parse,
normalise, match and store.

Each repetition is a fresh database: cycle 1 polls N changed 50-item feeds (every item new),
cycle 2 polls them again and every feed answers 304. CPU time is this process's (all threads);
the server's CPU is not counted. Prints one JSON line per N with medians over repetitions.

    python bench/bench_poll.py --feeds 100 1000 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker.config import loader as config_mod  # noqa: E402
from tracker.config.settings import to_settings  # noqa: E402
from tracker.ingest.fetch import make_client  # noqa: E402
from tracker.ingest.hosts import HostLimiter  # noqa: E402
from tracker.ingest.pipeline import Poller  # noqa: E402
from tracker.service.daemon import poll_settings  # noqa: E402
from tracker.service.scheduler import FeedScheduler  # noqa: E402
from tracker.store.facade import Store  # noqa: E402

ITEMS = 50


def start_server(feeds: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "feedserver.py"),
            "--synthetic",
            str(feeds),
            "--items",
            str(ITEMS),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    base = proc.stdout.readline().strip()
    return proc, base


def make_config(base: str, feeds: int, workdir: Path, concurrency: int) -> config_mod.Config:
    # The shipped lists and topics, so matching costs what it costs in real use.
    shipped = (ROOT / "config.yaml").read_text(encoding="utf-8")
    topics = shipped[shipped.index("\nlists:") :]
    lines = [
        f"database: {workdir / 'bench.db'}",
        "defaults: {interval: 15m, jitter: 0s, max_age: 30d}",
        # Every feed is on one loopback host (the feed server): the per-host limit (default 2)
        # is raised to the concurrency, so this measures polls, not politeness.
        f"fetch: {{concurrency: {concurrency}, per_host: {concurrency}, timeout: 60s}}",
        "feeds:",
        *[f"  - url: {base}{n}.xml" for n in range(feeds)],
    ]
    text = "\n".join(lines) + topics
    return config_mod.parse(text, workdir)


async def one_run(cfg: config_mod.Config) -> dict[str, float]:
    store = Store(cfg.database_path)
    store.sync_feeds(cfg.feed_specs(), time.time())
    out: dict[str, float] = {}
    async with make_client(
        timeout_s=60, user_agent="bench", concurrency=cfg.fetch.concurrency
    ) as client:
        sched = FeedScheduler(
            Poller(client, store, poll_settings(to_settings(cfg))),
            store,
            cfg.fetch.concurrency,
            hosts=HostLimiter(cfg.fetch.per_host),
        )
        for label in ("changed", "unchanged"):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            outcomes = await sched.run_once()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            failed = [o for o in outcomes if not o.ok]
            if failed:
                raise SystemExit(f"{len(failed)} feeds failed: {failed[0].error}")
            n = len(outcomes)
            out[f"{label}_cpu_ms_per_feed"] = cpu * 1000 / n
            out[f"{label}_feeds_per_s"] = n / wall
            if label == "changed":
                articles = sum(o.new_articles for o in outcomes)
                assert articles == n * ITEMS, articles
                out["articles_per_s"] = articles / wall
            else:
                assert all(o.not_modified for o in outcomes)
    store.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--feeds", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.child:
        # One process per N, so that peak RSS belongs to that N alone.
        for n in args.feeds:
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    "--feeds",
                    str(n),
                    "--repeat",
                    str(args.repeat),
                    "--concurrency",
                    str(args.concurrency),
                ],
                check=True,
            )
        return
    (n,) = args.feeds
    proc, base = start_server(n)
    try:
        runs = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(asyncio.run(one_run(make_config(base, n, Path(tmp), args.concurrency))))
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)
    result: dict[str, float | int | str] = {
        "bench": "poll",
        "feeds": n,
        "items_per_feed": ITEMS,
        "repeat": args.repeat,
    }
    for key in runs[0]:
        result[key] = round(statistics.median(r[key] for r in runs), 2)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
