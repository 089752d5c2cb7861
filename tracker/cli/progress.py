"""Progress on a terminal for long commands (`run --once`, `topics backtest`): one line on
stderr, redrawn in place, with the feeds polling for longer than a few seconds named. On a
pipe, in a file or under systemd (stderr not a terminal) it prints nothing."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

from tracker.cli.common import printable

T = TypeVar("T")

# A poll running longer than this is named in the progress line.
SLOW_S = 3.0
REDRAW_S = 0.5


def on_terminal(stream: TextIO | None = None) -> bool:
    s = stream or sys.stderr
    return s.isatty()


class PollProgress:
    """`run --once`: feeds done out of total, and the slow ones by name (a daemon thread
    redraws the line, so a single slow feed still shows its seconds counting)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total = 0
        self.done = 0
        self.running: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="progress", daemon=True)

    def begin(self, total: int) -> None:
        self.total = total
        self.thread.start()

    def started(self, feed: str) -> None:
        with self.lock:
            self.running[feed] = time.monotonic()

    def finished(self, feed: str) -> None:
        with self.lock:
            self.running.pop(feed, None)
            self.done += 1

    def line(self, now: float) -> str:
        with self.lock:
            slow = sorted(
                ((now - t, name) for name, t in self.running.items() if now - t >= SLOW_S),
                reverse=True,
            )
            done = self.done
        text = f"polled {done}/{self.total} feeds"
        if slow:
            shown = ", ".join(f"{printable(name)} {age:.0f}s" for age, name in slow[:3])
            more = f" and {len(slow) - 3} more" if len(slow) > 3 else ""
            text += f"; slow: {shown}{more}"
        return text

    def _loop(self) -> None:
        while not self.stop.wait(REDRAW_S):
            self._draw(self.line(time.monotonic()))

    def _draw(self, text: str) -> None:
        width = 100
        self.stream.write("\r" + text[:width].ljust(width))
        self.stream.flush()

    def close(self) -> None:
        """Stop redrawing and clear the line (the summary follows on stdout)."""
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()


def counting(
    items: Iterable[T], total: int, what: str, stream: TextIO | None = None
) -> Iterator[T]:
    """``items``, drawing `what N/total` on the terminal about every half second."""
    out = stream or sys.stderr
    last = 0.0
    n = 0
    for n, item in enumerate(items, start=1):
        now = time.monotonic()
        if now - last >= REDRAW_S:
            out.write(f"\r{what} {n}/{total}")
            out.flush()
            last = now
        yield item
    if last:
        out.write("\r" + " " * (len(what) + 2 * len(str(total)) + 2) + "\r")
        out.flush()
