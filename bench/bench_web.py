"""Status page benchmark: server time per page at 100,000 articles and 20,000 stories, and
the poll cycle with and without pages being loaded at the same time.

The database is filled with plain SQL into the real schema (200 feeds, 20,000 stories of five
reports, matches, deliveries on two channels). Server time is measured by an outermost
middleware around each request's handler (query in a worker thread plus rendering), on the
daemon's own kind of listener, in this process. The cycle polls 100 changed 50-item feeds
(tests/feedserver.py in another process) into a copy of that database, through the same
event loop that serves the pages; a second process loads pages (5 a second, then back to back)
during the other runs. Prints one JSON line with medians.

    python bench/bench_web.py --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from aiohttp import ClientSession, web  # noqa: E402
from bench_poll import make_config, start_server  # noqa: E402

from tracker.config.settings import to_settings  # noqa: E402
from tracker.ingest.fetch import make_client  # noqa: E402
from tracker.ingest.hosts import HostLimiter  # noqa: E402
from tracker.ingest.pipeline import Poller  # noqa: E402
from tracker.service.daemon import poll_settings  # noqa: E402
from tracker.service.scheduler import FeedScheduler  # noqa: E402
from tracker.service.web.app import StatusPages  # noqa: E402
from tracker.store.facade import Store  # noqa: E402
from tracker.store.sqlite.web import WebReader  # noqa: E402

ARTICLES, STORIES, FEEDS = 100_000, 20_000, 200
TOPICS = ["border-wall", "elections", "energy", "health", "courts"]
WORDS = [
    "wall",
    "border",
    "senate",
    "vote",
    "energy",
    "court",
    "ruling",
    "election",
    "health",
    "budget",
    "river",
    "city",
]
LOADER = """
import sys, time, urllib.request, itertools
base, pause, paths = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
for p in itertools.cycle(paths):
    urllib.request.urlopen(base + p).read()
    time.sleep(pause)
