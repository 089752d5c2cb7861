"""The fuzz suite: truncated, byte-flipped and otherwise mutated real feeds (tests/fuzzcases.py
says how they are made), through the daemon's parse path (the worker pool, then each entry
normalised), through `topics test`, through a `run --once` poll and through the running daemon.

Zero crashes: every input is entries or one ParseError with a one-line message, never another
exception, never exit 70, and every article's text encodes (no lone surrogate reaches SQLite
or a terminal). Every input is done under its deadline. The default run is a few seconds of
examples in this process; the subprocess runs and the long run are marked slow.
"""

from __future__ import annotations

import dataclasses
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemonproc import Daemon
from fuzzcases import FEEDS, cases, mutate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.errors import ParseError
from tracker.ingest import items
from tracker.ingest.isolate import ParsePool
from tracker.settings import ParseSettings

from conftest import run_cli
from feedserver import FeedServer

LIMITS = ParseSettings(timeout_s=10.0)


@pytest.fixture(scope="module")
def pool() -> Iterator[ParsePool]:
    p = ParsePool(2)
    yield p
    p.close()


def _headers(name: str) -> dict[str, str]:
    ctype = "application/feed+json" if name.endswith(".json") else "application/xml"
    return {"content-type": ctype}


def parse_or_fail_cleanly(pool: ParsePool, name: str, body: bytes) -> int | str:
    """The entries' count, or the ParseError's message; any other outcome fails the test."""
    started = time.monotonic()
    try:
        keyed = pool.parse_sync(body, _headers(name), name, LIMITS)
    except ParseError as exc:
        assert exc.message and "\n" not in exc.message.strip(), exc.message
        return exc.message
    finally:
        assert time.monotonic() - started < LIMITS.timeout_s + 5, name
    lang = keyed.lang(None)
    for entry, key in keyed.entries():
        article = items.to_item(entry, key, lang).article
        for f in dataclasses.fields(article):
            value = getattr(article, f.name)
            for text in value if isinstance(value, tuple) else (value,):
                if isinstance(text, str):
                    text.encode("utf-8")  # raises on a lone surrogate
    return len(keyed.keys)


_fuzz = given(path=st.sampled_from(FEEDS), rng=st.randoms(use_true_random=False))
_checks = [HealthCheck.too_slow, HealthCheck.data_too_large]


@settings(max_examples=12, deadline=None, suppress_health_check=_checks)
@_fuzz
def test_mutated_real_feeds_parse_or_fail_cleanly(
    pool: ParsePool, path: Path, rng: random.Random
) -> None:
    body, what = mutate(path.read_bytes(), rng)
    parse_or_fail_cleanly(pool, f"{what}-{path.name}", body)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=_checks)
@_fuzz
def test_many_more_mutated_real_feeds_parse_or_fail_cleanly(
    pool: ParsePool, path: Path, rng: random.Random
) -> None:
    body, what = mutate(path.read_bytes(), rng)
    parse_or_fail_cleanly(pool, f"{what}-{path.name}", body)


def test_the_fixed_cases_parse_or_fail_cleanly(pool: ParsePool) -> None:
    outcomes = [parse_or_fail_cleanly(pool, name, body) for name, body in cases(0, 12)]
    # The suite is not vacuous: some cases keep entries, some are refused.
    assert any(isinstance(o, int) and o > 0 for o in outcomes)
    assert any(isinstance(o, str) for o in outcomes)


@pytest.mark.slow
def test_topics_test_on_fuzz_cases_never_exits_70(tmp_path: Path) -> None:
    paths = []
    for name, body in cases(0, 60):
        (tmp_path / name).write_bytes(body)
        paths.append(str(tmp_path / name))
    cfg = tmp_path / "config.yaml"
    cfg.write_text("parse: {timeout: 10s}\ntopics: {t: {query: the OR el OR news}}\n")
    started = time.monotonic()
    result = run_cli("topics", "test", "--config", str(cfg), *paths, timeout=600)
    took = time.monotonic() - started
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line]
    read = [p for p in paths if f"{p}: " in result.stdout]
    # Each source is either read or one error line naming it: none is lost or doubled.
    assert len(read) + len(errors) == len(paths), result.stderr
    assert all(line.startswith("error: ") and str(tmp_path) in line for line in errors)
    assert took < 60 * 2  # 60 inputs, each done well inside its 10 s


@pytest.mark.slow
def test_a_poll_of_fuzz_cases_never_crashes(feed_server: FeedServer, tmp_path: Path) -> None:
    urls = []
    for name, body in cases(1000, 40):
        ctype = "application/feed+json" if name.endswith(".json") else "application/xml"
        urls.append(feed_server.add(f"/{name}", body, content_type=ctype))
    cfg = tmp_path / "config.yaml"
    feeds = "\n".join(f"  - url: {u}" for u in urls)
    cfg.write_text(
        f"database: {tmp_path / 't.db'}\nparse: {{timeout: 10s}}\n"
        f"topics: {{t: {{query: the OR el OR news}}}}\nfeeds:\n{feeds}\n"
    )
    result = run_cli("--config", str(cfg), "run", "--once", timeout=600)
    assert result.returncode == 0, result.stderr
    assert f"feeds: {len(urls)} polled" in result.stdout
    for bad in ("Traceback", "poll crashed", "internal error", "entry.skipped"):
        assert bad not in result.stderr, result.stderr
    new = int(result.stdout.split("new articles: ")[1].split()[0])
    assert new > 0  # some inputs kept entries


@pytest.mark.slow
def test_the_running_daemon_polls_fuzz_cases_without_a_crash(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    urls = []
    for name, body in cases(2000, 20):
        ctype = "application/feed+json" if name.endswith(".json") else "application/xml"
        urls.append(feed_server.add(f"/{name}", body, content_type=ctype))
    feeds = "\n".join(f"  - url: {u}" for u in urls)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"database: {tmp_path / 't.db'}\nparse: {{timeout: 10s}}\n"
        f"defaults: {{interval: 1h, jitter: 0s}}\nfeeds:\n{feeds}\n"
    )
    daemon = Daemon(cfg)
    try:
        # Every feed answered once, ok or failed, each within its deadline.
        daemon.wait_for(
            lambda: daemon.log.count("poll.ok") + daemon.log.count("poll.failed") >= 20, 60
        )
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(timeout=15) == 0
        for bad in ("Traceback", "poll crashed", "internal error", "entry.skipped"):
            assert bad not in daemon.log, daemon.log
    finally:
        daemon.close()
