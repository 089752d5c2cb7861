"""Start-up cost: CPU seconds (user + system, from the kernel's rusage of each child) of
`tracker --version`, `tracker check` and `tracker run --once` on a one-feed config, medians
of alternating runs. Target (issue 13): each well under 0.3 s of CPU.

    python bench/bench_start.py [--rounds 5] [--src /work/main]

``--src`` runs tracker from another checkout (the main branch, for a before figure): every
run uses ``python -S`` with that checkout and this interpreter's site-packages on
PYTHONPATH, so the editable install cannot pick this tree instead. The feed points at a
closed loopback port: `run --once` is start-up, one refused connection and the summary.

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--src", type=Path, default=ROOT)
    args, _ = ap.parse_known_args()
    _become_subreaper()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "config.yaml").write_text(
            f"database: {tmp}/t.db\n"
            "feeds:\n  - url: http://127.0.0.1:9/feed.xml\n"
            "topics:\n  t: {query: tariffs}\n",
            encoding="utf-8",
        )
        runs: dict[str, list[float]] = {name: [] for name in COMMANDS}
        for r in range(args.rounds):
            names = list(COMMANDS) if r % 2 == 0 else list(COMMANDS)[::-1]
            for name in names:
                runs[name].append(_cpu(COMMANDS[name], args.src, tmp))
    med = {k: round(statistics.median(v), 3) for k, v in runs.items()}
    print(json.dumps({"bench": "start", "src": str(args.src), "median_cpu_s": med}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
