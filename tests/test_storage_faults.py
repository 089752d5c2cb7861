"""Storage faults under a live daemon (a subprocess): a full disk, an immutable database, a
write lock held by another process, a deleted database; and the read-only commands on a
read-only mount. Each fault is a state (one log line, /healthz 503, no polling storm), the
daemon resumes by itself, and nothing already accepted is lost."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from test_daemon import Daemon

from conftest import run_cli
from feedserver import FeedServer
from rss import Item, rss
from smtpserver import free_port
from webhookserver import Receiver, start_receiver

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root (tmpfs mounts, chattr +i, read-only bind mounts)"
)


@pytest.fixture
def hook() -> Iterator[Receiver]:
    receiver = start_receiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    where = tmp_path / "disk"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2M", "tmpfs", str(where)], check=True)
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def _config(tmp_path: Path, db: Path, feeds: list[str], hook: Receiver, port: int) -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "\n".join(
            [
                f"database: {db}",
                "defaults: {interval: 2s, jitter: 0s}",
                "feeds:",
                *[f"  - url: {u}" for u in feeds],
                f"metrics: {{listen: '127.0.0.1:{port}'}}",
                "topics:\n  wall:\n    query: wall\n    notify: [ops]",
                f"channels:\n  ops:\n    type: webhook\n    url: {hook.url}",
                "delivery: {admin: ops, retry_base: 1s, retry_max: 2s}",
            ]
        )
        + "\n"
    )
    return cfg


def _healthz(port: int) -> tuple[int, str, float]:
    started = time.monotonic()
    r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=15)
    return r.status_code, r.text, time.monotonic() - started


def _titles(hook: Receiver) -> list[str]:
    return [r.json["article"]["title"] for r in hook.accepted() if "article" in r.json]


def _fault_cycle(
    tmp_path: Path,
    db: Path,
    feed_server: FeedServer,
    hook: Receiver,
    break_storage: Callable[[], None],
    repair: Callable[[], None],
    kind: str,
    big: bool = False,
) -> Daemon:
    """Baseline two feeds, leave one alert pending (the webhook refuses it), break the
    storage, then check the degraded state, repair, and check recovery and delivery."""
    a = feed_server.add("/a.xml", rss([Item("old a", "https://a.example/0", "a0")]))
    b = feed_server.add("/b.xml", rss([Item("old b", "https://b.example/0", "b0")]))
    port = free_port()
    daemon = Daemon(_config(tmp_path, db, [a, b], hook, port))
    daemon.wait_for(lambda: daemon.log.count("poll.ok") >= 2)
    # An alert accepted before the fault, kept pending by a refusing webhook.
    hook.script.extend([(500, {})] * 10_000)
    feed_server.add(
        "/a.xml",
        rss([Item("old a", "https://a.example/0", "a0"), Item("wall one", "https://a.example/1")]),
    )
    daemon.wait_for(lambda: any(r.status == 500 for r in hook.received))
    break_storage()
    # News during the fault: its write cannot land (large, so a full disk cannot take it).
    summary = ("wall " + "x" * 60 + " ") * (6000 if big else 10)
    feed_server.add(
        "/b.xml",
        rss(
            [
                Item("old b", "https://b.example/0", "b0"),
                Item("wall two", "https://b.example/2", summary=summary),
            ]
        ),
    )
    daemon.wait_log("storage.degraded", timeout=30)
    seen = len(feed_server.seen)
    code, body, took = _healthz(port)
    assert code == 503 and f"storage degraded ({kind})" in body, body
    assert took < 3, f"/healthz took {took:.1f}s"
    time.sleep(7)  # more than three feed intervals
    log = daemon.log
    # No storm: at most the polls already in flight when the fault was seen.
    assert len(feed_server.seen) - seen <= 2, feed_server.seen[seen:]
    assert log.count("storage.degraded") == 1
    # (and no "maximum number of running instances": no job outlives its interval)
    quiet = ("Traceback", "poll crashed", "entry.skipped", "poll.failed", "maximum number of")
    for noise in quiet:
        assert noise not in log, log
    # The admin notice went straight to the admin channel (the outbox is in the database).
    assert any(r.json.get("kind") == "storage_degraded" for r in hook.received)
    code, body, took = _healthz(port)
    assert code == 503 and took < 3
    hook.script.clear()  # the webhook accepts from now on
    repair()
    daemon.wait_log("storage.recovered", timeout=30)
    daemon.wait_for(lambda: _healthz(port)[0] == 200)
    # The pending alert survived, and the news read during the fault was read again.
    daemon.wait_for(lambda: {"wall one", "wall two"} <= set(_titles(hook)), timeout=30)
    assert _titles(hook).count("wall two") == 1
    log = daemon.log
    # One `alert` line: none for the write that rolled back.
    lines = [x for x in log.splitlines() if " alert " in x and 'title="wall two"' in x]
    assert len(lines) == 1, lines
    assert "Traceback" not in log
    return daemon


@needs_root
@pytest.mark.slow
def test_full_disk_degrades_then_recovers(
    feed_server: FeedServer, hook: Receiver, tmpfs: Path, tmp_path: Path
) -> None:
    fill = tmpfs / "fill"

    def fill_disk() -> None:
        subprocess.run(
            ["dd", "if=/dev/zero", f"of={fill}", "bs=64k"], capture_output=True, check=False
        )

    daemon = _fault_cycle(
        tmp_path, tmpfs / "t.db", feed_server, hook, fill_disk, fill.unlink, "full", big=True
    )
    assert daemon.stop() == 0


@needs_root
@pytest.mark.slow
def test_immutable_database_degrades_then_recovers(
    feed_server: FeedServer, hook: Receiver, tmp_path: Path
) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    db = tmp_path / "t.db"
    files = [str(db), f"{db}-wal"]

    daemon = _fault_cycle(
        tmp_path,
        db,
        feed_server,
        hook,
        lambda: subprocess.run(["chattr", "+i", *files], check=True),
        lambda: subprocess.run(["chattr", "-i", *files], check=True),
        "io",
    )
    assert daemon.stop() == 0


def hold_write_lock(db: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding ``BEGIN IMMEDIATE`` on ``db`` for ``seconds``."""
    code = (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[2]))\n"
        "c.execute('ROLLBACK')\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.slow
