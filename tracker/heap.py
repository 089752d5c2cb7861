"""Keeping long-lived, acyclic objects out of the cyclic garbage collector's walks.

CPython's full collection walks every tracked object not frozen by ``gc.freeze()``, and it
holds the GIL from whichever thread runs it: with the objects of a 100,000-item ingest
young (the parse result, then 100,000 new story-index records), one walk on the writer
thread stalled the event loop 0.3-0.9 s on a shared machine. Objects that can never be part
of a reference cycle (records of strings, numbers, dates and tuples of them; lists of ints)
need no walk: reference counting frees them. ``untrack`` takes them off the collector's list
(CPython's public ``PyObject_GC_UnTrack``, the call CPython itself makes for such tuples and
dicts). The caller vouches that the object holds, and will hold, nothing that can refer back
to it; an object that did would be freed only with the process (a leak, never a crash).
"""

from __future__ import annotations

import ctypes
import gc
import sys
from collections.abc import Callable

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
