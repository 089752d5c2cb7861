"""Each parse in a worker process, under a deadline and a memory cap that are enforced.

feedparser's cost grows with hostile structure: quadratic in the attributes of one element
(100,000 took 78 s), 936 MB for 3.3 million unclosed tags. A thread cannot be stopped, so the
daemon parses in a small pool of processes (``ParsePool``). Each parse has a worker to itself:

- memory: before each parse the worker sets its soft ``RLIMIT_AS`` to what it held at rest
  plus ``ParseSettings.max_memory``, so an allocation past it raises MemoryError there; the
  worker answers "exceeded" and exits, and a fresh one takes its place. The parent also
  watches the worker's resident memory (every 50 ms) and kills it past the same bound:
  that watch is what holds where setrlimit is refused (systemd's ``@resources`` filter);
- time: the parent waits ``ParseSettings.timeout_s`` for the answer (sending the body and
  reading the result included), then kills the worker (SIGKILL) and starts another;
- a worker that dies (a crash in C code, a kill from outside) fails only its own parse.

Every one of these is a ``ParseError`` with a plain message ("parse exceeded 10s
(parse.timeout)"), which the pipeline stores as the feed's error, with backoff. ``close()``
kills the workers, so a parse in flight never holds up the daemon's stop. ``InlineParser``
is the same interface in a thread, without bounds, for tests and tools that build a
``Poller`` by hand.

A result comes back as bounded messages (its head, then ``ROWS_PER_MESSAGE`` entries each as
plain tuples), never one pickle: the parent unpickles each message in a C call that holds
the GIL, and one message of a 100,000-item result stalled the event loop 0.1-0.5 s. The
entries built from them are taken off the cyclic collector's list (``tracker.heap``).

Workers come from a forkserver (started once, with ``tracker.ingest.items`` imported), so a
replacement costs a fork, not an interpreter start, and never forks the daemon's threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import operator
import os
import resource
import signal
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Literal, Protocol

from tracker.errors import ParseError
from tracker.heap import untrack
from tracker.ingest import items
from tracker.ingest.items import KeyedFeed
from tracker.models import Entry
from tracker.settings import ParseSettings
from tracker.units import format_duration, format_size


class Parser(Protocol):
    """Turns a feed body into keyed entries, off the event loop (``ingest.items``); the
    items whose fingerprints are in ``known`` are cut before parsing."""

    async def parse(
        self,
        body: bytes,
        headers: Mapping[str, str],
        url: str,
        limits: ParseSettings,
        known: frozenset[bytes] = frozenset(),
    ) -> KeyedFeed: ...


class InlineParser:
    """The parse in a worker thread of this process: no deadline, no memory cap."""

    async def parse(
        self,
        body: bytes,
        headers: Mapping[str, str],
        url: str,
        limits: ParseSettings,
        known: frozenset[bytes] = frozenset(),
    ) -> KeyedFeed:
        """``items.parse_keyed`` in a thread (``limits`` cannot be enforced there)."""
        return await asyncio.to_thread(items.parse_keyed, body, headers, url, known)


# What a worker answers: a result, a ParseError's message, or that it ran out of memory.
# A result is its KeyedFeed without entries and how many messages of entries follow, each
# ("rows", up to ROWS_PER_MESSAGE entries as plain tuples): see _send_result.
_Row = tuple[str | None, str | None, str, str, str, datetime | None, str | None, tuple[str, ...]]
_Reply = tuple[Literal["ok"], KeyedFeed, int] | tuple[Literal["error", "memory"], str]
_Rows = tuple[Literal["rows"], tuple[_Row, ...]] | tuple[Literal["memory"], str]

# Entries per message of a result. The parent unpickles each message in one C call that
# holds the GIL: one message of a 100,000-item feed's result held it 0.1-0.5 s (more with
# the collections it set off), the event loop stalled with it; 1,000 rows take about 2 ms.
ROWS_PER_MESSAGE = 1000
_ROW = operator.attrgetter(*(f.name for f in dataclasses.fields(Entry)))


def _send_result(conn: multiprocessing.connection.Connection, keyed: KeyedFeed) -> None:
    """Send a parse result as bounded messages: its head, then its entries as rows."""
    entries = keyed.feed.entries
    head = dataclasses.replace(keyed, feed=dataclasses.replace(keyed.feed, entries=()))
    chunks = range(0, len(entries), ROWS_PER_MESSAGE)
    conn.send(("ok", head, len(chunks)))
    for i in chunks:
        rows: tuple[_Row, ...] = tuple(map(_ROW, entries[i : i + ROWS_PER_MESSAGE]))
        conn.send(("rows", rows))


def _entries(rows: tuple[_Row, ...]) -> list[Entry]:
    """Received rows as entries, each off the collector's list: an entry holds strings, a
    date and a tuple of strings, and 100,000 young ones made each full collection walk
    them while the feed was stored (tracker.heap)."""
    entries = [Entry(*row) for row in rows]
    for entry in entries:
        untrack(entry)
    return entries


def _exceeded(limits: ParseSettings, what: Literal["time", "memory"]) -> ParseError:
    if what == "time":
        return ParseError(f"parse exceeded {format_duration(limits.timeout_s)} (parse.timeout)")
    return ParseError(f"parse exceeded {format_size(limits.max_memory)} (parse.max_memory)")


def _vm_size() -> int:
    """This process's address space in bytes (what RLIMIT_AS counts)."""
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _die_with_parent() -> None:
    """SIGKILL this worker when its parent (the forkserver, which exits with the daemon) dies,
    so a daemon killed mid-parse leaves no parse running on (Linux's PR_SET_PDEATHSIG)."""
    # The forkserver exits when every copy of its "alive" pipe is closed, and it hands one
    # to each child it forks: a worker's copy would keep it (and so the worker) running.
    server = multiprocessing.forkserver._forkserver
    alive = getattr(server, "_forkserver_alive_fd", None)
    if alive is not None:
        with contextlib.suppress(OSError):
            os.close(alive)
        server._forkserver_alive_fd = None  # type: ignore[attr-defined]
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


