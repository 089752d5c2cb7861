"""Event-loop stall benchmark: the daemon runs in this process with a loop-lag sampler beside
it (a task that sleeps 5 ms and records how late it wakes), and reports the longest stall in
three cases:

- ``lock``: 20 feeds polled every second (304s, each a write) while another process holds
  ``BEGIN IMMEDIATE`` on the database for ``--lock-seconds`` (40 s);
- ``ingest``: one feed of ``--items`` (100,000) small items, its first poll (parse, store,
  match), from the fetch until ``poll.ok``;
- ``reload``: a reload of a ``--reload-feeds`` (10,000) feed config (one topic edited), from
  the trigger until ``config.reloaded`` plus one second.

Feeds are static files served by ``python -m http.server`` in a separate process (it answers
``If-Modified-Since`` with 304). ``--tree DIR`` runs another checkout's tracker (e.g. main)
with this same script, for before/after figures. One JSON line per case and repetition, then
the medians:

    python bench/bench_loop_stall.py --repeat 3
    python bench/bench_loop_stall.py --tree /work/main --repeat 3

``BENCH_DEBUG=1`` also prints each case's five longest stalls with the long garbage
collections (which thread ran them) inside each; ``BENCH_DEBUG=asyncio`` adds asyncio's
slow-callback report (its debug mode slows the loop, so the figures are not comparable), and
``BENCH_DEBUG=stacks`` prints every thread's stack whenever the loop is 60 ms late (the
thread that holds the GIL is the "Current thread").
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import faulthandler
import gc
import json
import logging
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_S = 0.005


_gc_started: dict[int, float] = {}
# Long collections: (start, end, generation, thread name), on monotonic time like the lags.
_gc_long: list[tuple[float, float, int, str]] = []


def _gc_timer(phase: str, info: dict[str, int]) -> None:
    thread = threading.get_ident()
    if phase == "start":
        _gc_started[thread] = time.monotonic()
    elif thread in _gc_started:
        started = _gc_started.pop(thread)
        if time.monotonic() - started > 0.02:
            name = threading.current_thread().name
            _gc_long.append((started, time.monotonic(), info["generation"], name))


def _explain(sampler: LagSampler, since: float, until: float) -> None:
    """BENCH_DEBUG: the case's five longest stalls, each with the long collections in it."""
    worst = sorted((lag, t) for t, lag in sampler.lags if since <= t <= until)[-5:]
    for lag, t in reversed(worst):
        began = t - lag - SAMPLE_S
        gcs = [
            f"gen{g} {(e - s) * 1000:.0f} ms on {name}"
            for s, e, g, name in _gc_long
            if s < t and e > began
        ]
        print(f"stall {lag * 1000:.0f} ms at +{began - since:.2f} s: {gcs}", file=sys.stderr)
    # What a full collection walks now (gc.freeze()'s permanent generation excluded).
    young = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
    print(f"unfrozen heap: {young.total()} objects, {young.most_common(12)}", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Events(logging.Handler):
    """Collects the daemon's log events (their names) as they happen."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: list[tuple[float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((time.monotonic(), record.getMessage()))

    def count(self, name: str) -> int:
        return sum(1 for _, n in self.seen if n == name)

    async def wait(
        self, name: str, n: int = 1, timeout: float = 600, fail: str | None = None
    ) -> None:
        """Until ``name`` was seen ``n`` times; raises when ``fail`` is seen first."""
        deadline = time.monotonic() + timeout
        while self.count(name) < n:
            if fail is not None and self.count(fail):
                raise RuntimeError(f"{fail} before {name}: {self.seen[-8:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {name} after {timeout}s: {self.seen[-8:]}")
            await asyncio.sleep(0.05)


class LagSampler:
    """The loop's lateness: how long past its 5 ms sleep each wake-up came."""

    def __init__(self) -> None:
        self.lags: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        watch = os.environ.get("BENCH_DEBUG") == "stacks"
        while True:
            if watch:
                # Unless the loop wakes within 60 ms, a C thread (no GIL needed) prints
                # every thread's stack, the one holding the GIL marked "Current thread".
                faulthandler.dump_traceback_later(0.06, file=sys.stderr)
            t0 = time.perf_counter()
            await asyncio.sleep(SAMPLE_S)
            self.lags.append((time.monotonic(), time.perf_counter() - t0 - SAMPLE_S))

    def worst(self, since: float, until: float) -> float:
        window = [lag for t, lag in self.lags if since <= t <= until]
        if os.environ.get("BENCH_DEBUG"):
            _explain(self, since, until)
        return max(window, default=0.0)

    def stop(self) -> None:
        faulthandler.cancel_dump_traceback_later()
        if self._task is not None:
            self._task.cancel()


def serve(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}/"


def tiny_feed(items: int) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>big</title>']
    for i in range(items):
        title = f"Story {i} steel tariffs" if i % 10 == 0 else f"Story {i}"
        parts.append(f'<item><title>{title}</title><guid isPermaLink="false">g{i}</guid></item>')
    parts.append("</channel></rss>")
    return "".join(parts).encode()


TOPICS = "topics:\n  steel:\n    query: steel AND tariffs\n"


def write_config(
    path: Path, db: Path, urls: list[str], interval: str, extra: str = "", topics: str = TOPICS
) -> None:
    lines = [
        f"database: {db}",
        f"defaults: {{interval: {interval}, jitter: 0s, max_age: 3650d}}",
        # Every feed is on one loopback server: per_host is raised to the global concurrency
        # (20, the default), so the stalls measured are the daemon's, not the host limit's.
        "fetch: {max_bytes: 100MB, timeout: 60s, deadline: 10m, per_host: 20}",
        # The 100,000-item parse takes 10-40 s on a loaded machine: past the default 10 s
        # it would fail, and the case measure nothing (it used to wait for ever).
        "parse: {timeout: 10m}",
        "feeds:",
        *[f"  - url: {u}" for u in urls],
    ]
    path.write_text("\n".join(lines) + "\n" + topics + extra)


async def with_daemon(
    tree: Any, cfg: Path, body: Callable[[Any, Events, LagSampler], Awaitable[float]]
) -> float:
    """Run the daemon on ``cfg`` with a sampler beside it; ``body`` returns the stall."""
    events = Events()
    # A reload in an earlier case set tracker's logging up for stderr only: undo that.
    for name in ("tracker", "apscheduler"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    root = logging.getLogger()
    root.addHandler(events)
    root.setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    settings = tree.to_settings(tree.config_mod.load(cfg))
    daemon = tree.Daemon(cfg, settings)
    sampler = LagSampler()
    sampler.start()
    if os.environ.get("BENCH_DEBUG") and _gc_timer not in gc.callbacks:
        # The longest stalls, each with the long collections (any thread's) inside it.
        gc.callbacks.append(_gc_timer)
    if os.environ.get("BENCH_DEBUG") == "asyncio":
        # Which callbacks hold the loop (asyncio's debug mode slows the loop itself).
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = 0.05
        asyncio_log = logging.getLogger("asyncio")
        asyncio_log.addHandler(logging.StreamHandler())
    run = asyncio.get_running_loop().create_task(daemon.run())
    try:
        await events.wait("daemon.started", timeout=120)
        return await body(daemon, events, sampler)
    finally:
        daemon.stop.set()
        await run
        sampler.stop()
        root.removeHandler(events)


def case_lock(tree: Any, work: Path, lock_s: float) -> float:
    site = work / "site"
    site.mkdir()
    for n in range(20):
        (site / f"{n}.xml").write_bytes(
            tiny_feed(5).replace(b"<title>big", f"<title>f{n}".encode())
        )
    server, base = serve(site)
    db, cfg = work / "t.db", work / "config.yaml"
    write_config(cfg, db, [f"{base}{n}.xml" for n in range(20)], "1s")

    async def body(daemon: Any, events: Events, sampler: LagSampler) -> float:
        await events.wait("poll.ok", 20)
        await asyncio.sleep(2)
        holder = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import sqlite3,sys,time\n"
            "c=sqlite3.connect(sys.argv[1],isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE');print('locked',flush=True)\n"
            "time.sleep(float(sys.argv[2]));c.execute('ROLLBACK')\n",
            str(db),
            str(lock_s),
            stdout=asyncio.subprocess.PIPE,
        )
        assert holder.stdout is not None
        await holder.stdout.readline()
        since = time.monotonic()
        await holder.wait()
        until = time.monotonic()
        return sampler.worst(since, until)

    try:
        return asyncio.run(with_daemon(tree, cfg, body))
    finally:
        server.terminate()
        server.wait()


def case_ingest(tree: Any, work: Path, items: int) -> float:
    site = work / "site"
    site.mkdir()
    (site / "big.xml").write_bytes(tiny_feed(items))
    server, base = serve(site)
    cfg = work / "config.yaml"
    write_config(cfg, work / "t.db", [f"{base}big.xml"], "1h")

    async def body(daemon: Any, events: Events, sampler: LagSampler) -> float:
        since = time.monotonic()
        await events.wait("poll.ok", timeout=1800, fail="poll.failed")
        return sampler.worst(since, time.monotonic())

    try:
        return asyncio.run(with_daemon(tree, cfg, body))
    finally:
        server.terminate()
        server.wait()


def case_reload(tree: Any, work: Path, feeds: int) -> float:
    # Feeds that are not due for an hour (set in the database before the start), so the
    # reload is all that happens.
    urls = [f"http://127.0.0.1:9/{n}.xml" for n in range(feeds)]
    db, cfg = work / "t.db", work / "config.yaml"
    write_config(cfg, db, urls, "1h")
    store = tree.Store(db)
    store.sync_feeds(tree.to_settings(tree.config_mod.load(cfg)).feeds, time.time())
    store.close()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE feeds SET next_check_at = ?", [time.time() + 3600])
    conn.commit()
    conn.close()

    async def body(daemon: Any, events: Events, sampler: LagSampler) -> float:
        await asyncio.sleep(1)
        topics = TOPICS + "  wall:\n    query: border AND wall\n"
        write_config(cfg, db, urls, "1h", topics=topics)
        before = daemon.settings
        since = time.monotonic()
        daemon.reload_requested.set()
        # Not by its log line: a reload sets logging up anew (our handler with it).
        while daemon.settings is before:
            if time.monotonic() - since > 300:
                raise TimeoutError("the reload did not finish in 300 s")
            await asyncio.sleep(0.05)
        await asyncio.sleep(1)
        return sampler.worst(since, time.monotonic())

    return asyncio.run(with_daemon(tree, cfg, body))


class Tree:
    """The tracker under test, imported from ``--tree`` (this checkout by default)."""

    def __init__(self, path: Path) -> None:
        sys.path.insert(0, str(path))
        # The parse workers' forkserver imports tracker afresh (`python -c`, so the working
        # directory first, then PYTHONPATH), and Python 3.11's ignores the sys_path it is
        # handed: without both, a --tree run's workers ran this checkout's code.
        os.chdir(path)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(path), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        for name in [m for m in sys.modules if m == "tracker" or m.startswith("tracker.")]:
            del sys.modules[name]
        from tracker.config import loader as config_mod
        from tracker.config.settings import to_settings
        from tracker.service.daemon import Daemon
        from tracker.store.facade import Store

        self.config_mod = config_mod
        self.to_settings = to_settings
        self.Daemon = Daemon
        self.Store = Store
        self.where = str(Path(sys.modules["tracker"].__file__ or "").parent.parent)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--lock-seconds", type=float, default=40.0)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--reload-feeds", type=int, default=10_000)
    ap.add_argument("--cases", nargs="*", default=["lock", "ingest", "reload"])
    ap.add_argument("--quick", action="store_true", help="small sizes (a 5 s lock, 10k items)")
    args, _ = ap.parse_known_args()
    if args.quick:
        args.lock_seconds, args.items, args.reload_feeds = 5.0, 10_000, 1_000
    tree = Tree(args.tree)
    cases: dict[str, Callable[[Path], float]] = {
        "lock": lambda w: case_lock(tree, w, args.lock_seconds),
        "ingest": lambda w: case_ingest(tree, w, args.items),
        "reload": lambda w: case_reload(tree, w, args.reload_feeds),
    }
    results: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        for name in args.cases:
            with tempfile.TemporaryDirectory() as tmp:
                stall = cases[name](Path(tmp))
            results.setdefault(name, []).append(stall)
            print(json.dumps({"case": name, "stall_ms": round(stall * 1000, 1)}), flush=True)
    summary = {name: round(statistics.median(v) * 1000, 1) for name, v in results.items()}
    print(json.dumps({"tree": tree.where, "median_stall_ms": summary, "runs": args.repeat}))


if __name__ == "__main__":
    main()
