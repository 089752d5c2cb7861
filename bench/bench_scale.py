"""Scale benchmark (issue 13 item 7): tracker against urlwatch 2.29 on an nginx feed farm.

Setup. Debian's nginx (``apt-get install -y nginx-light``) runs as a child of this script,
with its own config, pid and log files in a temp folder, and serves N static RSS files of 20
items each: real ETag, Last-Modified and 304, so the server is never what is measured. The
feeds are spread round-robin over ``--hosts`` loopback addresses (127.0.0.11 and up) on one
free port: tracker keeps its default per-host limit (``fetch.per_host: 2``) and concurrency
(20), and with 20 hosts the per-host limit never holds a poll back for long.

Cycles (``run --once``). Before each cycle 10% of the feeds gain two items, one of them on
topic (steel tariffs, a shipped topic); the oldest two drop out, so every feed keeps 20.
Each tool's one-shot command then runs once, the tools in alternating order: ``tracker run
--once`` and ``urlwatch --urls --config --cache`` (one job per feed URL, its default 10
threads, the stdout reporter into a file). Wall, CPU (the child's rusage from wait4, which
includes its reaped children: tracker's parse workers) and peak RSS (ru_maxrss). Cycle 0 is
the baseline (every feed new) and is left out of the medians; each steady cycle's urlwatch /
tracker ratios are printed.

Daemon. ``tracker run`` on the same farm and database, with ``$NOTIFY_SOCKET`` pointing at a
socket of ours: startup is the time to its READY=1. CPU is read from ``/proc`` (utime+stime
of the daemon, its live children and the children they reaped), peak RSS from VmHWM (of the
daemon; ``rss_tree_mb`` adds its parse workers'). Two modes:

- ``spread`` (the default): the real interval (``--daemon-interval``, default 15 minutes).
  Before the start this script spreads the feeds' ``next_check_at`` uniformly over the next
  interval (what a long-running daemon's polls look like; written into tracker's database
  while tracker is stopped, the bench's only write to it), and 10% of the feeds change. It
  then watches a window (``--window``, default 120 s) of that steady state, from 10 s after
  READY: CPU as a share of one core (and times the interval: the cycle's CPU, extrapolated),
  polls per second done against those needed, and for every feed due in the window how late
  its poll came (``last_checked_at`` - its due time) or whether it is still waiting. A
  window is not a full cycle; the share and lateness are what it measures.
- ``burst``: a short interval (``--interval``, default 3x tracker's steady ``run --once``
  wall, at least 20 s) and jitter 0, so every feed comes due together once per interval: a
  cycle, measured whole. The feeds change as each cycle ends. Cycle CPU is the daemon's CPU
  from one cycle's end to the next (idle ticks included); the first cycle is left out.

    python bench/bench_scale.py                      # 1,000 feeds (what `make bench` runs)
    python bench/bench_scale.py --feeds 1000 10000 --cycles 4
    python bench/bench_scale.py --feeds 10000 --daemon-interval 90   # 100k's poll rate
    python bench/bench_scale.py --feeds 100000 --cycles 2 --no-urlwatch
    python bench/bench_scale.py --tree /work/main   # another checkout, in the same cycles

urlwatch lives in its own venv (``.venv-bench-urlwatch/`` at the repository root, built with
pip on first use), so its dependencies (requests, lxml, keyring) never meet tracker's.
Prints a table per N and one JSON line per N with every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRACKER = ROOT / ".venv" / "bin" / "tracker"
URLWATCH_VENV = ROOT / ".venv-bench-urlwatch"
URLWATCH_VERSION = "2.29"
NGINX_INSTALL = "apt-get install -y nginx-light"
ITEMS = 20
CHANGED_SHARE = 0.10
FIRST_HOST = 11  # 127.0.0.11 and up: clear of 127.0.0.1, which the tests use
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# ---------------------------------------------------------------------------- the farm


def find_nginx() -> str:
    """The nginx binary, or exit non-zero saying how to install it."""
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    sys.exit(f"bench_scale: nginx is missing: install Debian's nginx-light ({NGINX_INSTALL})")


def free_port(hosts: list[str]) -> int:
    """A port free on every one of ``hosts`` (asked of the kernel on the first)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((hosts[0], 0))
            port = int(s.getsockname()[1])
        try:
            with contextlib.ExitStack() as stack:
                for h in hosts[1:]:
                    t = stack.enter_context(socket.socket())
                    t.bind((h, port))
            return port
        except OSError:
            continue
    raise SystemExit("bench_scale: no port free on every loopback address")


