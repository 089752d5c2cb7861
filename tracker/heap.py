"""The cyclic garbage collector, paused while a large structure without cycles is built."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic collector while millions of objects that live on are allocated (a
    100,000-feed config, the story index of a window): every full collection would walk
    them all again, at a cost greater than the building. Reference counting goes on, so
    only garbage in cycles waits for the end. The pause holds for every thread of the
    process, so it wraps one bounded build, never a loop that waits."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