"""


def fill(path: Path, now: float) -> None:
    Store(path).close()  # the schema, migrated
    rnd = random.Random(16)
    db = sqlite3.connect(path)
    db.executemany(
        "INSERT INTO feeds (id, url, name, next_check_at, created_at, last_checked_at,"
        " last_success_at, consecutive_errors, last_error, health) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [
            (
                f,
                f"https://outlet{f}.example/feed",
                f"Outlet {f}",
                now + rnd.uniform(0, 900),
                now - 40 * 86400,
                now - rnd.uniform(0, 900),
                now - rnd.uniform(0, 900),
                1 if f % 20 == 0 else 0,
                "HTTP 500 upstream" if f % 20 == 0 else None,
                "failing" if f % 20 == 0 else "ok",
            )
            for f in range(1, FEEDS + 1)
        ],
    )
    per = ARTICLES // STORIES
    span = 30 * 86400
    stories, articles, entries, matches, deliveries = [], [], [], [], []
    for s in range(1, STORIES + 1):
        t0 = now - span * (1 - s / STORIES)
        head = " ".join(rnd.choice(WORDS) for _ in range(8))
        stories.append((s, head, t0, t0, t0 + 3600))
        for k in range(per):
            a = (s - 1) * per + k + 1
            feed = rnd.randint(1, FEEDS)
            seen = t0 + k * 600
            body = " ".join(rnd.choice(WORDS) for _ in range(60))
            articles.append(
                (
                    a,
                    f"https://outlet{feed}.example/{a}",
                    f"https://outlet{feed}.example/{a}",
                    f"{head} {k}",
                    body[:200],
                    body,
                    seen,
                    seen,
                    "en",
                    feed,
                    s,
                    None if k == 0 else "near",
                    None if k == 0 else 0.8,
                )
            )
            entries.append((feed, f"e{a}", a, seen, f"{head} {k}", "en"))
            if s % 4 == 0 and k < 2:
                m = len(matches) + 1
                topic = TOPICS[s % len(TOPICS)]
                matches.append((m, a, topic, '["wall"]', "the **wall**", int(k == 0), seen, s))
                if k == 0:
                    for ch in ("mail", "hook"):
                        status = "sent" if rnd.random() < 0.9 else rnd.choice(["pending", "dead"])
                        deliveries.append((m, ch, f"{ch}-{m}", status, seen, seen, 1, seen))
    db.executemany("INSERT INTO stories VALUES (?,?,?,?,?)", stories)
    db.executemany(
        "INSERT INTO articles (id, canonical_url, url, title, summary, content, published_at,"
        " first_seen_at, lang, feed_id, story_id, join_kind, join_score)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        articles,
    )
    db.executemany(
        "INSERT INTO entries (feed_id, entry_key, article_id, seen_at, title, lang)"
        " VALUES (?,?,?,?,?,?)",
        entries,
    )
    db.executemany(
        "INSERT INTO matches (id, article_id, topic, terms, snippet, alert, created_at, story_id)"
        " VALUES (?,?,?,?,?,?,?,?)",
        matches,
    )
    db.executemany(
        "INSERT INTO deliveries (match_id, channel, idempotency_key, status, not_before,"
        " next_attempt_at, attempts, created_at) VALUES (?,?,?,?,?,?,?,?)",
        deliveries,
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()


def app_with_timing(pages: StatusPages, times: dict[str, list[float]]) -> web.Application:
    @web.middleware
    async def timing(request: web.Request, handler: Any) -> web.StreamResponse:
        t0 = time.perf_counter()
        try:
            return await handler(request)  # type: ignore[no-any-return]
        finally:
            times.setdefault(request.path_qs, []).append((time.perf_counter() - t0) * 1000)

    app = web.Application(middlewares=[timing])
    pages.add_routes(app)
    return app


def page_paths(reader: WebReader) -> list[str]:
    first = reader.stories(None, 50)
    last = first[-1]
    return [
        "/",
        "/stories",
        f"/stories?before={last.last_seen!r}:{last.id}",
        f"/stories/{first[0].id}",
        f"/stories/{STORIES // 2}",
        "/feeds",
        "/feeds?offset=150",
        "/alerts",
        "/alerts?topic=border-wall&channel=hook&status=pending",
        "/alerts?status=dead",
        "/query?q=wall+AND+senate&days=7",
        "/query?q=river+AND+city&days=30",
    ]


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


async def page_times(db: Path, repeat: int) -> dict[str, dict[str, float]]:
    times: dict[str, list[float]] = {}
    reader = WebReader(db)
    runner, base = await serve(app_with_timing(StatusPages(reader), times))
    paths = page_paths(reader)
    try:
        async with ClientSession() as client:
            for _ in range(repeat):
                for p in paths:
                    async with client.get(base + p) as r:
                        assert r.status == 200, (p, r.status, await r.text())
                        await r.read()
    finally:
        await runner.cleanup()
    return {
        p: {"median_ms": round(statistics.median(v), 1), "max_ms": round(max(v), 1)}
        for p, v in times.items()
    }


async def cycle(db: Path, feeds_base: str, workdir: Path, with_pages: str) -> float:
    cfg = make_config(feeds_base, 100, workdir, 20)
    cfg = cfg.model_copy(update={"database": db})
    store = Store(db)
    store.sync_feeds(cfg.feed_specs(), time.time())
    times: dict[str, list[float]] = {}
    reader = WebReader(db)
    runner, base = await serve(app_with_timing(StatusPages(reader), times))
    loader = None
    if with_pages:
        paths = [p for p in page_paths(reader) if not p.startswith("/query")]
        pause = "0" if with_pages == "flood" else "0.2"
        loader = subprocess.Popen([sys.executable, "-c", LOADER, base, pause, *paths])
        await asyncio.sleep(1.0)  # the loader is running
    try:
        async with make_client(timeout_s=60, user_agent="bench", concurrency=20) as client:
            poller = Poller(client, store, poll_settings(to_settings(cfg)))
            # All feeds are on one loopback server: the per-host limit is raised to the
            # global one (20), so the benchmark measures the web pages, not politeness.
            sched = FeedScheduler(poller, store, 20, hosts=HostLimiter(per_host=20))
            t0 = time.perf_counter()
            outcomes = await sched.run_once()
            wall = time.perf_counter() - t0
        assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok][:1]
        assert sum(o.new_articles for o in outcomes) == 100 * 50
    finally:
        if loader is not None:
            loader.kill()
            loader.wait()
        await runner.cleanup()
        store.close()
    served = sum(len(v) for v in times.values())
    if with_pages:
        assert served > 0, "no page was served during the cycle"
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base_db = Path(tmp) / "base.db"
        t0 = time.perf_counter()
        fill(base_db, time.time())
        fill_s = time.perf_counter() - t0
        pages = asyncio.run(page_times(base_db, max(args.repeat * 3, 9)))
        proc, feeds_base = start_server(100)
        # alone; with a user loading 5 pages a second; with pages loaded back to back.
        cycles: dict[str, list[float]] = {"": [], "5/s": [], "flood": []}
        try:
            for _ in range(args.repeat):
                for label in cycles:
                    db = Path(tmp) / "cycle.db"
                    shutil.copy(base_db, db)
                    wall = asyncio.run(cycle(db, feeds_base, Path(tmp), label))
                    cycles[label].append(wall)
                    db.unlink()
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=10)
    worst = max(v["median_ms"] for v in pages.values())
    print(
        json.dumps(
            {
                "bench": "web",
                "articles": ARTICLES,
                "stories": STORIES,
                "feeds": FEEDS,
                "fill_s": round(fill_s, 1),
                "pages": pages,
                "worst_page_median_ms": worst,
                "cycle_100_feeds_alone_s": round(statistics.median(cycles[""]), 2),
                "cycle_with_5_pages_per_s_s": round(statistics.median(cycles["5/s"]), 2),
                "cycle_with_pages_back_to_back_s": round(statistics.median(cycles["flood"]), 2),
                "cycles": {k or "alone": [round(x, 2) for x in v] for k, v in cycles.items()},
            },
            indent=1,
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