def test_foreign_write_lock_degrades_then_recovers(
    feed_server: FeedServer, hook: Receiver, tmp_path: Path
) -> None:
    db = tmp_path / "t.db"
    holder: list[subprocess.Popen[str]] = []
    lock_s = 25.0  # beyond the 5 s busy timeout and the test's own 7 s look, with room

    daemon = _fault_cycle(
        tmp_path,
        db,
        feed_server,
        hook,
        lambda: holder.append(hold_write_lock(db, lock_s)),
        lambda: holder[0].wait(timeout=30),
        "locked",
    )
    assert daemon.stop() == 0


@pytest.mark.slow
def test_deleted_database_stops_the_daemon_and_is_not_rebaselined(
    feed_server: FeedServer, hook: Receiver, tmp_path: Path
) -> None:
    url = feed_server.add("/d.xml", rss([Item("old", "https://d.example/0", "d0")]))
    db = tmp_path / "t.db"
    cfg = _config(tmp_path, db, [url], hook, free_port())
    daemon = Daemon(cfg)
    daemon.wait_log("poll.ok")
    for p in tmp_path.glob("t.db*"):
        if not p.name.endswith(".lock"):
            p.unlink()
    code = daemon.proc.wait(timeout=20)
    daemon.stop()
    assert code == 1
    assert "storage.lost" in daemon.log and "was deleted" in daemon.log
    assert not db.exists()  # nothing was written after the loss
    again = run_cli("--config", str(cfg), "run")
    assert again.returncode == 1
    assert "does not exist" in again.stderr and "--init" in again.stderr
    once = run_cli("--config", str(cfg), "run", "--once")
    assert once.returncode == 1 and not db.exists()
    fresh = run_cli("--config", str(cfg), "run", "--once", "--init")
    assert fresh.returncode == 0, fresh.stderr
    assert db.exists()


@pytest.mark.slow
def test_replaced_database_stops_the_daemon(
    feed_server: FeedServer, hook: Receiver, tmp_path: Path
) -> None:
    url = feed_server.add("/r.xml", rss([Item("old", "https://r.example/0", "r0")]))
    db = tmp_path / "t.db"
    daemon = Daemon(_config(tmp_path, db, [url], hook, free_port()))
    daemon.wait_log("poll.ok")
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    os.replace(copy, db)
    code = daemon.proc.wait(timeout=20)
    daemon.stop()
    assert code == 1 and "was replaced" in daemon.log


@needs_root
def test_listings_work_on_a_read_only_mount_and_run_refuses_clearly(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    url = feed_server.add("/o.xml", rss([Item("wall", "https://o.example/1", "o1")]))
    data = tmp_path / "data"
    data.mkdir()
    ro = tmp_path / "ro"
    ro.mkdir()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"database: {data / 't.db'}\nfeeds:\n  - url: {url}\n")
    assert run_cli("--config", str(cfg), "run", "--once").returncode == 0
    subprocess.run(["mount", "--bind", str(data), str(ro)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
        cfg.write_text(f"database: {ro / 't.db'}\nfeeds:\n  - url: {url}\n")
        feeds = run_cli("--config", str(cfg), "feeds")
        assert feeds.returncode == 0, feeds.stderr
        assert url in feeds.stdout or "o.xml" in feeds.stdout
        alerts = run_cli("--config", str(cfg), "alerts")
        assert alerts.returncode == 0, alerts.stderr
        run = run_cli("--config", str(cfg), "run", "--once")
        assert run.returncode == 1, run.stderr
        assert "read-only" in run.stderr.lower() and "internal error" not in run.stderr
    finally:
        subprocess.run(["umount", str(ro)], check=False)
    # An immutable database in a writable folder: the daemon refuses it at start, exit 1.
    cfg.write_text(f"database: {data / 't.db'}\nfeeds:\n  - url: {url}\n")
    if shutil.which("chattr") is None:
        return
    subprocess.run(["chattr", "+i", str(data / "t.db")], check=True)
    try:
        run = run_cli("--config", str(cfg), "run")
        assert run.returncode == 1, run.stderr
        assert "is read-only" in run.stderr and "internal error" not in run.stderr
        assert run_cli("--config", str(cfg), "feeds").returncode == 0
    finally:
        subprocess.run(["chattr", "-i", str(data / "t.db")], check=True)


def test_a_missing_database_with_its_traces_left_needs_init(tmp_path: Path) -> None:
    from tracker.errors import StoreError
    from tracker.store.writer import check_not_lost

    db = tmp_path / "t.db"
    check_not_lost(db, init=False)  # never existed: a first start
    (tmp_path / "t.db-wal").write_bytes(b"old frames")
    with pytest.raises(StoreError, match="--init"):
        check_not_lost(db, init=False)
    check_not_lost(db, init=True)
    assert not (tmp_path / "t.db-wal").exists()  # set aside, never replayed into a new file
    assert [p.read_bytes() for p in tmp_path.glob("t.db-wal.orphaned-*")] == [b"old frames"]


def test_storage_errors_are_classified_by_result_code(tmp_path: Path) -> None:
    import sqlite3

    from tracker.store.writer import storage_fault

    db = tmp_path / "t.db"
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.commit()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(db, timeout=0.05, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError) as locked:
        other.execute("BEGIN IMMEDIATE")
    fault = storage_fault(locked.value, db)
    assert fault is not None and fault.kind == "locked"
    holder.execute("ROLLBACK")
    ro = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as readonly:
        ro.execute("INSERT INTO t VALUES (1)")
    fault = storage_fault(readonly.value, db)
    assert fault is not None and fault.kind == "read-only"
    with pytest.raises(sqlite3.OperationalError) as syntax:
        other.execute("SELEC 1")
    assert storage_fault(syntax.value, db) is None  # a bug is not a storage state
