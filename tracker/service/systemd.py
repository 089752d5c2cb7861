"""systemd integration: sd_notify messages, a watchdog that only pings while the scheduler makes
progress, and a lock so that two daemons never share one database.

Everything here is a no-op outside systemd (no ``$NOTIFY_SOCKET``/``$WATCHDOG_USEC``), so the
daemon calls it unconditionally.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from tracker.errors import TrackerError
from tracker.log import event

log = logging.getLogger(__name__)

# A stalled tick for this long stops the watchdog pings; with WatchdogSec=60s systemd then kills
# and restarts the daemon at most a minute later.
DEFAULT_MAX_SILENCE_S = 30.0
# A blocking send must not freeze the event loop for long if systemd's queue is full.
_SEND_TIMEOUT_S = 1.0


class Notifier:
    """sd_notify(3) over the datagram socket in ``$NOTIFY_SOCKET``; silent when it is unset."""

    def __init__(self, address: str | None = None) -> None:
        raw = os.environ.get("NOTIFY_SOCKET", "") if address is None else address
        self.address = _socket_address(raw)
        self._sock: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str) -> bool:
        """Send ``KEY=value`` fields as one message; False (logged once) when it fails."""
        if self.address is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.settimeout(_SEND_TIMEOUT_S)
            self._sock.sendto("\n".join(fields).encode(), self.address)
        except OSError as exc:
            # A lost notification must never take the daemon down; one warning is enough.
            level = logging.DEBUG if self._warned else logging.WARNING
            self._warned = True
            event(log, level, "notify.failed", socket=_printable(self.address), error=exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Startup is complete (Type=notify waits for this)."""
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        """A one-line status shown by ``systemctl status``."""
        return self.send(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        """Keep-alive ping for WatchdogSec=."""
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        """A graceful stop has begun."""
        return self.send("STOPPING=1")

    def reloading(self) -> bool:
        """A reload has begun; send ``ready()`` when it is done (Type=notify-reload needs both)."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def extend_timeout(self, usec: int) -> bool:
        """Ask for ``usec`` more microseconds before a start/stop timeout fires."""
        return self.send(f"EXTEND_TIMEOUT_USEC={usec}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _socket_address(raw: str) -> str | None:
    """``$NOTIFY_SOCKET`` as a socket address: a path, or '@name' for the abstract namespace."""
    if raw.startswith("/"):
        return raw
    if raw.startswith("@"):
        return "\0" + raw[1:]
    if raw:
        # e.g. "vsock:…" (systemd ≥ 254, for VMs): not something a service inside the host gets.
        event(log, logging.WARNING, "notify.unsupported", socket=raw)
    return None


def _printable(address: str) -> str:
    return "@" + address[1:] if address.startswith("\0") else address


def _one_line(text: str) -> str:
    # A newline would end the STATUS= field and start a bogus one.
    return " ".join(text.split())


def watchdog_interval() -> float | None:
    """How often to ping: half of ``$WATCHDOG_USEC`` in seconds, or None when not watched."""
    pid = os.environ.get("WATCHDOG_PID")
    if pid is not None and pid.strip() != str(os.getpid()):
        return None  # the watchdog is meant for another process (e.g. our parent)
    try:
        usec = int(os.environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2 / 1_000_000 if usec > 0 else None


class ProgressGate:
    """Remembers when the scheduler tick last ran, so the watchdog only vouches for progress."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # Silence counts from creation, so a daemon that never ticks at all is caught too.
        self.last_beat = clock()
        self.beats = 0

    def beat(self) -> None:
        """The tick ran: call it on every scheduler tick."""
        self.last_beat = self._clock()
        self.beats += 1

    def silence(self, now: float | None = None) -> float:
        """Seconds since the last tick (or since creation, before the first)."""
        return (self._clock() if now is None else now) - self.last_beat

    def healthy(
        self, now: float | None = None, max_silence_s: float = DEFAULT_MAX_SILENCE_S
    ) -> bool:
        """True when the tick ran within ``max_silence_s`` (``now`` is on the gate's clock)."""
        return self.silence(now) <= max_silence_s

    def check(self, max_silence_s: float = DEFAULT_MAX_SILENCE_S) -> tuple[bool, str]:
        """(healthy, reason): fits ``HealthServer``'s check callback."""
        silence = self.silence()
        if silence <= max_silence_s:
            return True, "ok"
        return False, f"scheduler stalled: no tick for {silence:.0f}s"


async def watchdog_loop(
    notifier: Notifier,
    gate: ProgressGate,
    interval_s: float,
    stop: asyncio.Event,
    max_silence_s: float = DEFAULT_MAX_SILENCE_S,
) -> None:
    """Ping the watchdog every ``interval_s`` while the gate is healthy, until ``stop`` is set."""
    stalled = False
    while not stop.is_set():
        if gate.healthy(max_silence_s=max_silence_s):
            if stalled:
                event(log, logging.INFO, "watchdog.resumed")
            stalled = False
            notifier.watchdog()
        elif not stalled:
            # Withholding pings is deliberate: systemd will kill and restart a stuck daemon.
            stalled = True
            event(log, logging.ERROR, "watchdog.withheld", silence_s=round(gate.silence(), 1))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)


class InstanceLock:
    """An exclusive ``flock`` on ``<database>.lock``: one daemon per database, released on exit."""

    def __init__(self, db_path: str | os.PathLike[str] | None = None) -> None:
        self.db_path = Path(db_path) if db_path is not None else None
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, db_path: str | os.PathLike[str] | None = None) -> Self:
        """Take the lock or raise TrackerError naming the daemon that holds it."""
        if db_path is not None:
            self.db_path = Path(db_path)
        if self.db_path is None:
            raise ValueError("InstanceLock needs the database path")
        if self._fd is not None:
            return self
        db = Path(os.path.abspath(self.db_path))
        lock_path = db.with_name(db.name + ".lock")
        fd = _open_lock_file(lock_path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise TrackerError(
                f"another tracker (pid {holder or 'unknown'}) is already running on {db}",
                hint="stop it first, or give this one another database",
            ) from None
        except OSError as exc:
            os.close(fd)
            raise TrackerError(f"cannot lock {lock_path}: {exc.strerror or exc}") from exc
        # The pid is for the error message above; the flock itself is the lock.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Let the next daemon start; the file stays (unlinking it would race a new locker)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the last descriptor drops the flock

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def daemon_pid(db_path: str | os.PathLike[str]) -> int | None:
    """The pid of the daemon holding ``<database>.lock``, or None when none runs (for
    `tracker reload`). Probing takes a shared lock for an instant, never the file's pid."""
    db = Path(os.path.abspath(db_path))
    try:
        fd = os.open(db.with_name(db.name + ".lock"), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TrackerError(f"cannot read the lock file of {db}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _read_pid(fd)
        if pid is None:
            raise TrackerError(f"a tracker runs on {db}, but its lock file names no pid") from None
        return pid
    else:
        return None
    finally:
        os.close(fd)  # drops the shared lock, if taken


def _open_lock_file(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise TrackerError(f"cannot create lock file {path}: {exc.strerror or exc}") from exc


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip())
    except (OSError, ValueError):
        return None


def status_line(feeds: int, failing: int, pending_alerts: int) -> str:
    """The STATUS= text: ``polling 42 feeds, 3 failing, 0 pending alerts``."""
    return (
        f"polling {feeds} feed{'s' if feeds != 1 else ''}, {failing} failing,"
        f" {pending_alerts} pending alert{'s' if pending_alerts != 1 else ''}"
    )