class Farm:
    """N feed files under ``root/f/`` and the nginx child that serves them."""

    def __init__(self, root: Path, feeds: int, hosts: int, seed: int) -> None:
        self.root = root
        self.feeds = feeds
        self.hosts = [f"127.0.0.{FIRST_HOST + h}" for h in range(hosts)]
        self.port = 0
        self.rng = random.Random(seed)
        self.next_item = [ITEMS] * feeds  # each feed's items are [next - 20, next)
        # Each item's pubDate, fixed when it is first written: a real feed that gains two
        # items leaves the other 18 byte for byte as they were (re-dating them all at each
        # write made every changed feed look wholly new to tracker's known-item cut).
        self.born: list[dict[int, float]] = [{} for _ in range(feeds)]
        self.proc: subprocess.Popen[bytes] | None = None
        self._mtimes: dict[int, int] = {}
        (root / "f").mkdir(parents=True)
        # nginx's workers run as nobody: the folders must be readable to them.
        os.chmod(root, 0o755)
        os.chmod(root / "f", 0o755)

    def url(self, n: int) -> str:
        return f"http://{self.hosts[n % len(self.hosts)]}:{self.port}/f/{n}.xml"

    def write_all(self) -> None:
        for n in range(self.feeds):
            self._write(n)

    def change(self) -> list[int]:
        """10% of the feeds gain two items (one on topic) and lose their oldest two."""
        picked = self.rng.sample(range(self.feeds), max(1, int(self.feeds * CHANGED_SHARE)))
        for n in picked:
            self.next_item[n] += 2
            self._write(n)
        return picked

    def _write(self, n: int) -> None:
        top = self.next_item[n]
        now = time.time()
        born = self.born[n]
        for i in [i for i in born if i < top - ITEMS]:
            del born[i]
        parts = [
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
            f"<title>Feed {n}</title><link>https://news{n}.example/</link>",
            "<language>en</language><description>bench</description>",
        ]
        for i in range(top - 1, top - 1 - ITEMS, -1):
            # The newest of each pair of new items is on topic; the others are city news.
            headline = (
                f"Story {i} of feed {n}: Mexico weighs response to new steel tariffs"
                if i % 2 == 1
                else f"Story {i} of feed {n}: officials meet in the city"
            )
            parts.append(
                f"<item><title>{headline}</title>"
                f"<link>https://news{n}.example/2026/story-{i}.html</link>"
                f'<guid isPermaLink="false">feed{n}-story{i}</guid>'
                f"<pubDate>{formatdate(born.setdefault(i, now - (top - i) * 600), usegmt=True)}"
                "</pubDate>"
                "<description>Officials met on Tuesday to review the agenda: water supply,"
                " school funding, public transport and the next stage of the housing plan."
                "</description></item>"
            )
        parts.append("</channel></rss>")
        path = self.root / "f" / f"{n}.xml"
        path.write_text("".join(parts), encoding="utf-8")
        # nginx's ETag is mtime-size and Last-Modified has whole seconds: a change within
        # the second of the last write must still look new to a conditional GET.
        old = self._mtimes.get(n, 0)
        stamp = max(int(now), old + 1)
        self._mtimes[n] = stamp
        os.utime(path, (stamp, stamp))

    def start(self, nginx: str) -> None:
        self.port = free_port(self.hosts)
        conf = self.root / "nginx.conf"
        listens = "\n".join(f"    listen {h}:{self.port};" for h in self.hosts)
        temp = self.root / "nginx-temp"
        temp.mkdir()
        conf.write_text(
            f"""daemon off;
worker_processes 1;
pid {self.root}/nginx.pid;
error_log {self.root}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  default_type application/rss+xml;
  sendfile on;
  client_body_temp_path {temp}/body;
  proxy_temp_path {temp}/proxy;
  fastcgi_temp_path {temp}/fastcgi;
  uwsgi_temp_path {temp}/uwsgi;
  scgi_temp_path {temp}/scgi;
  server {{
{listens}
    root {self.root};
  }}
}}
""",
            encoding="utf-8",
        )
        self.proc = subprocess.Popen(
            [nginx, "-e", str(self.root / "nginx-error.log"), "-p", str(self.root), "-c", str(conf)]
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.root / "nginx-error.log").read_text(errors="replace")
                raise SystemExit(f"bench_scale: nginx exited: {log[-2000:]}")
            try:
                with socket.create_connection((self.hosts[-1], self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("bench_scale: nginx did not start listening within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ------------------------------------------------------------------------------ tools


@dataclass
class Run:
    """One run of a one-shot command: wall s, CPU s (user+sys, reaped children included),
    peak RSS MB (the largest of the process and its reaped children)."""

    wall: float
    cpu: float
    rss_mb: float


def timed(cmd: list[str], out: Path, env: dict[str, str] | None = None) -> Run:
    """Run ``cmd`` to the end with stdout/stderr into ``out``; its rusage from wait4."""
    with out.open("wb") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = out.read_text(errors="replace")[-3000:]
        raise SystemExit(f"bench_scale: {cmd[0]} exited {proc.returncode}:\n{tail}")
    return Run(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024)


def ensure_urlwatch() -> Path:
    """urlwatch 2.29 in its own venv at the repository root (built once, with pip)."""
    exe = URLWATCH_VENV / "bin" / "urlwatch"
    if exe.exists():
        got = subprocess.run([str(exe), "--version"], capture_output=True, text=True).stdout
        if URLWATCH_VERSION in got:
            return exe
    print(f"bench_scale: installing urlwatch {URLWATCH_VERSION} into {URLWATCH_VENV}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(URLWATCH_VENV)], check=True)
    subprocess.run(
        [
            str(URLWATCH_VENV / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            f"urlwatch=={URLWATCH_VERSION}",
        ],
        check=True,
    )
    return exe


class Tracker:
    """tracker's config for the farm; ``run --once`` and the daemon share one database."""

    def __init__(self, work: Path, farm: Farm, tree: Path = ROOT, label: str = "tracker") -> None:
        self.label = label
        self.exe = tree / ".venv" / "bin" / "tracker"
        self.dir = work / label.replace("@", "-")
        self.dir.mkdir()
        self.db = self.dir / "tracker.db"
        self.config = self.dir / "config.yaml"
        self.farm = farm
        shipped = (ROOT / "config.yaml").read_text(encoding="utf-8")
        # The shipped lists and topics, so matching costs what it costs in real use.
        self.topics = shipped[shipped.index("\nlists:") :]

    def write_config(self, interval: str = "15m", jitter: str = "30s") -> None:
        lines = [
            f"database: {self.db}",
            f"defaults: {{interval: {interval}, jitter: {jitter}, max_age: 30d}}",
            # fetch.concurrency (20) and fetch.per_host (2) stay at their defaults: the
            # feeds are spread over the farm's loopback addresses instead.
            "feeds:",
        ]
        for n in range(self.farm.feeds):
            lines.append(f"  - url: {self.farm.url(n)}")
            lines.append(f"    name: feed {n}")
        self.config.write_text("\n".join(lines) + self.topics, encoding="utf-8")

    def once(self, cycle: int) -> Run:
        out = self.dir / f"once-{cycle}.txt"
        run = timed([str(self.exe), "--config", str(self.config), "run", "--once"], out)
        check_tracker_summary(out.read_text(errors="replace"), self.farm.feeds)
        return run


def check_tracker_summary(text: str, feeds: int) -> None:
    """The run polled every feed and none failed (its summary's first line)."""
    want = f"feeds: {feeds} polled, {feeds} ok"
    if want not in text:
        raise SystemExit(
            f"bench_scale: tracker's run --once did not poll all feeds:\n{text[-2000:]}"
        )


class Urlwatch:
    """One urlwatch job per feed URL; its cache (minidb) persists between cycles."""

    def __init__(self, work: Path, farm: Farm, exe: Path) -> None:
        self.dir = work / "urlwatch"
        self.dir.mkdir()
        self.exe = exe
        self.farm = farm
        self.urls = self.dir / "urls.yaml"
        self.config = self.dir / "urlwatch.yaml"
        self.cache = self.dir / "cache.db"
        self.hooks = self.dir / "hooks.py"
        self.urls.write_text(
            "\n---\n".join(f"url: {farm.url(n)}" for n in range(farm.feeds)) + "\n",
            encoding="utf-8",
        )
        # Merged with urlwatch's defaults: only the stdout reporter (into a file), no colour.
        self.config.write_text(
            "report:\n  stdout: {enabled: true, color: false}\n", encoding="utf-8"
        )
        self.hooks.write_text("", encoding="utf-8")

    def once(self, cycle: int, changed: int) -> Run:
        out = self.dir / f"once-{cycle}.txt"
        cmd = [str(self.exe), "--urls", str(self.urls), "--config", str(self.config)]
        cmd += ["--cache", str(self.cache), "--hooks", str(self.hooks)]
        env = {**os.environ, "HOME": str(self.dir)}  # keyring and friends stay in here
        run = timed(cmd, out, env)
        text = out.read_text(errors="replace")
        errors = len(re.findall(r"^\d+\. ERROR: ", text, re.M))
        if errors:
            raise SystemExit(f"bench_scale: urlwatch reported {errors} errors:\n{text[-2000:]}")
        # The report's summary lists each job once: "01. CHANGED: <url>".
        seen = len(re.findall(rf"^\d+\. {'CHANGED' if cycle else 'NEW'}: ", text, re.M))
        want = changed if cycle else self.farm.feeds
        if seen != want:
            raise SystemExit(f"bench_scale: urlwatch saw {seen} changes, {want} expected")
        return run


# ----------------------------------------------------------------------------- daemon


def proc_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (one scan of /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid``, its live descendants and every child any of them reaped."""
    total = 0
    for p in proc_tree(pid):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{p}/stat").read_text()
            f = stat[stat.rindex(")") + 2 :].split()
            # fields 14-17 of stat(5): utime stime cutime cstime (index 11.. after "state")
            total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return total / CLK_TCK


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_hwm_mb(pid: int) -> float:
    """The sum of VmHWM over the process tree (the parse workers' peaks included)."""
    total = 0.0
    for p in proc_tree(pid):
        with contextlib.suppress(OSError):
            total += vm_hwm_mb(p)
    return total


@contextlib.contextmanager
def daemon(tr: Tracker, work: Path) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """``tracker run`` as a child; yields it and its startup (seconds to READY=1)."""
    sock_path = work / "notify.sock"
    with contextlib.suppress(FileNotFoundError):
        sock_path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(1.0)
    env = {**os.environ, "NOTIFY_SOCKET": str(sock_path)}
    log = (tr.dir / "daemon.log").open("ab")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(tr.exe), "--config", str(tr.config), "run"], stdout=log, stderr=log, env=env
    )
    try:
        startup = None
        deadline = time.monotonic() + 300
        while startup is None and time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"bench_scale: the daemon exited {proc.returncode} at start")
            with contextlib.suppress(TimeoutError):
                if b"READY=1" in sock.recv(65536):
                    startup = time.perf_counter() - t0
        if startup is None:
            raise SystemExit("bench_scale: the daemon sent no READY=1 within 300 s")
        yield proc, startup
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        sock.close()
        log.close()


def read_db(db: Path, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """A query on tracker's database, read-only (WAL lets it run beside the daemon)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def checks(db: Path) -> dict[str, tuple[float, float]]:
    """Each active feed's url → (last_checked_at, next_check_at)."""
    rows = read_db(db, "SELECT url, last_checked_at, next_check_at FROM feeds WHERE active = 1")
    return {str(u): (float(lc or 0), float(nc or 0)) for u, lc, nc in rows}  # type: ignore[arg-type]


def daemon_burst(
    tr: Tracker, farm: Farm, work: Path, interval: int, cycles: int
) -> dict[str, object]:
    """Cycles of the daemon with every feed due together once per ``interval`` seconds."""
    tr.write_config(interval=f"{interval}s", jitter="0s")
    out: dict[str, object] = {"mode": "burst", "interval_s": interval}
    started = time.time()
    cpu_per_cycle: list[float] = []
    busy: list[float] = []
    lateness: list[float] = []
    with daemon(tr, work) as (proc, startup):
        out["startup_s"] = round(startup, 3)
        pid = proc.pid
        mark = started  # polls after this belong to the cycle being waited for
        prev_due: dict[str, float] = {}
        cpu_prev = 0.0
        for cycle in range(cycles + 1):
            done_at = wait_cycle(tr.db, mark, farm.feeds, proc, timeout=interval * 4 + 120)
            cpu_now = tree_cpu(pid)
            state = checks(tr.db)
            polled = [lc for lc, _ in state.values()]
            if cycle > 0:
                cpu_per_cycle.append(cpu_now - cpu_prev)
                busy.append(max(polled) - min(polled))
                lateness += [state[u][0] - prev_due[u] for u in state]
                print(
                    f"  daemon cycle {cycle}: cpu {cpu_now - cpu_prev:.2f}s,"
                    f" polls spread over {max(polled) - min(polled):.1f}s",
                    flush=True,
                )
            else:
                print(
                    f"  daemon first cycle (left out) done {done_at:.1f}s after READY", flush=True
                )
            cpu_prev = cpu_now
            prev_due = {u: nc for u, (_, nc) in state.items()}
            mark = max(polled)
            if cycle < cycles:
                farm.change()  # the daemon is idle: every feed's next poll is an interval away
        out["cycle_cpu_s"] = [round(c, 3) for c in cpu_per_cycle]
        out["cycle_cpu_median_s"] = round(statistics.median(cpu_per_cycle), 3)
        out["cycle_busy_s"] = [round(b, 2) for b in busy]
        out["lateness_p99_s"] = round(quantile(lateness, 0.99), 2)
        out["lateness_max_s"] = round(max(lateness), 2)
        out["rss_mb"] = round(vm_hwm_mb(pid), 1)
        out["rss_tree_mb"] = round(tree_hwm_mb(pid), 1)
    return out


def wait_cycle(
    db: Path, mark: float, feeds: int, proc: subprocess.Popen[bytes], timeout: float
) -> float:
    """Wait until every feed was polled after ``mark``; seconds waited."""
    t0 = time.monotonic()
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"bench_scale: the daemon exited {proc.returncode}")
        (n,) = read_db(
            db, "SELECT COUNT(*) FROM feeds WHERE active = 1 AND last_checked_at > ?", (mark,)
        )[0]
        if n == feeds:
            # The last polls' writes are in; let the cycle's tail (outbox, logs) settle.
            time.sleep(1.0)
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"bench_scale: only {n} of {feeds} feeds polled in {timeout:.0f}s")
        time.sleep(0.5)


def daemon_spread(
    tr: Tracker, farm: Farm, work: Path, window: float, interval: float
) -> dict[str, object]:
    """A window of the daemon's steady state at ``interval``, due times spread over it."""
    # The default 30 s of jitter at 15 minutes, in proportion at a shorter interval.
    tr.write_config(interval=f"{interval:.0f}s", jitter=f"{30 * interval / 900:.1f}s")
    farm.change()
    # Due times spread uniformly over the next interval, as a long-running daemon's are;
    # written while tracker is stopped (the bench's only write to tracker's database).
    fresh = not tr.db.exists()  # --cycles 0: the daemon's first polls are baselines
    if not fresh:
        t0 = time.time() + 5
        con = sqlite3.connect(tr.db, timeout=30)
        with con:
            con.execute(
                "UPDATE feeds SET next_check_at = ? + (ABS(RANDOM()) % ?) / 1000.0"
                " WHERE active = 1",
                (t0, int(interval * 1000)),
            )
        con.close()
    out: dict[str, object] = {"mode": "spread", "interval_s": interval, "window_s": window}
    out["fresh_database"] = fresh
    with daemon(tr, work) as (proc, startup):
        out["startup_s"] = round(startup, 3)
        pid = proc.pid
        time.sleep(10)  # the start's own work (catching up the feeds due meanwhile) is over
        w0, cpu0 = time.time(), tree_cpu(pid)
        # Due times as the running daemon has them (its start may have moved some).
        due = {u: nc for u, (_, nc) in checks(tr.db).items()}
        samples = []
        while time.time() - w0 < window:
            time.sleep(min(30.0, window - (time.time() - w0)))
            samples.append((time.time() - w0, tree_cpu(pid) - cpu0))
            if proc.poll() is not None:
                raise SystemExit(f"bench_scale: the daemon exited {proc.returncode}")
        w1, cpu1 = time.time(), tree_cpu(pid)
        state = checks(tr.db)
        out["rss_mb"] = round(vm_hwm_mb(pid), 1)
        out["rss_tree_mb"] = round(tree_hwm_mb(pid), 1)
    in_window = [u for u, d in due.items() if w0 <= d <= w1 - 5]
    late = [state[u][0] - due[u] for u in in_window if state[u][0] >= due[u]]
    waiting = [u for u in in_window if state[u][0] < due[u]]
    share = (cpu1 - cpu0) / (w1 - w0)
    out.update(
        cpu_share_of_core=round(share, 4),
        cycle_cpu_s_extrapolated=round(share * interval, 1),
        polls_per_s_needed=round(farm.feeds / interval, 1),
        polls_per_s_done=round(sum(w0 <= lc <= w1 for lc, _ in state.values()) / (w1 - w0), 1),
        due_in_window=len(in_window),
        polled_in_window=len(late),
        still_waiting=len(waiting),
        lateness_p50_s=round(quantile(late, 0.5), 2) if late else None,
        lateness_p99_s=round(quantile(late, 0.99), 2) if late else None,
        lateness_max_s=round(max(late), 2) if late else None,
        cpu_samples=[(round(t), round(c, 2)) for t, c in samples],
    )
    return out


def quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


# ------------------------------------------------------------------------------- main


@dataclass
class Result:
    feeds: int
    hosts: int
    tracker: list[Run] = field(default_factory=list)
    urlwatch: list[Run] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    daemon: dict[str, object] = field(default_factory=dict)
    # --tree: other checkouts' `run --once`, by label (tracker@<folder>), in the same cycles
    others: dict[str, list[Run]] = field(default_factory=dict)


def med(runs: list[Run], attr: str) -> float:
    return statistics.median(getattr(r, attr) for r in runs[1:]) if len(runs) > 1 else float("nan")


def one_size(args: argparse.Namespace, feeds: int, nginx: str, uw_exe: Path | None) -> Result:
    res = Result(feeds, args.hosts)
    with tempfile.TemporaryDirectory(prefix=f"bench-scale-{feeds}-", dir=args.tmp) as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # nginx's workers (nobody) walk through it to the feeds
        farm = Farm(work / "farm", feeds, args.hosts, seed=feeds)
        farm.write_all()
        farm.start(nginx)
        try:
            tr = Tracker(work, farm)
            trackers = {"tracker": tr}
            for tree in args.tree:
                label = f"tracker@{Path(tree).resolve().name}"
                trackers[label] = Tracker(work, farm, Path(tree).resolve(), label)
                res.others[label] = []
            for t in trackers.values():
                t.write_config()
            uw = Urlwatch(work, farm, uw_exe) if uw_exe is not None else None
            tools = [*trackers, *(["urlwatch"] if uw is not None else [])]
            for cycle in range(args.cycles):
                changed = len(farm.change()) if cycle else 0
                # The tools in rotating order: each takes every place in turn.
                order = tools[cycle % len(tools) :] + tools[: cycle % len(tools)]
                res.order.append(",".join(order))
                line = [f"  cycle {cycle}{' (baseline)' if cycle == 0 else ''}:"]
                for tool in order:
                    if tool == "urlwatch":
                        assert uw is not None
                        r = uw.once(cycle, changed)
                        res.urlwatch.append(r)
                    else:
                        r = trackers[tool].once(cycle)
                        (res.tracker if tool == "tracker" else res.others[tool]).append(r)
                    line.append(f"{tool} {r.wall:.2f}s wall {r.cpu:.2f}s cpu {r.rss_mb:.0f}MB;")
                if uw is not None:
                    u = res.urlwatch[-1]
                    for label, runs in (("tracker", res.tracker), *res.others.items()):
                        t = runs[-1]
                        wall, cpu = u.wall / t.wall, u.cpu / t.cpu
                        line.append(f"urlwatch/{label} wall {wall:.2f}x cpu {cpu:.2f}x;")
                print(" ".join(line), flush=True)
            if args.daemon:
                for label, t in trackers.items():
                    # One checkout's daemon after the other, each on its own database.
                    suffix = "" if label == "tracker" else f"@{label.partition('@')[2]}"
                    if args.daemon_mode == "burst" and res.tracker:
                        runs = res.tracker
                        wall = med(runs, "wall") if len(runs) > 1 else runs[0].wall
                        interval = args.interval or max(20, int(3 * wall) + 1)
                        res.daemon[f"daemon{suffix}"] = daemon_burst(
                            t, farm, work, interval, args.daemon_cycles
                        )
                    else:
                        # Each interval in turn on the same database: 15 minutes, and perhaps
                        # a shorter one that asks this N for the poll rate of a larger farm.
                        for i, every in enumerate(args.daemon_interval):
                            key = "daemon" if i == 0 else f"daemon_{every:.0f}s"
                            res.daemon[key + suffix] = daemon_spread(
                                t, farm, work, args.window, every
                            )
        finally:
            farm.stop()
            if args.keep:
                dest = Path(args.keep) / f"scale-{feeds}"
                shutil.rmtree(dest, ignore_errors=True)
                shutil.copytree(work, dest, ignore=shutil.ignore_patterns("f", "*.db*", "*.sock"))
    return res


def report(res: Result) -> None:
    t, u = res.tracker, res.urlwatch
    print(
        f"== {res.feeds} feeds over {res.hosts} loopback hosts;"
        f" medians of {len(t) - 1} steady cycles"
    )
    trackers = {"tracker": t, **res.others}
    print(f"  {'':26} {'wall s':>8} {'CPU s':>8} {'RSS MB':>8}")
    rows = [(f"{k} run --once", v) for k, v in trackers.items()]
    for name, runs in (*rows, (f"urlwatch {URLWATCH_VERSION}", u)):
        if len(runs) > 1:
            print(
                f"  {name:26} {med(runs, 'wall'):8.2f} {med(runs, 'cpu'):8.2f}"
                f" {med(runs, 'rss_mb'):8.0f}"
            )
    ratios: dict[str, object] = {}
    for label, runs in trackers.items():
        if len(runs) > 1 and len(u) > 1:
            walls = [b.wall / a.wall for a, b in zip(runs[1:], u[1:], strict=True)]
            cpus = [b.cpu / a.cpu for a, b in zip(runs[1:], u[1:], strict=True)]
            print(
                f"  urlwatch/{label} per cycle: wall {', '.join(f'{x:.2f}' for x in walls)};"
                f" CPU {', '.join(f'{x:.2f}' for x in cpus)}"
            )
            suffix = "" if label == "tracker" else f"@{label.partition('@')[2]}"
            ratios[f"cpu_ratio_median{suffix}"] = round(statistics.median(cpus), 2)
            ratios[f"wall_ratio_median{suffix}"] = round(statistics.median(walls), 2)
    for key, figures in res.daemon.items():
        print(f"  {key}: {json.dumps(figures)}")
    print(
        json.dumps(
            {
                "bench": "scale",
                "feeds": res.feeds,
                "hosts": res.hosts,
                "order": res.order,
                "tracker": [asdict(r) for r in t],
                "urlwatch": [asdict(r) for r in u],
                "tracker_median": {k: round(med(t, k), 3) for k in ("wall", "cpu", "rss_mb")},
                "urlwatch_median": {k: round(med(u, k), 3) for k in ("wall", "cpu", "rss_mb")}
                if u
                else None,
                "others": {k: [asdict(r) for r in v] for k, v in res.others.items()},
                "others_median": {
                    k: {f: round(med(v, f), 3) for f in ("wall", "cpu", "rss_mb")}
                    for k, v in res.others.items()
                },
                **ratios,
                "daemon": res.daemon,
            }
        ),
        flush=True,
    )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--feeds", type=int, nargs="+", default=[1000])
    ap.add_argument(
        "--cycles", type=int, default=4, help="run --once cycles, the baseline included"
    )
    ap.add_argument(
        "--hosts", type=int, default=20, help="loopback addresses the feeds spread over"
    )
    ap.add_argument("--no-urlwatch", dest="urlwatch", action="store_false")
    ap.add_argument("--no-daemon", dest="daemon", action="store_false")
    ap.add_argument("--daemon-mode", choices=["spread", "burst"], default="spread")
    ap.add_argument(
        "--daemon-interval", type=float, nargs="+", default=[900.0], help="spread: seconds"
    )
    ap.add_argument("--daemon-cycles", type=int, default=3, help="burst: steady daemon cycles")
    ap.add_argument("--interval", type=int, help="burst: the daemon's interval in seconds")
    ap.add_argument("--window", type=float, default=120.0, help="spread: seconds watched")
    ap.add_argument("--tmp", help="where the farm and databases go (default: the system's)")
    ap.add_argument("--keep", help="copy configs, logs and outputs (not feeds or databases) here")
    ap.add_argument(
        "--tree",
        action="append",
        default=[],
        help="another checkout (with its .venv) measured in the same cycles; repeatable",
    )
    args = ap.parse_args()
    # A SIGTERM (a timeout, a killed session) would end the process without running the
    # `finally` blocks, leaving nginx and the daemons running with the farm deleted under
    # them: turn it into SystemExit so they are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    nginx = find_nginx()
    for exe in [TRACKER, *(Path(t).resolve() / ".venv" / "bin" / "tracker" for t in args.tree)]:
        if not exe.exists():
            sys.exit(f"bench_scale: {exe} is missing: run `make .venv/.installed-test` there")
    uw_exe = ensure_urlwatch() if args.urlwatch else None
    for n in args.feeds:
        print(f"== {n} feeds", flush=True)
        report(one_size(args, n, nginx, uw_exe))
    return 0


if __name__ == "__main__":
    sys.exit(main())
