"""The cyclic garbage collector and the large, long-lived structures it need not walk.

CPython's full collection walks every tracked object not frozen by ``gc.freeze()``, and it
holds the GIL from whichever thread runs it. Two tools keep it off what cannot form cycles:

- ``paused_gc`` pauses the collector while one bounded build allocates millions of objects
  that live on (a 100,000-feed config, the story index of a window): every full collection
  would walk them all again, at a cost greater than the building.
- ``untrack`` takes single objects off the collector's list for good. With the objects of a
  100,000-item ingest young (the parse result, then 100,000 new story-index records), one
  walk on the writer thread stalled the event loop 0.3-0.9 s on a shared machine. Objects
  that can never be part of a reference cycle (records of strings, numbers, dates and tuples
  of them; lists of ints) need no walk: reference counting frees them. ``untrack`` is
  CPython's public ``PyObject_GC_UnTrack``, the call CPython itself makes for such tuples
  and dicts. The caller vouches that the object holds, and will hold, nothing that can refer
  back to it; an object that did would be freed only with the process (a leak, never a
  crash).
"""

from __future__ import annotations

import ctypes
import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_untrack: Callable[[ctypes.py_object[object]], None] | None = None
if sys.implementation.name == "cpython":
    _fn = ctypes.pythonapi.PyObject_GC_UnTrack
    _fn.argtypes = [ctypes.py_object]
    _fn.restype = None
    _untrack = _fn


def untrack(obj: object) -> None:
    """Take ``obj`` (acyclic by construction: see the module docstring) off the collector's
    list; a no-op for an untracked object, and off CPython."""
    if _untrack is not None and gc.is_tracked(obj):
        _untrack(ctypes.py_object(obj))


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic collector around one bounded build. Reference counting goes on, so
    only garbage in cycles waits for the end. The pause holds for every thread of the
    process, so it wraps one bounded build, never a loop that waits."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