_PR_SET_PDEATHSIG = 1


def _serve(conn: multiprocessing.connection.Connection, address_cap: bool) -> None:
    """A worker's loop: one request at a time until the pipe closes (the parent is gone)."""
    # Ctrl-C reaches the whole process group: the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    at_rest = _vm_size()
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        body, headers, url, max_memory, known = request
        cap = at_rest + max_memory
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        if address_cap:
            with contextlib.suppress(OSError):  # refused by a seccomp filter: the parent watches
                resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        reply: _Reply | None = None
        try:
            keyed = items.parse_keyed(body, headers, url, known)
        except ParseError as exc:
            reply = ("error", exc.message)
        except MemoryError:
            reply = ("memory", "")
        del body, request
        try:
            if reply is None:
                _send_result(conn, keyed)
            else:
                conn.send(reply)
        except MemoryError:  # the result itself is too large to send
            reply = ("memory", "")
            conn.send(reply)
        if reply is not None and reply[0] == "memory":
            return  # a fresh worker rather than a heap grown to the cap


# How often the parent checks a busy worker's resident memory.
WATCH_EVERY_S = 0.05


def _rss(pid: int | None) -> int | None:
    """Resident memory of process ``pid`` in bytes, None when /proc cannot say."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, ctx: multiprocessing.context.BaseContext, address_cap: bool) -> None:
        parent, child = ctx.Pipe()
        self.process = ctx.Process(  # type: ignore[attr-defined]
            target=_serve, args=(child, address_cap), name="tracker-parse", daemon=True
        )
        self.process.start()
        child.close()
        self.conn = parent
        self._rest_rss: int | None = None
        self._killed = threading.Lock()

    def call(self, request: object, limits: ParseSettings) -> _Reply | Literal["time", "memory"]:
        """Send one request and wait for the answer, or for a limit to pass first.
        Raises EOFError or OSError when the worker died."""
        if self._rest_rss is None:
            self._rest_rss = _rss(self.process.pid)
        self.conn.send(request)
        deadline = time.monotonic() + limits.timeout_s
        while not self.conn.poll(max(0.0, min(WATCH_EVERY_S, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                return "time"
            # The worker's own RLIMIT_AS is the hard cap; this watch is the one that holds
            # where setrlimit is refused (systemd's SystemCallFilter=~@resources).
            rss, rest = _rss(self.process.pid), self._rest_rss
            if rss is not None and rest is not None and rss - rest > limits.max_memory:
                return "memory"
        reply: _Reply = self.conn.recv()
        return reply

    def receive_entries(self, messages: int) -> list[Entry] | Literal["memory"]:
        """The entries that follow a result's head, ``messages`` messages of them (sent at
        once: the parse is done). Raises EOFError or OSError when the worker died."""
        entries: list[Entry] = []
        for _ in range(messages):
            reply: _Rows = self.conn.recv()
            match reply:
                case ("rows", rows):
                    entries += _entries(rows)
                case ("memory", _):
                    return "memory"
        return entries

    def signal_kill(self) -> None:
        """SIGKILL the worker, leaving its pipe to the thread that may be reading it."""
        if self.process.exitcode is None:
            self.process.kill()

    def kill(self) -> None:
        """Stop the worker now (SIGKILL), reap it and close the pipe; only by the thread that
        uses the worker (or when none does). Once: the pipe's fd must not be closed twice."""
        if not self._killed.acquire(blocking=False):
            return
        self.signal_kill()
        self.process.join(5)
        self.conn.close()


