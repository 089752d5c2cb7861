"""tracker.heap: an acyclic object taken off the collector's list is still freed by
reference counting, and untracking twice (or an untracked object) is harmless; paused_gc
turns the collector off inside, and back as it was after, even on an error."""

from __future__ import annotations

import gc
import weakref
from dataclasses import dataclass

import pytest

from tracker.heap import paused_gc, untrack


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Record:
    title: str
    when: float


def test_an_untracked_record_is_freed_when_its_last_reference_goes() -> None:
    record = Record("steel tariffs", 1.0)
    assert gc.is_tracked(record)
    untrack(record)
    untrack(record)  # twice: a no-op
    assert not gc.is_tracked(record)
    assert not any(o is record for o in gc.get_objects())
    gone = weakref.ref(record)
    del record
    assert gone() is None


def test_an_untracked_list_keeps_working() -> None:
    keys = [1, 2]
    untrack(keys)
    keys.append(3)
    keys.remove(1)
    assert keys == [2, 3] and not gc.is_tracked(keys)
    untrack(42)  # never tracked: nothing to do


def test_the_collector_is_paused_inside_and_restored_after_an_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_gc():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_already_off_stays_off() -> None:
    gc.disable()
    try:
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
