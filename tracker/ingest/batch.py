"""Group commit for the polls that write nothing but their feed's row (a 304, the same bytes).

A 304 costs one small UPDATE, and as a unit of its own on the writer thread it cost more in
the hand-over and the commit than in the UPDATE. Units queued while the writer is busy go
together: the first one starts a drain, which takes everything queued by then into one
transaction, and again until the queue is empty. Nothing waits for a batch to fill, so an
idle daemon writes each poll at once; a busy one writes many per commit.

Each unit runs in a savepoint of its own: one that raises (a bug) is rolled back alone and
its poll gets the exception, while a storage fault (a full disk) fails the whole batch,
as it would have failed each unit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from tracker.store.writer import storage_fault

if TYPE_CHECKING:
    from tracker.store.facade import Store

T = TypeVar("T")


class GroupCommit(Generic[T]):
    """Runs units of database work on the store's writer thread, many per transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: list[tuple[Callable[[], T], asyncio.Future[T]]] = []
        self._drain: asyncio.Task[None] | None = None

    async def run(self, unit: Callable[[], T]) -> T:
        """Await ``unit()``, run in the next transaction of queued units."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._queue.append((unit, done))
        if self._drain is None or self._drain.done():
            self._drain = loop.create_task(self._drain_queue())
        # A cancelled poll stops waiting; its unit is still written with the others.
        return await asyncio.shield(done)

    async def _drain_queue(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                results = await self.store.run(self._apply, [unit for unit, _ in batch])
            except asyncio.CancelledError:
                for _, done in batch + self._queue:
                    done.cancel()
                raise
            except Exception as exc:  # a storage fault, or a lost database: every unit's
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (_, done), result in zip(batch, results, strict=True):
                if done.done():
                    continue
                if isinstance(result, _Failed):
                    done.set_exception(result.exc)
                else:
                    done.set_result(result)

    def _apply(self, units: list[Callable[[], T]]) -> list[T | _Failed]:
        """On the writer thread: every unit in one transaction, each in its savepoint."""
        results: list[T | _Failed] = []
        with self.store.transaction():
            for unit in units:
                try:
                    with self.store.transaction():  # nested: a savepoint
                        results.append(unit())
                except Exception as exc:
                    if storage_fault(exc, self.store.path) is not None:
                        raise  # the database, not the unit: the batch rolls back
                    results.append(_Failed(exc))
        return results


class _Failed:
    """A unit's exception, handed back to its own caller."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc
