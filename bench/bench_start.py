"""Start-up cost: CPU seconds (user + system, from the kernel's rusage of each child) of
`tracker --version`, `tracker check` and `tracker run --once` on a one-feed config, medians
of alternating runs. Target (issue 13): each well under 0.3 s of CPU.

    python bench/bench_start.py [--rounds 5] [--src /work/main --src .] [--articles 20000]

``--articles N`` first stores N articles (each with its story, published over the story
window) in the database, as earlier polls would have left them: `run --once` then starts on
a database with a window to rebuild the story index from (at 10,000 feeds of 20 items the
window holds 200,000). The database is seeded by this checkout's tracker, so ``--src`` must
name trees with the same database schema.

``--src`` runs tracker from another checkout (the main branch, for a before figure); given
several times, the checkouts take turns in each round (in alternating order), each on a
database of its own, so that they are measured under the same load. Every run uses
``python -S`` with that checkout and this interpreter's site-packages on PYTHONPATH, so the
editable install cannot pick this tree instead. The feed points at a closed loopback port:
`run --once` is start-up, one refused connection and the summary.

Processes a run leaves behind (a forkserver and its parse workers outlive their parent by a
moment) are counted too: this process is their subreaper (PR_SET_CHILD_SUBREAPER), so they
are re-parented here and reaped, and their CPU joins RUSAGE_CHILDREN.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

COMMANDS = {
    "--version": ["--version"],
    "check": ["--config", "config.yaml", "check"],
    "run --once": ["--config", "config.yaml", "run", "--once"],
}


def _cpu(argv: list[str], src: Path, cwd: str) -> float:
    libs = sysconfig.get_paths()["purelib"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-S", "-m", "tracker", *argv],
        cwd=cwd,
        env={"PYTHONPATH": f"{src}:{libs}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=False,  # run --once exits 1: its one feed fails, as intended
    )
    _reap_orphans()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


_PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper() -> None:
    """Orphaned descendants of a run are re-parented to this process (Linux), not to init."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _reap_orphans() -> None:
    """Wait for every descendant re-parented here, so its CPU time is counted."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


FEED_URL = "http://127.0.0.1:9/feed.xml"  # a closed port: the feed fails at once


def seed(db: Path, n: int) -> None:
    """``n`` stored articles in the story window, each with its story (this tree's store)."""
    sys.path.insert(0, str(ROOT))
    from tracker.ingest.stories import StoryStep
    from tracker.models import Article, FeedSpec
    from tracker.store.facade import Store

    store = Store(db)
    now = time.time()
    store.sync_feeds([FeedSpec(FEED_URL, FEED_URL, 900)], now)
    (feed,) = (f.id for f in store.pollable_feeds(now + 10_000))
    step = StoryStep.deferred(store, 72 * 3600)
    for start in range(0, n, 250):
        with step.transaction(store, now):
            for i in range(start, min(n, start + 250)):
                published = now - 70 * 3600 * (1 - i / n)
                words = " ".join(f"w{(i * 7919 + k * 104729) % 20000}" for k in range(10))
                article = Article(
                    entry_key=f"k{i}",
                    url=f"https://n{i % 50}.example/{i}",
                    canonical_url=f"https://n{i % 50}.example/{i}",
                    title=words,
                    summary=words + " summary text of the article",
                    content="",
                    published_at=datetime.fromtimestamp(published, UTC),
                    lang="en",
                )
                step.add_entry(store, feed, article, now)
    store.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--src", type=Path, action="append", help="a checkout (repeatable)")
    ap.add_argument("--articles", type=int, default=0)
    args, _ = ap.parse_known_args()
    trees: list[Path] = args.src or [ROOT]
    _become_subreaper()
    with tempfile.TemporaryDirectory() as tmp:
        dirs = []
        for t in range(len(trees)):  # a database of its own for each tree
            work = Path(tmp) / str(t)
            work.mkdir()
            (work / "config.yaml").write_text(
                f"database: {work}/t.db\n"
                f"feeds:\n  - url: {FEED_URL}\n"
                "topics:\n  t: {query: tariffs}\n",
                encoding="utf-8",
            )
            if args.articles:
                seed(work / "t.db", args.articles)
            dirs.append(str(work))
        runs: list[dict[str, list[float]]] = [{name: [] for name in COMMANDS} for _ in trees]
        for r in range(args.rounds):
            names = list(COMMANDS) if r % 2 == 0 else list(COMMANDS)[::-1]
            order = list(range(len(trees)))
            for t in order if r % 2 == 0 else order[::-1]:
                for name in names:
                    runs[t][name].append(_cpu(COMMANDS[name], trees[t], dirs[t]))
    for src, got in zip(trees, runs, strict=True):
        med = {k: round(statistics.median(v), 3) for k, v in got.items()}
        ranges = {k: [round(min(v), 3), round(max(v), 3)] for k, v in got.items()}
        out = {"bench": "start", "src": str(src), "articles": args.articles}
        print(json.dumps(out | {"median_cpu_s": med, "range_cpu_s": ranges}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
