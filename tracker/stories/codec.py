"""A report's features as one short line of text, stored with its article (``articles.features``).

A start rebuilds the story index from the window's stored articles; decoding what
``Weigher.extract`` returned when the article arrived costs a split and a few lookups,
where extracting it again reads every word (about nine tenths of a rebuild at 100,000
articles). The line is versioned and read defensively: anything that is not a line this
module wrote decodes to None, and the caller extracts the report again. Whether a decoded
value is still what extraction would give is the key's business (``Weigher.key``, stored
beside it in ``articles.features_key``), not this module's.

Format (``FORMAT`` first, fields split by ``|``, the items of a field by a space)::

    f1|lang|n_title|weight|title_weight|cross_weight|terms|events|numbers|agents|targets|actors

Floats are written with ``repr`` (exact: the index's sums must be the same to the last
bit, or a decision at a threshold could change). Terms are folded words, numbers and
lexicon concepts, none with a space or a ``|``; a report with one that has (a config list
named so) is not encoded, and is extracted at every start.
"""

from __future__ import annotations

import math

from tracker.stories.features import Features

FORMAT = "f1"
_FIELDS = 12
_SEP = "|"
_ITEM = " "
# Distinct strings a decoder keeps to share among reports: a term is one object in every
# report that has it (as extraction's memos make it), not one per report. Bounded like those
# memos: past it, strings are simply not shared.
MAX_SHARED = 400_000


def encode(features: Features) -> str | None:
    """``features`` as one line, or None when a term cannot be written in it."""
    f = features
    parts = [
        FORMAT,
        f.lang,
        str(f.n_title),
        repr(f.weight),
        repr(f.title_weight),
        repr(f.cross_weight),
        _ITEM.join(f.terms),
        _ITEM.join(f.events),
        _ITEM.join(f.numbers),
        _ITEM.join(f.agents),
        _ITEM.join(f.targets),
        _ITEM.join(f.actors),
    ]
    text = _SEP.join(parts)
    # One separator per join and no other: no item holds a separator, and none is empty.
    items = (f.terms, f.events, f.numbers, f.agents, f.targets, f.actors)
    if text.count(_SEP) != _FIELDS - 1 or text.count(_ITEM) != sum(
        max(len(field) - 1, 0) for field in items
    ):
        return None
    if any("" in field for field in items):
        return None
    return text


class _Shared(dict[str, str]):
    """Each string once: ``shared[s]`` is the first string equal to ``s`` met."""

    __slots__ = ()

    def __missing__(self, key: str) -> str:
        if len(self) < MAX_SHARED:
            self[key] = key
        return key


class Decoder:
    """Decodes stored lines, sharing equal strings among the reports it decodes (one per
    rebuild: its table goes with it, the strings stay with the reports)."""

    def __init__(self) -> None:
        self._shared = _Shared()

    def strings(self) -> list[str]:
        """Every distinct string decoded so far (terms, languages): what ``Weigher.warm``
        is given."""
        return list(self._shared)

    def decode(self, text: object) -> Features | None:
        """The features ``encode`` wrote as ``text``; None for anything else (garbage, a
        truncated line, another format), never an exception."""
        if not isinstance(text, str):
            return None
        parts = text.split(_SEP)
        if len(parts) != _FIELDS or parts[0] != FORMAT:
            return None
        shared = self._shared.__getitem__
        try:
            n_title = int(parts[2])
            weights = (float(parts[3]), float(parts[4]), float(parts[5]))
        except ValueError:
            return None
        fields = [tuple(map(shared, p.split(_ITEM))) if p else () for p in parts[6:]]
        terms = fields[0]
        if not 0 <= n_title <= len(terms) or not all(map(math.isfinite, weights)):
            return None
        if any("" in field for field in fields):  # a doubled or a trailing space
            return None
        return Features(shared(parts[1]), terms, n_title, *weights, *fields[1:])
