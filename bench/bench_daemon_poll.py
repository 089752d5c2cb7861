"""CPU per poll in the running daemon: per 304, and per changed feed (2 new items of 20).

nginx (Debian's nginx-light) serves N static RSS files of 20 items each from a temporary
folder, with its own ETags, Last-Modified and 304s, over keep-alive connections. Each tree
under test (this one and, with ``--base``, another checkout such as main's) runs as a real
`tracker run` daemon on a fresh database, one tree after the other, in alternating order per
round. For each daemon:

- the baseline cycle (every feed new) is waited out and not measured;
- then, ``--cycles`` times: a 304 cycle (nothing changed) and a changed cycle (every file
  gains 2 new items and drops its 2 oldest, so it still carries 20).

A cycle starts when the bench sets every feed's ``next_check_at`` to now in the database
(what `tracker poll` does) and ends when every feed's ``last_checked_at`` has moved past
that. Its CPU is read from /proc (utime + stime) for the daemon and all its descendants (the
forkserver and the parse workers), so parsing in worker processes is counted. The 1 s tick
and everything else the daemon does meanwhile is counted too: that is the daemon's cost.
Per-feed figures are cycle CPU / N; medians over cycles and rounds.

Every feed is on one loopback host, so the per-host limit (fetch.per_host) is raised to the
concurrency: this measures polls, not politeness.

    python bench/bench_daemon_poll.py --feeds 300 --rounds 2 --base /tmp/main-tree [--base DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ITEMS = 20
CLK_TCK = os.sysconf("SC_CLK_TCK")


def feed_xml(feed_no: int, start: int) -> bytes:
    """An RSS 2.0 feed carrying stories ``start`` .. ``start + ITEMS - 1``, newest first;
    about 1.5 KB of HTML each (CDATA), one in ten on a shipped topic (steel tariffs)."""
    para = (
        "<p>Officials from both cities met on Tuesday to review the agenda, which includes"
        " water supply, school funding, public transport and the <b>next stage</b> of the"
        " housing plan.</p>"
    )
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
        f"<title>Bench feed {feed_no}</title><link>https://news{feed_no}.example/</link>",
        f"<language>en</language><description>bench</description>"
        f"<lastBuildDate>{formatdate(time.time(), usegmt=True)}</lastBuildDate>",
    ]
    for i in range(start + ITEMS - 1, start - 1, -1):
        about = "Mexico weighs response to new steel tariffs" if i % 10 == 0 else "city talks"
        parts.append(
            f"\n<item><title>Story {i} from feed {feed_no}: {about}</title>"
            f"<link>https://news{feed_no}.example/2026/story-{i}.html</link>"
            f'<guid isPermaLink="false">feed{feed_no}-story{i}</guid>'
            f"<pubDate>{formatdate(1_790_000_000 + i * 600, usegmt=True)}</pubDate>"
            f"<description><![CDATA[{para * 6}]]></description></item>"
        )
    parts.append("\n</channel></rss>\n")
    return "".join(parts).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_nginx(root: Path, work: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(
        f"daemon off; master_process off; worker_processes 1; pid {work}/nginx.pid;\n"
        f"error_log {work}/nginx-error.log;\n"
        "events { worker_connections 1024; }\n"
        "http { access_log off; keepalive_requests 100000; keepalive_timeout 120s;\n"
        f"  client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};\n"
        f"  uwsgi_temp_path {work}; scgi_temp_path {work};\n"
        "  types { application/rss+xml xml; }\n"
        f"  server {{ listen 127.0.0.1:{port}; root {root}; }} }}\n"
    )
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(work)])
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.05)
    raise SystemExit("nginx did not start")


def tree_cpu(pid: int) -> float:
    """utime + stime of ``pid`` and its live descendants, in seconds."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
        ticks[int(entry)] = int(fields[11]) + int(fields[12])
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += ticks.get(p, 0)
        todo += [c for c, parent in parents.items() if parent == p]
    return total / CLK_TCK