class _Slot:
    """One place for a parse: at most one worker, used by one parse at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.worker: _Worker | None = None
        self.closed = False
        self.busy = False  # a parse thread holds this slot (it alone closes the pipe)

    def take(self, ctx: multiprocessing.context.BaseContext, address_cap: bool = True) -> _Worker:
        """The slot's worker (started if there is none, or it died), for the calling thread."""
        with self.lock:
            if self.closed:
                raise ParseError("parse stopped: the daemon is shutting down")
            if self.worker is None or self.worker.process.exitcode is not None:
                if self.worker is not None:
                    self.worker.kill()
                self.worker = _Worker(ctx, address_cap)
            return self.worker

    def hold(self, busy: bool) -> None:
        with self.lock:
            self.busy = busy

    def discard(self, worker: _Worker) -> None:
        """Kill ``worker`` and forget it (a new one starts at the next ``take``)."""
        worker.kill()
        with self.lock:
            if self.worker is worker:
                self.worker = None

    def kill_worker(self) -> None:
        """Kill the current worker (its parse fails with EOF); a new one starts later."""
        with self.lock:
            worker = self.worker
        if worker is not None:
            worker.signal_kill()

    def close(self) -> None:
        """No new worker from now on; the current one is killed (and, if idle, reaped)."""
        with self.lock:
            self.closed = True
            worker, busy = self.worker, self.busy
            if not busy:
                self.worker = None
        if worker is not None:
            # A busy worker's thread sees EOF and reaps it; closing its pipe under that
            # thread could close an fd number already reused.
            if busy:
                worker.signal_kill()
            else:
                worker.kill()


