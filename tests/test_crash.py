"""SIGKILL the daemon at random moments while it delivers; nothing is lost, and the only
repeats are deliveries that were in flight, carrying a key the receiver has already seen."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from feedserver import FeedServer
from rss import Item, rss
from webhookserver import start_receiver

# Every test here runs tracker as a subprocess (make test-fast skips them).
pytestmark = pytest.mark.slow

ALERTS = 40
KILLS = 20


def _start(cfg: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tracker", "--config", str(cfg), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_sigkill_during_delivery_loses_nothing(feed_server: FeedServer, tmp_path: Path) -> None:
    rng = random.Random(20261128)
    hook = start_receiver()
    hook.delay_s = 0.03  # each delivery takes a moment, so kills land mid-batch
    try:
        items = [
            Item(f"Border wall story {i}", f"https://n.example/{i}", f"s{i}") for i in range(ALERTS)
        ]
        url = feed_server.add("/crash.xml", rss(items))
        cfg = tmp_path / "config.yaml"
        cfg.write_text(
            f"database: {tmp_path / 't.db'}\n"
            "defaults: {jitter: 0s, interval: 1s, alert_on_first_poll: true}\n"
            f"feeds:\n  - url: {url}\n"
            "topics:\n  wall:\n    query: '\"border wall\"'\n"
            f"channels:\n  hook:\n    type: webhook\n    url: {hook.url}\n"
            "delivery: {retry_base: 1s, retry_max: 2s}\n"
        )
        kills = 0
        for _ in range(KILLS):
            proc = _start(cfg)
            time.sleep(rng.uniform(0.4, 1.6))  # start-up is ~0.5 s; then it delivers
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            kills += 1
        proc = _start(cfg)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len({r.headers["Idempotency-Key"] for r in hook.accepted()}) >= ALERTS:
                break
            time.sleep(0.1)
        time.sleep(1.5)  # anything still queued would go out now
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    finally:
        hook.stop()

    conn = sqlite3.connect(tmp_path / "t.db")
    expected = {k for (k,) in conn.execute("SELECT idempotency_key FROM deliveries")}
    statuses = Counter(s for (s,) in conn.execute("SELECT status FROM deliveries"))
    conn.close()
    received = Counter(r.headers["Idempotency-Key"] for r in hook.accepted())
    assert len(expected) == ALERTS and statuses == {"sent": ALERTS}
    assert set(received) == expected  # every alert arrived, and nothing else did
    repeats = sum(n - 1 for n in received.values())
    print(f"kills={kills} received={sum(received.values())} repeats={repeats}")
    # Only a delivery in flight at a kill can arrive twice: at most one per kill.
    assert repeats <= kills
    assert all(r.json["idempotency_key"] == r.headers["Idempotency-Key"] for r in hook.accepted())