class Daemon:
    """One tree's `tracker run` on its own database."""

    def __init__(self, src: Path, work: Path, base: str, feeds: int) -> None:
        self.db = work / "bench.db"
        shipped = (ROOT / "config.yaml").read_text(encoding="utf-8")
        config = work / "config.yaml"
        config.write_text(
            f"database: {self.db}\n"
            "defaults: {interval: 24h, jitter: 0s, max_age: 30d}\n"
            "fetch: {concurrency: 20, per_host: 20, timeout: 60s}\n"
            "feeds:\n"
            + "".join(f"  - url: {base}/{n}.xml\n" for n in range(feeds))
            + shipped[shipped.index("\nlists:") :],
            encoding="utf-8",
        )
        libs = sysconfig.get_paths()["purelib"]
        self.proc = subprocess.Popen(
            [sys.executable, "-S", "-m", "tracker", "--config", str(config), "run"],
            cwd=work,
            env={"PYTHONPATH": f"{src}:{libs}", "PATH": "/usr/bin:/bin:/usr/sbin"},
            stderr=subprocess.DEVNULL,
        )
        self.feeds = feeds

    def _checked(self, since: float) -> int:
        try:
            with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5) as db:
                row = db.execute(
                    "SELECT COUNT(*) FROM feeds WHERE last_checked_at >= ?", [since]
                ).fetchone()
        except sqlite3.OperationalError:
            return 0  # not created yet
        return int(row[0])

    def wait_cycle(self, since: float, timeout_s: float = 600) -> None:
        deadline = time.monotonic() + timeout_s
        while self._checked(since) < self.feeds:
            if self.proc.poll() is not None:
                raise SystemExit(f"the daemon exited ({self.proc.returncode})")
            if time.monotonic() > deadline:
                raise SystemExit("a cycle did not finish in time")
            time.sleep(0.05)

    def cycle(self) -> float:
        """Poll every feed now; CPU seconds of the daemon's process tree until all are done."""
        cpu0 = tree_cpu(self.proc.pid)
        now = time.time()
        with sqlite3.connect(self.db, timeout=30) as db:
            db.execute("UPDATE feeds SET next_check_at = ?", [now])
        self.wait_cycle(now)
        cpu = tree_cpu(self.proc.pid) - cpu0
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30) as db:
            (failed,) = db.execute("SELECT COUNT(*) FROM feeds WHERE last_error IS NOT NULL")
        if failed[0]:
            raise SystemExit(f"{failed[0]} feeds failed in a measured cycle")
        return cpu

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def run_tree(src: Path, files: Path, base: str, feeds: int, cycles: int) -> dict[str, list[float]]:
    """One daemon of ``src``: its per-feed CPU (ms) for each 304 and changed cycle."""
    for n in range(feeds):
        (files / f"{n}.xml").write_bytes(feed_xml(n, 0))
    out: dict[str, list[float]] = {"not_modified": [], "changed": []}
    with tempfile.TemporaryDirectory() as tmp:
        daemon = Daemon(src, Path(tmp), base, feeds)
        try:
            daemon.wait_cycle(0.0)  # the baseline: every item new, nothing alerts
            time.sleep(1.5)  # let the baseline's last writes and logs settle
            for c in range(1, cycles + 1):
                out["not_modified"].append(daemon.cycle() * 1000 / feeds)
                time.sleep(1.1)  # a new second: nginx's Last-Modified and ETag change
                for n in range(feeds):
                    (files / f"{n}.xml").write_bytes(feed_xml(n, 2 * c))
                out["changed"].append(daemon.cycle() * 1000 / feeds)
        finally:
            daemon.stop()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=int, default=300)
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument(
        "--base", type=Path, action="append", help="another checkout to measure (repeatable)"
    )
    args = ap.parse_args()
    bases = [b.resolve() for b in args.base or []]
    # One base is "base" (as before); several are "base1", "base2", ... in the order given.
    names = ["base"] if len(bases) == 1 else [f"base{i}" for i in range(1, len(bases) + 1)]
    trees = {"this": ROOT} | dict(zip(names, bases, strict=True))
    runs: dict[str, dict[str, list[float]]] = {
        t: {"not_modified": [], "changed": []} for t in trees
    }
    with tempfile.TemporaryDirectory() as tmp:
        files, work = Path(tmp) / "feeds", Path(tmp) / "nginx"
        files.mkdir()
        work.mkdir()
        nginx, port = start_nginx(files, work)
        try:
            for r in range(args.rounds):
                order = list(trees) if r % 2 == 0 else list(trees)[::-1]
                for name in order:
                    got = run_tree(trees[name], files, f"http://127.0.0.1:{port}", args.feeds,
                                   args.cycles)  # fmt: skip
                    for kind, values in got.items():
                        runs[name][kind] += values
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)
    result: dict[str, object] = {"bench": "daemon_poll", "feeds": args.feeds, "items": ITEMS}
    for name, src in trees.items():
        result[name] = {
            "src": str(src),
            "cpu_ms_per_304": round(statistics.median(runs[name]["not_modified"]), 3),
            "range_304": [
                round(min(runs[name]["not_modified"]), 3),
                round(max(runs[name]["not_modified"]), 3),
            ],
            "cpu_ms_per_changed_feed": round(statistics.median(runs[name]["changed"]), 3),
            "range_changed": [
                round(min(runs[name]["changed"]), 3),
                round(max(runs[name]["changed"]), 3),
            ],
            "cycles": len(runs[name]["changed"]),
        }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