class _Call:
    """One awaited parse: which slot it holds, so that cancelling it can kill its worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slot: _Slot | None = None
        self._aborted = False

    def begin(self, slot: _Slot) -> None:
        with self._lock:
            if self._aborted:
                raise ParseError("parse cancelled")
            self._slot = slot

    def end(self) -> None:
        with self._lock:
            self._slot = None

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            if self._slot is not None:
                self._slot.kill_worker()


class ParsePool:
    """``workers`` processes parsing one feed each, every parse under its ``ParseSettings``."""

    def __init__(
        self,
        workers: int,
        start_method: Literal["forkserver", "fork"] = "forkserver",
        *,
        address_cap: bool = True,
    ) -> None:
        """``start_method="fork"`` only in a process without threads (a CLI command): it
        saves starting the forkserver (a second of a CLI run), and forks what is imported.
        ``address_cap=False`` leaves RLIMIT_AS alone: memory is then bounded by the
        parent's watch of the worker's resident memory only (as where setrlimit is refused)."""
        self.workers = max(1, workers)
        self._address_cap = address_cap
        self._ctx = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            # Imported once in the forkserver, inherited by every worker it forks. The main
            # module too: else each worker imports it again (the CLI's: 0.4 s per worker);
            # and feedparser, which ingest.parse imports only at the first parse.
            self._ctx.set_forkserver_preload(["__main__", "tracker.ingest.items", "feedparser"])
        self._slots = [_Slot() for _ in range(self.workers)]
        self._free: list[_Slot] = list(self._slots)
        self._available = threading.Condition()
        self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="tracker-parse")
        self._closed = False
        self._waiting: set[asyncio.Task[object]] = set()

    def start(self) -> None:
        """Start every worker now (blocking: call it off the event loop, or before it)."""
        for slot in self._slots:
            slot.take(self._ctx, self._address_cap)

    def parse_sync(
        self, body: bytes, headers: Mapping[str, str], url: str, limits: ParseSettings
    ) -> KeyedFeed:
        """One parse, waiting in this thread: the result, or ParseError."""
        slot = self._acquire()
        try:
            return self._run(slot, body, headers, url, limits, frozenset())
        finally:
            self._release(slot)

    async def parse(
        self,
        body: bytes,
        headers: Mapping[str, str],
        url: str,
        limits: ParseSettings,
        known: frozenset[bytes] = frozenset(),
    ) -> KeyedFeed:
        """One parse in a worker, awaited; cancelling it kills that worker."""
        call = _Call()
        done: Future[KeyedFeed] = self._threads.submit(
            self._parse_call, call, body, headers, url, limits, known
        )
        task = asyncio.current_task()
        if task is not None:
            self._waiting.add(task)
        try:
            return await asyncio.wrap_future(done)
        except asyncio.CancelledError:
            done.cancel()  # not started yet: it never will be
            call.abort()  # started: its worker is killed, so the thread returns at once
            raise
        finally:
            if task is not None:
                self._waiting.discard(task)

    def cancel_waiting(self) -> int:
        """Cancel every task awaiting a parse (their workers are killed): what a stop does
        first, since nothing is stored before the parse is done. Returns how many."""
        waiting = list(self._waiting)
        for task in waiting:
            task.cancel()
        return len(waiting)

    def _parse_call(
        self,
        call: _Call,
        body: bytes,
        headers: Mapping[str, str],
        url: str,
        limits: ParseSettings,
        known: frozenset[bytes],
    ) -> KeyedFeed:
        slot = self._acquire()
        try:
            call.begin(slot)
            return self._run(slot, body, headers, url, limits, known)
        finally:
            call.end()
            self._release(slot)

    def _acquire(self) -> _Slot:
        with self._available:
            while not self._free:
                if self._closed:
                    raise ParseError("parse stopped: the daemon is shutting down")
                self._available.wait()
            slot = self._free.pop()
        slot.hold(True)
        return slot

    def _release(self, slot: _Slot) -> None:
        slot.hold(False)
        if slot.closed:
            slot.close()  # closed while this thread held it: reap the worker now
        with self._available:
            self._free.append(slot)
            self._available.notify()

    def _run(
        self,
        slot: _Slot,
        body: bytes,
        headers: Mapping[str, str],
        url: str,
        limits: ParseSettings,
        known: frozenset[bytes],
    ) -> KeyedFeed:
        worker = slot.take(self._ctx, self._address_cap)
        try:
            request = (body, dict(headers), url, limits.max_memory, known)
            reply = worker.call(request, limits)
        except (EOFError, OSError):
            self._replace(slot, worker)
            if slot.closed:
                raise ParseError("parse stopped: the daemon is shutting down") from None
            code = worker.process.exitcode
            how = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
            raise ParseError(f"parse failed: the parsing process died ({how})") from None
        if reply == "time" or reply == "memory":
            self._replace(slot, worker)
            raise _exceeded(limits, reply)
        match reply:
            case ("ok", KeyedFeed() as keyed, int(messages)):
                return self._receive_entries(slot, worker, keyed, messages, limits)
            case ("error", str(message)):
                raise ParseError(message)
            case ("memory", _):
                self._replace(slot, worker)  # it exits by itself; reap it
                raise _exceeded(limits, "memory")
        raise ParseError(f"parse failed: unexpected answer {reply[0]!r}")

    def _receive_entries(
        self, slot: _Slot, worker: _Worker, head: KeyedFeed, messages: int, limits: ParseSettings
    ) -> KeyedFeed:
        """The result whose ``head`` came first, with its entries from the messages after."""
        try:
            entries = worker.receive_entries(messages)
        except (EOFError, OSError):
            self._replace(slot, worker)
            raise ParseError("parse failed: the parsing process died sending its result") from None
        if entries == "memory":
            self._replace(slot, worker)  # it exits by itself; reap it
            raise _exceeded(limits, "memory")
        # The tuple of untracked entries is itself untracked at its first collection.
        return dataclasses.replace(
            head, feed=dataclasses.replace(head.feed, entries=tuple(entries))
        )

    def _replace(self, slot: _Slot, worker: _Worker) -> None:
        """Kill and reap ``worker``, and start its successor now (in this parse's thread,
        so that the next parse does not wait for it)."""
        slot.discard(worker)
        with contextlib.suppress(ParseError, OSError):  # closed meanwhile; or the next take
            slot.take(self._ctx, self._address_cap)

    def close(self) -> None:
        """Kill every worker (a parse in flight fails at once) and stop the threads."""
        with self._available:
            self._closed = True
            self._available.notify_all()
        for slot in self._slots:
            slot.close()
        # Not cancel_futures: a parse not yet started fails as "shutting down", like the rest.
        self._threads.shutdown(wait=True)
