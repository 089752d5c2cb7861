"""Storage faults are a state: the daemon degrades, says so once (then once a minute), and
resumes by itself when a probe write succeeds.

The store's writer keeps the fault its last write met (store/writer.py); while it is set, the
scheduler starts no poll and no send. This guard, a job every ``CHECK_EVERY_S``, turns that
into the state people see: one ``storage.degraded`` line with the reason and what it waits
for, ``storage.waiting`` each minute after, ``/healthz`` 503 with the reason, an admin notice
sent straight through the admin channel (the outbox is in the database), and
``storage.recovered`` once a probe write commits. ``/healthz`` reads this state and never
touches the database itself: the writer's own writes (and a probe every
``PROBE_IDLE_EVERY_S`` when idle) are the test of writability, so a busy writer never makes
a health check wait or fail. It also checks the file is still the one
opened: a deleted or replaced database stops the daemon with a clear error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from tracker.errors import DatabaseReplaced, StorageFault
from tracker.log import event
from tracker.models import NoticeKind
from tracker.store.facade import Store
from tracker.units import format_duration

log = logging.getLogger(__name__)

CHECK_EVERY_S = 2.0
PROBE_IDLE_EVERY_S = 30.0  # a probe write while all is well (every write is a probe too)
LOG_EVERY_S = 60.0

# Sends an admin notice (kind, subject, body) without the database.
SendNotice = Callable[[NoticeKind, str, str], Coroutine[Any, Any, None]]


class StorageGuard:
    """Watches the store's write state: degraded ↔ ok transitions, and a lost file."""

    def __init__(
        self,
        store: Store,
        on_lost: Callable[[DatabaseReplaced], None],
        send_notice: SendNotice | None = None,
        on_recovered: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        log_every_s: float = LOG_EVERY_S,
    ) -> None:
        self.store = store
        self.on_lost = on_lost
        self.send_notice = send_notice
        self.on_recovered = on_recovered
        self.clock = clock
        self.log_every_s = log_every_s
        self.degraded_at: float | None = None
        self._logged_at = 0.0
        self._fault: StorageFault | None = None
        self._probed_at = clock()

    def health(self) -> tuple[bool, str]:
        """For /healthz: not ok, with the reason, while writes are paused."""
        fault = self.store.fault
        if fault is None:
            return True, "ok"
        if isinstance(fault, DatabaseReplaced):
            return False, f"storage lost: {fault.message}"
        why = f"{fault.message}; waiting for {fault.waiting_for}"
        return False, f"storage degraded ({fault.kind}): {why}"

    async def check(self) -> None:
        """One look (the guard's job): enter, report, probe, or leave the degraded state."""
        writer = self.store.writer
        if writer.lost is not None:
            self.on_lost(writer.lost)
            return
        if writer.fault is None:
            now = self.clock()
            try:
                if now - self._probed_at >= PROBE_IDLE_EVERY_S:
                    # An idle daemon learns of a read-only or full database too.
                    self._probed_at = now
                    await writer.recover()
                else:
                    await self.store.run(writer.check_identity)  # raises if the file is gone
            except DatabaseReplaced as exc:
                self.on_lost(exc)
            except StorageFault:
                pass  # noted by the writer: the next check reports it
            return
        now = self.clock()
        if self.degraded_at is None:
            self._enter(writer.fault, now)
        if await writer.recover():
            self._leave(now)
            return
        fault = self.store.fault
        if isinstance(fault, DatabaseReplaced):
            self.on_lost(fault)
            return
        if fault is not None and now - self._logged_at >= self.log_every_s:
            self._logged_at = now
            assert self.degraded_at is not None
            waited = format_duration(round(now - self.degraded_at))
            event(
                log, logging.WARNING, "storage.waiting", kind=fault.kind,
                waiting_for=fault.waiting_for, degraded_for=waited, error=fault.message,
            )  # fmt: skip

    def _enter(self, fault: StorageFault, now: float) -> None:
        self.degraded_at = self._logged_at = now
        self._fault = fault
        event(
            log, logging.ERROR, "storage.degraded", kind=fault.kind, error=fault.message,
            waiting_for=fault.waiting_for, action="no polls or sends until a write succeeds",
        )  # fmt: skip
        self._notice(
            NoticeKind.STORAGE_DEGRADED,
            f"storage degraded: {fault.kind}",
            f"tracker cannot write its database: {fault.message}.\n"
            f"It polls and sends nothing until a write succeeds; waiting for {fault.waiting_for}."
            " Nothing already accepted is lost.",
        )

    def _leave(self, now: float) -> None:
        assert self.degraded_at is not None
        took = format_duration(round(now - self.degraded_at))
        kind = self._fault.kind if self._fault is not None else "unknown"
        self.degraded_at, self._fault = None, None
        event(log, logging.WARNING, "storage.recovered", kind=kind, degraded_for=took)
        self._notice(
            NoticeKind.STORAGE_RECOVERED,
            "storage recovered",
            f"tracker writes its database again after {took} ({kind}); polls and sends resume.",
        )
        if self.on_recovered is not None:
            self.on_recovered()

    def _notice(self, kind: NoticeKind, subject: str, body: str) -> None:
        if self.send_notice is None:
            return
        task = asyncio.get_running_loop().create_task(self.send_notice(kind, subject, body))
        _background.add(task)
        task.add_done_callback(_background.discard)


_background: set[asyncio.Task[None]] = set()
