"""How rare a word is, from the frequency lists wordfreq ships in its wheel (no download).

A word's weight is how much sharing it says about two reports: ``6.5 - zipf`` (zipf being
log10 of the word's frequency per billion words), so "the" weighs nothing, "tariff" about 3
and a name wordfreq's small list does not know (Videgaray, Kushner) the most. The lists are
folded like every other text here (México -> mexico) and loaded once per language.
"""

from __future__ import annotations

import functools
import math
from importlib import metadata

from tracker.text import fold

# Zipf values run from about 8 ("the") down to 3.0 where wordfreq's small lists stop.
_TOP = 6.5
UNKNOWN_WEIGHT = 4.0  # a word rarer than anything in the small list: a name, mostly
MIN_WEIGHT = 0.7  # below this a word is a stop word and no evidence at all
LANGS = ("en", "es")


@functools.cache
def _zipf_table(lang: str) -> dict[str, float]:
    # Imported here: wordfreq (with langcodes and ftfy) costs ~0.1 s of CPU to import, and a
    # run that forms no story (every poll a 304) never needs it.
    from wordfreq import get_frequency_dict

    table: dict[str, float] = {}
    for word, freq in get_frequency_dict(lang, wordlist="small").items():
        key = fold(word)
        zipf = math.log10(freq * 1e9)
        if zipf > table.get(key, 0.0):
            table[key] = zipf
    return table


def _weight(zipf: float) -> float:
    if zipf <= 0.0:
        return UNKNOWN_WEIGHT
    return max(0.0, min(UNKNOWN_WEIGHT, _TOP - zipf))


class Rarity:
    """Word weights for one language and across English and Spanish (the story index's
    ``Weigher`` memoises them per word, so nothing is cached here but the lists)."""

    @functools.cached_property
    def source(self) -> str:
        """Where the weights come from, for the key of stored features (``Weigher.key``): a
        new wordfreq may weigh words otherwise."""
        return f"wordfreq {metadata.version('wordfreq')} small {','.join(LANGS)}"

    @functools.cached_property
    def _tables(self) -> dict[str, dict[str, float]]:
        # Loaded at the first word weighed, not when the story index is built: a cycle
        # that brings no new article (all 304s) never needs the lists. Each list is kept
        # as weights, not Zipf values, and the cross-language weights as a table of their
        # own: a word first met (a rebuild meets tens of thousands) costs a lookup or two.
        return {lang: _weight_table(lang) for lang in LANGS}

    @functools.cached_property
    def _cross_table(self) -> dict[str, float]:
        tables = self._tables
        words = set().union(*tables.values())
        return {
            word: min(table.get(word, UNKNOWN_WEIGHT) for table in tables.values())
            for word in words
        }

    def weight(self, word: str, lang: str) -> float:
        """The weight of folded ``word`` in ``lang`` (a language without a list: the most
        common reading in English or Spanish, so a stop word of either never counts)."""
        table = self._tables.get(lang)
        if table is None:
            return self.cross(word)
        return table.get(word, UNKNOWN_WEIGHT)

    def cross(self, word: str) -> float:
        """The weight of ``word`` shared by an English and a Spanish report: the lower one,
        so a word common in either language ("once", "son", "mexico") says little."""
        return self._cross_table.get(word, UNKNOWN_WEIGHT)


@functools.cache
def _weight_table(lang: str) -> dict[str, float]:
    return {word: _weight(zipf) for word, zipf in _zipf_table(lang).items()}


@functools.cache
def default_rarity() -> Rarity:
    """One shared ``Rarity`` (the lists take a few MB and about a second to load)."""
    return Rarity()
