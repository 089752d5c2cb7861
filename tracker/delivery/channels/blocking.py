"""Blocking notification clients on daemon threads, under an overall deadline."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def run_blocking(func: Callable[[], T], timeout_s: float, name: str) -> T:
    """Run blocking client work (smtplib, apprise) in a daemon thread with an overall deadline.

    Their timeouts are per socket read, so a server that drips bytes forever would hold a
    worker for ever; a daemon thread (not the default executor) also cannot block shutdown:
    past the deadline the caller moves on and the thread is left to end with the process.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        value: T | None = None
        error: BaseException | None = None
        try:
            value = func()
        except BaseException as exc:  # handed to the awaiting coroutine
            error = exc
        # RuntimeError: the loop has closed since the deadline, and nobody is waiting.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, future, value, error)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await asyncio.wait_for(future, timeout_s)


def _settle(future: asyncio.Future[T], value: T | None, exc: BaseException | None) -> None:
    if future.done():
        return  # timed out meanwhile
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)  # type: ignore[arg-type]
