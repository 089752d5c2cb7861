"""systemd integration against real sockets, real locks and a second real process."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracker.errors import TrackerError
from tracker.service.systemd import (
    InstanceLock,
    Notifier,
    ProgressGate,
    status_line,
    watchdog_interval,
    watchdog_loop,
)

from conftest import ROOT


@pytest.fixture
def notify_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A bound datagram socket standing in for systemd; ``$NOTIFY_SOCKET`` points at it."""
    # A short directory: AF_UNIX paths are limited to 108 bytes, pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="tn") as tmp:
        path = os.path.join(tmp, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        yield sock
        sock.close()


def _recv(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def test_notifier_sends_each_message(notify_socket: socket.socket) -> None:
    notifier = Notifier()
    assert notifier.enabled
    assert notifier.ready()
    assert _recv(notify_socket) == "READY=1"
    assert notifier.status("polling 3 feeds,\n1 failing")
    assert _recv(notify_socket) == "STATUS=polling 3 feeds, 1 failing"
    assert notifier.watchdog()
    assert _recv(notify_socket) == "WATCHDOG=1"
    assert notifier.stopping()
    assert _recv(notify_socket) == "STOPPING=1"
    assert notifier.extend_timeout(5_000_000)
    assert _recv(notify_socket) == "EXTEND_TIMEOUT_USEC=5000000"
    assert notifier.ready(status="reloaded")
    assert _recv(notify_socket) == "READY=1\nSTATUS=reloaded"
    notifier.close()


def test_reloading_carries_the_monotonic_clock(notify_socket: socket.socket) -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    Notifier().reloading()
    first, second = _recv(notify_socket).split("\n")
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert first == "RELOADING=1"
    key, value = second.split("=")
    assert key == "MONOTONIC_USEC" and before <= int(value) <= after


def test_notifier_reaches_an_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"tracker-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert Notifier().ready()
        assert _recv(sock) == "READY=1"


def test_notifier_is_silent_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    assert not notifier.enabled
    assert not notifier.ready()
    assert not notifier.watchdog()


def test_send_errors_are_logged_once_and_never_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    notifier = Notifier()
    with caplog.at_level(logging.DEBUG, logger="tracker.service.systemd"):
        assert not notifier.ready()
        assert not notifier.watchdog()
        assert not notifier.watchdog()
    failures = [r for r in caplog.records if r.getMessage() == "notify.failed"]
    assert [r.levelno for r in failures] == [logging.WARNING, logging.DEBUG, logging.DEBUG]


def test_watchdog_interval_is_half_of_watchdog_usec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "60000000")
    assert watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # meant for another process
    assert watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_PID")
    for bad in ("0", "-5", "soon", ""):
        monkeypatch.setenv("WATCHDOG_USEC", bad)
        assert watchdog_interval() is None


def test_progress_gate_tracks_silence() -> None:
    now = [100.0]
    gate = ProgressGate(clock=lambda: now[0])
    assert gate.healthy(max_silence_s=10)  # counts from creation
    now[0] = 111.0
    assert not gate.healthy(max_silence_s=10)
    assert gate.healthy(now=105.0, max_silence_s=10)
    assert gate.check(max_silence_s=10) == (False, "scheduler stalled: no tick for 11s")
    gate.beat()
    assert gate.healthy(max_silence_s=10)
    assert gate.check(max_silence_s=10) == (True, "ok")
    assert gate.beats == 1


def test_watchdog_pings_only_while_the_scheduler_ticks(
    notify_socket: socket.socket, caplog: pytest.LogCaptureFixture
) -> None:
    notify_socket.setblocking(False)
    pings: list[float] = []

    async def collect() -> None:
        loop = asyncio.get_running_loop()
        while True:
            message = await loop.sock_recv(notify_socket, 4096)
            assert message == b"WATCHDOG=1"
            pings.append(time.monotonic())

    async def scenario() -> tuple[float, float]:
        gate, stop = ProgressGate(), asyncio.Event()
        reader = asyncio.create_task(collect())
        loop_task = asyncio.create_task(
            watchdog_loop(Notifier(), gate, 0.05, stop, max_silence_s=0.25)
        )
        for _ in range(8):  # a ticking scheduler
            gate.beat()
            await asyncio.sleep(0.05)
        stalled_from = gate.last_beat + 0.25 + 0.06  # max silence, plus one ping interval
        await asyncio.sleep(0.6)  # the scheduler stalls
        resumed_at = time.monotonic()
        gate.beat()
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.wait_for(loop_task, 0.5)  # stop ends the loop promptly
        await asyncio.sleep(0.02)
        reader.cancel()
        return stalled_from, resumed_at

    with caplog.at_level(logging.INFO, logger="tracker.service.systemd"):
        stalled_from, resumed_at = asyncio.run(scenario())
    assert len([t for t in pings if t < stalled_from]) >= 5
    assert [t for t in pings if stalled_from <= t < resumed_at] == []
    assert len([t for t in pings if t >= resumed_at]) >= 2
    events = [r.getMessage() for r in caplog.records if r.name == "tracker.service.systemd"]
    assert events.count("watchdog.withheld") == 1
    assert events.count("watchdog.resumed") == 1


_TRY_LOCK = textwrap.dedent(
    """
    import sys
    from tracker.errors import TrackerError
    from tracker.service.systemd import InstanceLock
    try:
        InstanceLock().acquire(sys.argv[1]).release()
    except TrackerError as exc:
        print(exc.message)
        sys.exit(3)
    """
)


def _try_lock_elsewhere(db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _TRY_LOCK, str(db)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )


@pytest.mark.slow
def test_second_daemon_on_the_same_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    lock_file = tmp_path / "tracker.db.lock"
    with InstanceLock(db) as lock:
        assert lock.held
        assert lock_file.read_text() == f"{os.getpid()}\n"
        other = _try_lock_elsewhere(db)
        assert other.returncode == 3, other.stderr
        assert other.stdout.strip() == (
            f"another tracker (pid {os.getpid()}) is already running on {db}"
        )
    assert lock_file.read_text() == ""  # released: no stale pid left behind
    other = _try_lock_elsewhere(db)
    assert other.returncode == 0, other.stdout + other.stderr


def test_lock_file_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("")
    with pytest.raises(TrackerError) as caught:
        InstanceLock().acquire(tmp_path / "not-a-dir" / "tracker.db")
    assert caught.value.message.startswith(
        f"cannot create lock file {tmp_path / 'not-a-dir' / 'tracker.db.lock'}: "
    )


def test_status_line() -> None:
    assert status_line(42, 3, 0) == "polling 42 feeds, 3 failing, 0 pending alerts"
    assert status_line(1, 0, 1) == "polling 1 feed, 0 failing, 1 pending alert"
