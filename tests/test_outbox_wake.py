"""A daemon restarted onto feeds with news: polls finishing together wake the outbox, and
APScheduler never logs "maximum number of running instances" (it did, after starts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from daemonproc import Daemon

from conftest import run_cli
from feedserver import FeedServer, synthetic_feed
from webhookserver import start_receiver

pytestmark = pytest.mark.slow


def test_a_start_with_news_everywhere_logs_no_skipped_outbox_runs(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    hook = start_receiver()
    try:
        urls = [feed_server.add(f"/w{i}.xml", synthetic_feed(i, 20)) for i in range(20)]
        cfg = tmp_path / "config.yaml"
        cfg.write_text(
            f"database: {tmp_path / 't.db'}\ndefaults: {{interval: 5s, jitter: 0s}}\nfeeds:\n"
            + "".join(f"  - url: {u}\n" for u in urls)
            + "topics:\n  steel:\n    query: steel\n    notify: [hook]\n"
            + f"channels:\n  hook: {{type: webhook, url: '{hook.url}'}}\n"
        )
        assert run_cli("--config", str(cfg), "run", "--once").returncode == 0  # the baseline
        for i in range(20):  # 20 new stories per feed, two of them about steel
            feed_server.add(f"/w{i}.xml", synthetic_feed(i, 20, start=20))
        daemon = Daemon(cfg)

        def all_sent() -> bool:
            # Every feed polled, and every alert queued (one per story: the synthetic
            # feeds' near-identical stories fold into fewer) sent.
            log = daemon.log
            alerts = log.count("info alert ")
            return (
                log.count("poll.ok") >= 20 and alerts > 0 and log.count("delivery.sent") >= alerts
            )

        try:
            daemon.wait_for(all_sent, timeout=60)
        finally:
            assert daemon.stop() == 0
        assert "maximum number of running instances" not in daemon.log
        # One delivery per alert; a key seen twice is an attempt retried after a failure
        # the daemon logged (a timeout on a loaded machine), never a second alert.
        keys = [r.headers["Idempotency-Key"] for r in hook.received]
        log = daemon.log
        assert len(set(keys)) == log.count("info alert "), (sorted(keys), log)
        assert len(keys) - len(set(keys)) <= log.count("warning delivery.pending"), log
    finally:
        hook.stop()
