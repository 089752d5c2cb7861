"""The bilingual news lexicon: phrases in English and Spanish mapped onto shared concepts.

The curated list ships as ``data/lexicon_en_es.tsv`` (its header explains the format); the
config's ``lists`` can add groups. A concept becomes a term ``#id`` that reports in both
languages share, so "White House" and "Casa Blanca" count as one piece of evidence. Event
concepts tell what happened (opposite events keep two reports apart) and directional events
(``event>``) let the index read who did what to whom from a headline's word order.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

from tracker.text import split_words

# Numbers are terms of their own ("#:15"), never confused with a concept ("#nafta").
NUMBER_PREFIX = "#:"

ConceptKind = Literal["term", "actor", "event", "event>", "number"]
_KINDS: frozenset[str] = frozenset({"term", "actor", "event", "event>", "number"})

# Pairs of event concepts that cannot describe one event: a report of the opening of a
# round and one of its close stay apart, whatever names they share.
OPPOSITE: frozenset[frozenset[str]] = frozenset(
    frozenset(pair)
    for pair in (
        ("#ev_open", "#ev_close"),
        ("#ev_rise", "#ev_fall"),
        ("#ev_approve", "#ev_reject"),
        ("#ev_arrest", "#ev_release"),
        ("#ev_impose", "#ev_lift"),
    )
)

# Abbreviations whose meaning depends on case: "US" the country but "us" the pronoun, "UN"
# the body but "un" the Spanish article. Rewritten before folding, on the original text.
_CASED = (
    (re.compile(r"\bU\.\s?S\.(?:\s?A\.)?|\bUSA?\b"), " EEUU "),
    (re.compile(r"\bUN\b"), " ONU "),
)
# "EU" is the European Union in English but Estados Unidos in Mexican Spanish.
_EU = re.compile(r"\bEU\b")
_EU_MEANS = {"en": " UE ", "es": " EEUU "}
# "1,100" and "1.100" are one number (English and Spanish thousands), not 1 and 100.
_THOUSANDS = re.compile(r"(?<=\d)[,.](?=\d{3}\b)")
# Wire services' headline tags ("UPDATE 2-", "REFILE-") say nothing about the story.
_WIRE_TAG = re.compile(r"^\s*(?:UPDATE|REFILE|CORRECTED|WRAPUP|RPT|INSIGHT)(?:\s*\d+)?\s*-")
# "G-20" and "G20" are one name.
_HYPHEN_NUMBER = re.compile(r"\b([A-Z])-(\d+)\b")


def prepare(text: str, lang: str = "") -> str:
    """``text`` with case-dependent abbreviations spelled so folding keeps their sense,
    thousands separators dropped, "G-20" written "G20" and wire tags ("UPDATE 1-") gone."""
    if "U" in text:
        for pattern, replacement in _CASED:
            text = pattern.sub(replacement, text)
        if lang in _EU_MEANS:
            text = _EU.sub(_EU_MEANS[lang], text)
    if "," in text or "." in text:
        text = _THOUSANDS.sub("", text)
    if "-" in text:
        text = _HYPHEN_NUMBER.sub(r"\1\2", _WIRE_TAG.sub("", text, count=1))
    return text


@dataclass(frozen=True)
class Concept:
    """One concept: its term (``#id``) and kind."""

    term: str
    kind: ConceptKind


@dataclass(frozen=True)
class Lexicon:
    """Folded phrases → concepts, matched longest first on a report's folded words."""

    phrases: Mapping[tuple[str, ...], Concept]
    # first word of every phrase -> the longest phrase length starting with it
    starts: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, groups: Iterable[tuple[str, ConceptKind, Sequence[str]]]) -> Lexicon:
        """A lexicon from (id, kind, phrases) groups; a later group wins a shared phrase."""
        phrases: dict[tuple[str, ...], Concept] = {}
        for concept_id, kind, variants in groups:
            term = NUMBER_PREFIX + concept_id.lstrip("n") if kind == "number" else "#" + concept_id
            concept = Concept(term, kind)
            for variant in variants:
                words = tuple(split_words(variant))
                if words:
                    phrases[words] = concept
        starts: dict[str, int] = {}
        for words in phrases:
            starts[words[0]] = max(starts.get(words[0], 0), len(words))
        return cls(phrases, starts)

    def with_lists(self, lists: Mapping[str, Sequence[str]]) -> Lexicon:
        """This lexicon plus the config's named term lists, each list one concept."""
        groups = [
            (_concept_id(concept), concept.kind, [" ".join(words)])
            for words, concept in self.phrases.items()
        ]
        for name, terms in lists.items():
            # A list entry may be a query phrase ("Peña Nieto") or a prefix (tariff*): only
            # plain words and phrases are synonyms here.
            plain = [t.strip("\"'") for t in terms if "*" not in t]
            groups.append(("list:" + name, "term", plain))
        return Lexicon.build(groups)

    def scan(self, words: Sequence[str]) -> list[tuple[int, int, Concept]]:
        """(position, length, concept) for each phrase in ``words``, longest first, no overlaps."""
        starts = self.starts
        if starts.keys().isdisjoint(words):  # most texts: one C-level pass, nothing found
            return []
        found: list[tuple[int, int, Concept]] = []
        phrases = self.phrases
        n = len(words)
        free = 0  # the first position not inside a phrase already found
        for i in [i for i, word in enumerate(words) if word in starts]:
            if i < free:
                continue
            for length in range(min(starts[words[i]], n - i), 0, -1):
                concept = phrases.get(tuple(words[i : i + length]))
                if concept is not None:
                    found.append((i, length, concept))
                    free = i + length
                    break
        return found


def _concept_id(concept: Concept) -> str:
    if concept.kind == "number":
        return "n" + concept.term.removeprefix(NUMBER_PREFIX)
    return concept.term[1:]


def parse_lexicon(text: str) -> list[tuple[str, ConceptKind, list[str]]]:
    """The groups of a lexicon file (see ``data/lexicon_en_es.tsv``); ValueError on a bad line."""
    groups: list[tuple[str, ConceptKind, list[str]]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[1] not in _KINDS:
            raise ValueError(f"lexicon line {number}: want id<TAB>kind<TAB>phrases: {line!r}")
        kind: ConceptKind = parts[1]  # type: ignore[assignment]
        groups.append((parts[0], kind, [p for p in parts[2].split("|") if p.strip()]))
    return groups


@functools.cache
def default_lexicon() -> Lexicon:
    """The shipped English/Spanish lexicon (read once)."""
    text = resources.files("tracker.stories").joinpath("data/lexicon_en_es.tsv").read_text("utf-8")
    return Lexicon.build(parse_lexicon(text))
