"""Delivery benchmark: alerts/s to a local SMTP server and webhook receiver (each in its own
process), and latency from article stored to alert accepted with the daemon running.

    python bench/bench_delivery.py [--alerts 500] [--latency-runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from tracker.config import loader as config_mod  # noqa: E402
from tracker.config.settings import to_settings  # noqa: E402
from tracker.ingest.fetch import make_client  # noqa: E402
from tracker.ingest.pipeline import Poller  # noqa: E402
from tracker.models import Article, FeedSpec, Route, TopicHit  # noqa: E402
from tracker.service.daemon import make_dispatcher, poll_settings  # noqa: E402
from tracker.service.scheduler import FeedScheduler, OutboxWaker  # noqa: E402
from tracker.store.facade import Store  # noqa: E402

from feedserver import FeedServer  # noqa: E402
from rss import Item, rss  # noqa: E402
from webhookserver import start_receiver  # noqa: E402

SERVE = """
import sys, time
sys.path.insert(0, {tests!r})
from smtpserver import SMTPServer
from webhookserver import start_receiver
smtp = SMTPServer().start()
hook = start_receiver()
print(smtp.port, hook.url, flush=True)
sys.stdin.read()
"""


def start_receivers() -> tuple[subprocess.Popen[str], int, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE.format(tests=str(ROOT / "tests"))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port, url = proc.stdout.readline().split()
    return proc, int(port), url


def channels_yaml(port: int, url: str) -> str:
    return (
        "channels:\n"
        f"  mail:\n    type: email\n    host: 127.0.0.1\n    port: {port}\n"
        "    security: none\n    from: t@example.org\n    to: [d@example.org]\n"
        f"  hook:\n    type: webhook\n    url: {url}\n    secret: bench\n"
    )


def fill(store: Store, n: int, channel: str) -> None:
    store.sync_feeds([FeedSpec("https://bench.example/rss", "bench", 60)], now=0)
    (feed,) = store.pollable_feeds(0)
    now = time.time()
    with store.transaction():
        for i in range(n):
            art = Article(
                f"k{channel}{i}",
                f"https://b.example/{channel}/{i}",
                f"https://b.example/{channel}/{i}",
                f"Steel tariffs story {i}",
                "Summary " * 40,
                "",
                None,
                "en",
            )
            aid, _ = store.add_entry(feed.id, art, now)
            (m,) = store.add_matches(aid, [TopicHit("steel", ("steel",), "**steel**")], True, now)
            store.add_delivery(m.match_id, f"bench-{channel}-{i}", Route(channel, False, now), now)


async def throughput(cfg: config_mod.Config, channel: str, n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "b.db")
        fill(store, n, channel)
        dispatcher = make_dispatcher(to_settings(cfg), store)
        started = time.perf_counter()
        sent = 0
        while sent < n:
            summary = await dispatcher.run_due(limit=100)
            if summary.retrying or summary.dead:
                raise SystemExit(f"{channel}: {summary.errors[:3]}")
            sent += summary.sent
        elapsed = time.perf_counter() - started
        await dispatcher.aclose()
        store.close()
    return n / elapsed


async def latency(runs: int) -> list[float]:
    """Seconds from the article's commit (first_seen_at) to the receiver's acceptance."""
    hook = start_receiver()
    items = [Item("Old", "https://l.example/old", "old")]
    out = []
    with FeedServer() as feeds, tempfile.TemporaryDirectory() as tmp:
        url = feeds.add("/l.xml", rss(items))
        cfg = config_mod.parse(
            f"database: {tmp}/l.db\ndefaults: {{interval: 1s, jitter: 0s}}\n"
            f"feeds:\n  - url: {url}\n"
            "topics:\n  steel:\n    query: steel\n"
            f"channels:\n  hook:\n    type: webhook\n    url: {hook.url}\n",
            Path(tmp),
        )
        store = Store(cfg.database_path)
        store.sync_feeds(cfg.feed_specs(), time.time())
        async with make_client(timeout_s=10, user_agent="b", concurrency=4) as client:
            settings = to_settings(cfg)
            waker = OutboxWaker()  # the poller wakes the outbox once it queued an alert
            sched = FeedScheduler(
                Poller(client, store, poll_settings(settings), on_deliveries=waker),
                store,
                4,
                dispatcher=make_dispatcher(settings, store),
                waker=waker,
            )
            sched.start()
            await asyncio.sleep(1.5)  # baseline poll
            for i in range(runs):
                items.insert(0, Item(f"Steel news {i}", f"https://l.example/{i}", f"n{i}"))
                feeds.add("/l.xml", rss(items))
                deadline = time.monotonic() + 10
                while len(hook.accepted()) <= i and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)
                accepted_at = time.time()
                (stored,) = store.query(
                    "SELECT first_seen_at FROM articles WHERE url = ?", [f"https://l.example/{i}"]
                )
                out.append(accepted_at - stored[0])
            await sched.stop()
            if sched.dispatcher is not None:
                await sched.dispatcher.aclose()
        store.close()
    hook.http.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--alerts", type=int, default=500)
    ap.add_argument("--latency-runs", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    proc, port, url = start_receivers()
    try:
        cfg = config_mod.parse(channels_yaml(port, url), ROOT)
        result: dict[str, object] = {"bench": "delivery", "alerts": args.alerts}
        for channel in ("mail", "hook"):
            rates = [asyncio.run(throughput(cfg, channel, args.alerts)) for _ in range(args.repeat)]
            result[f"{channel}_alerts_per_s"] = round(statistics.median(rates), 1)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)
    lat = sorted(asyncio.run(latency(args.latency_runs)))
    result["latency_median_ms"] = round(statistics.median(lat) * 1000, 1)
    result["latency_p95_ms"] = round(lat[int(len(lat) * 0.95) - 1] * 1000, 1)
    result["latency_max_ms"] = round(lat[-1] * 1000, 1)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
