"""The story index: given a new report, which earlier report (and so which story) it joins.

This module fixes the interface the pipeline, the store and the CLI use. It is pure: no
database, no I/O. The caller owns story ids (the store's), feeds reports in publication
order, and calls ``add`` only once the report's story is committed, so a rolled-back
transaction never leaves a report in the index. ``rebuild`` fills a new index from stored
(report, story) pairs at start; ``add`` takes a report's features when the caller has them
(the store keeps each article's, ``stories/codec.py``), so a start need not extract them.

How a report finds its story (``find``):
1. the same canonical URL within the window;
2. candidates from an inverted index over each report's rarest terms (``INDEX_TERMS`` of
   them), read shortest list first within a fixed budget of keys (``SCAN_BUDGET``), so a
   lookup costs the same at 1,000 or 100,000 stories, never a scan of the window;
3. each candidate judged by ``judge`` (see there): a near-duplicate score within one
   language, shared entities, numbers and lexicon concepts across languages, and vetoes
   for reports that share names but not the event (opposite events, different numbers,
   agent and target swapped). The best accepted candidate's story wins.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from tracker.heap import paused_gc, untrack
from tracker.stories.features import QUERY_TERMS, STRONG, Features, Weigher
from tracker.stories.lexicon import NUMBER_PREFIX, OPPOSITE, Lexicon, default_lexicon
from tracker.stories.rarity import UNKNOWN_WEIGHT, Rarity, default_rarity

# Default window: reports published more than this far apart never join one story.
DEFAULT_WINDOW_S = 72 * 3600.0

JoinKind = Literal["url", "near_duplicate", "entities"]

# Thresholds, tuned on the same-language training material and the cross-language dev set
# only (bench/stories_quality.py reports each set; tests/test_stories_quality.py has floors).
SAME_MIN = 0.65  # weighted Dice of title or of title+text, same language
SAME_SURE = 0.80  # above this a number mismatch does not veto (a wire copy's edited figure)
ANCHOR = 3.0  # below SAME_SURE, the shared terms must include one this rare (a name)
TITLE_MIN = 0.75  # a headline Dice alone (the texts sharing less than SAME_MIN)
COUNTRY_SURE = 0.85  # below this, headlines naming different countries tell two events
# Longer reports sharing much: a lower Dice suffices once the shared weight is this high
# (chance overlap of a dozen weighted terms is rare; independent rewrites of one story).
LONG_MIN = 0.50
LONG_SHARED = 9.0
HEADLINE_MIN = 0.50  # below SAME_SURE, the headlines' own Dice must be this high
# However close the score, a near-duplicate shares at least this many terms: two short
# headlines ("wall one" / "wall two") reach a high Dice on a single shared word. Reports
# whose terms are all the same (a copy of a two-word headline) still join.
SAME_MIN_TERMS = 3
# Joins on shared names (across languages, or within one when the wording differs) are
# where two events get merged, so they need far more than a near-duplicate: enough shared
# weight, several heavy terms, a fair part of the lighter report covered, a shared event
# anchor (a number that is not a year, or an event concept such as #ev_quake), reports at
# most ``ENT_MAX_GAP_S`` apart, and no veto. Set on the cross-language dev set with margin:
# its closest pair of distinct events has evidence 9.0 and cover 0.20.
CROSS_MIN_EVIDENCE = 12.0  # sum of the shared terms' cross-language weights
CROSS_MIN_STRONG = 3  # shared terms of weight >= STRONG
CROSS_MIN_COVER = 0.25  # shared cross weight / the lighter report's cross weight
ENT_MAX_GAP_S = 24 * 3600.0
SAME_ENT_EVIDENCE = 18.0  # the same within one language: far stricter
SAME_ENT_STRONG = 4
SAME_ENT_COVER = 0.35
PER_LIST = 40  # keys read from one posting list (its newest)
SCAN_BUDGET = 160  # keys read from all posting lists of one lookup
CANDIDATES = 5  # candidates judged in full, by the number of index keys shared
SHOWN = 6  # shared terms recorded in ``Joined.shared``
STORY_CHECKS = 30  # a story's newest reports checked for contradictions before a join


@dataclass(frozen=True)
class Report:
    """What the index needs of one article."""

    key: int  # the article's id (any int unique within one index)
    title: str
    text: str  # summary or content, plain text
    lang: str | None
    published_at: float  # epoch seconds; first-seen time when the feed gives none
    canonical_url: str | None = None


@dataclass(frozen=True)
class Joined:
    """Why a report joined a story: recorded with the article, shown by the CLI."""

    story: int
    kind: JoinKind
    matched: int  # key of the report it matched
    score: float = 1.0
    shared: tuple[str, ...] = ()  # shared entities or terms, for the user and for tuning

    def describe(self) -> str:
        """One line for the CLI: ``near_duplicate 0.83 with #12 (peña nieto, videgaray)``."""
        text = f"{self.kind} {self.score:.2f} with #{self.matched}"
        return f"{text} ({', '.join(self.shared)})" if self.shared else text


@dataclass(frozen=True, slots=True)
class Verdict:
    """``judge``'s answer for one pair of reports."""

    kind: JoinKind
    score: float
    shared: tuple[str, ...]


@dataclass(slots=True)
class _Entry:
    story: int
    published: float
    url: str | None
    features: Features


def conflict(a: Features, b: Features, *, sure: bool, strict: bool = False) -> str | None:
    """Why two reports that share terms cannot tell one event, or None. ``strict`` (for
    joins on shared names alone): headlines that both name events must share one."""
    if strict and a.events and b.events and not set(a.events) & set(b.events):
        return "different events"
    if a.events and b.events:
        only_a = set(a.events) - set(b.events)
        only_b = set(b.events) - set(a.events)
        for x in only_a:
            for y in only_b:
                if frozenset((x, y)) in OPPOSITE:
                    return f"opposite events {x[1:]}/{y[1:]}"
    if (
        a.agents
        and b.agents
        and not set(a.agents) & set(b.agents)
        and set(a.agents) & set(b.targets)
        and set(b.agents) & set(a.targets)
    ):
        return "agent and target swapped"
    if a.numbers and b.numbers and not set(a.numbers) & set(b.numbers):
        return "different numbers"  # the fifth round is not the sixth, even word for word
    if not sure and set(a.actors) - set(b.actors) and set(b.actors) - set(a.actors):
        # each headline names a country the other does not (a visit to the UK, another
        # to Australia), even when they share one (the visitor's)
        return "different countries"
    return None


def judge(
    a: Features,
    b: Features,
    weigher: Weigher,
    a_set: frozenset[str] | None = None,
    gap_s: float = 0.0,
) -> Verdict | None:
    """Whether ``a`` and ``b`` report one event, and how sure; None when not.

    Same language: the weighted Dice coefficient of the headlines' terms, or of all terms,
    at least ``SAME_MIN``. Across languages (or when that fails): the shared terms' weights
    across languages (names, numbers, lexicon concepts) must add up to
    ``CROSS_MIN_EVIDENCE``, include ``CROSS_MIN_STRONG`` heavy ones, cover
    ``CROSS_MIN_COVER`` of the lighter report and include an event anchor (``_is_anchor``),
    the reports at most ``ENT_MAX_GAP_S`` (``gap_s``) apart. Vetoes (``conflict``) apply to
    both.
    """
    if a_set is None:
        a_set = frozenset(a.terms)
    # sorted: the sums below, and so the decisions, do not depend on set order
    shared = sorted(a_set.intersection(b.terms))
    if not shared:
        return None
    same_lang = a.lang == b.lang or not a.lang or not b.lang
    if same_lang:
        lang = a.lang or b.lang
        weight = weigher.weights(lang).__getitem__
        weights = list(map(weight, shared))
        total = sum(weights)
        full = 2.0 * total / ((a.weight + b.weight) or 1.0)
        title = 0.0
        if full < SAME_SURE:
            in_titles = a_set.intersection(b.terms[: b.n_title]).intersection(a.terms[: a.n_title])
            if in_titles:
                title_shared = sum(map(weight, in_titles))
                title = 2.0 * title_shared / ((a.title_weight + b.title_weight) or 1.0)
        # A headline match alone (the rest of the reports differs) must be a close one:
        # a series' headlines ("msnbc 2014 quiz: ...") share half their weight by design.
        score = max(full, title) if title >= TITLE_MIN or full >= SAME_MIN else full
        # Below SAME_SURE the headlines must agree too: two days' "Your Tuesday Briefing"
        # share much of their text, two rounds of one tournament much of their names.
        headlines = full >= SAME_SURE or title >= HEADLINE_MIN or a.n_title == 0
        if (
            headlines
            and (len(shared) >= SAME_MIN_TERMS or a_set == frozenset(b.terms))
            and (
                (score >= SAME_MIN and (score >= SAME_SURE or max(weights) >= ANCHOR))
                or (full >= LONG_MIN and total >= LONG_SHARED)
            )
            and conflict(a, b, sure=score >= COUNTRY_SURE) is None
        ):
            ranked = sorted(zip(weights, shared, strict=True), key=_heaviest)
            return Verdict("near_duplicate", round(score, 3), tuple(t for _, t in ranked[:SHOWN]))
        # Within one language shared names alone chain a busy week's stories together
        # (every Obama story, every Sony story): they must be far more, and cover more.
        min_evidence, min_strong, min_cover = SAME_ENT_EVIDENCE, SAME_ENT_STRONG, SAME_ENT_COVER
    else:
        min_evidence, min_strong, min_cover = CROSS_MIN_EVIDENCE, CROSS_MIN_STRONG, CROSS_MIN_COVER
    if gap_s > ENT_MAX_GAP_S or len(shared) * UNKNOWN_WEIGHT < min_evidence:
        return None  # too far apart, or even names alone could not add up to enough
    if not any(_is_anchor(t) for t in shared):
        return None  # names and topics alone do not tell two events of one week apart
    cross = sorted(((weigher.cross(t), t) for t in shared), key=_heaviest)
    evidence = sum(w for w, _ in cross)
    if evidence < min_evidence:
        return None
    strong = sum(1 for w, _ in cross if w >= STRONG)
    cover = evidence / (min(a.cross_weight, b.cross_weight) or 1.0)
    if (
        strong >= min_strong
        and cover >= min_cover
        and conflict(a, b, sure=False, strict=True) is None
    ):
        return Verdict("entities", round(cover, 3), tuple(t for _, t in cross[:SHOWN]))
    return None


def _is_anchor(term: str) -> bool:
    """A term that pins an event down: an event concept, or a number above 10 that is not
    a year (a "second round" or "five dead" is common to many events of one week)."""
    if term.startswith("#ev_"):
        return True
    if not term.startswith(NUMBER_PREFIX):
        return False
    digits = term[len(NUMBER_PREFIX) :]
    return (
        len(digits) > 1 and digits != "10" and not (len(digits) == 4 and digits[:2] in _CENTURIES)
    )


_CENTURIES = ("19", "20")


def _heaviest(item: tuple[float, str]) -> tuple[float, str]:
    return (-item[0], item[1])


class StoryIndex:
    """Reports of the last ``window_s`` seconds, searchable by the story they tell."""

    def __init__(
        self,
        window_s: float = DEFAULT_WINDOW_S,
        *,
        lexicon: Lexicon | None = None,
        lists: Mapping[str, Sequence[str]] | None = None,
        rarity: Rarity | None = None,
        weigher: Weigher | None = None,
    ) -> None:
        self.window_s = window_s
        if weigher is None:
            base = lexicon if lexicon is not None else default_lexicon()
            lexicon = base.with_lists(lists) if lists else base
            weigher = Weigher(lexicon, rarity or default_rarity())
        self.weigher = weigher
        self._entries: dict[int, _Entry] = {}  # insertion order ~ publication order
        # story -> its reports' keys in the window (a story of one report: that key alone)
        self._members: dict[int, int | list[int]] = {}
        self._by_url: dict[str, int] = {}
        self._postings: dict[str, list[int]] = {}
        self._last: tuple[Report, Features] | None = None

    def empty(self) -> StoryIndex:
        """An empty index that weighs words as this one does, sharing its weigher (the
        lexicon with the config's lists, and the word memo): a transaction's pending
        reports. Building the lexicon afresh for every feed's transaction was about a fifth
        of a first-time poll's CPU."""
        return StoryIndex(window_s=self.window_s, weigher=self.weigher)

    @classmethod
    def rebuild(
        cls,
        pairs: Iterable[tuple[Report, int]],
        window_s: float = DEFAULT_WINDOW_S,
        *,
        lexicon: Lexicon | None = None,
        lists: Mapping[str, Sequence[str]] | None = None,
    ) -> StoryIndex:
        """An index of stored (report, story) pairs, in publication order: what a restart
        calls with the articles of the last window, so membership survives it."""
        index = cls(window_s, lexicon=lexicon, lists=lists)
        with paused_gc():  # 100,000 reports: see paused_gc
            for report, story in pairs:
                index.add(report, story)
        return index

    def features(self, report: Report) -> Features:
        """What the index compares of ``report`` (memoised for the ``add`` after a ``find``)."""
        last = self._last
        if last is not None and last[0] is report:
            return last[1]
        features = self.weigher.extract(report.title, report.text, report.lang)
        self._last = (report, features)
        return features

    def find(self, report: Report, features: Features | None = None) -> Joined | None:
        """The story ``report`` belongs to, or None for a new one. Does not change the index.
        ``features``: the report's, when the caller has them (``features(report)``)."""
        window = self.window_s
        entries = self._entries
        if report.canonical_url:
            key = self._by_url.get(report.canonical_url)
            if key is not None:
                entry = entries[key]
                if abs(report.published_at - entry.published) <= window:
                    return Joined(entry.story, "url", key)
        if features is None:
            features = self.features(report)
        weigher = self.weigher
        # Candidates: the reports sharing most of this one's rarest terms. Shortest posting
        # lists first, the newest end of a long one, and a budget of keys scanned: a term
        # that is everywhere this week (a president's name) costs no more than a rare one.
        postings = self._postings
        lists = [
            found for term in features.index_keys(QUERY_TERMS) if (found := postings.get(term))
        ]
        lists.sort(key=len)
        counts: Counter[int] = Counter()
        budget = SCAN_BUDGET
        for found in lists:
            if budget <= 0:
                break
            take = min(len(found), PER_LIST, budget)
            counts.update(found[-take:] if take < len(found) else found)
            budget -= take
        if not counts:
            return None
        best: tuple[float, int, Verdict] | None = None
        ranked = [key for key, _ in counts.most_common(CANDIDATES)]
        a_set = frozenset(features.terms)
        for key in ranked:
            candidate = entries.get(key)
            if candidate is None or abs(report.published_at - candidate.published) > window:
                continue
            gap = abs(report.published_at - candidate.published)
            verdict = judge(features, candidate.features, weigher, a_set, gap)
            if (
                verdict is not None
                and (best is None or verdict.score > best[0])
                and self._fits(features, candidate.story)
            ):
                best = (verdict.score, key, verdict)
        if best is None:
            return None
        _, key, verdict = best
        return Joined(entries[key].story, verdict.kind, key, verdict.score, verdict.shared)

    def add(self, report: Report, story: int, features: Features | None = None) -> None:
        """Record that ``report`` belongs to ``story`` (after the caller committed it);
        ``features``: the report's, when the caller has them (decoded from the store)."""
        if features is None:
            features = self.features(report)
        keys = features.index_keys()
        if report.key in self._entries:
            self._forget(report.key)
        entry = self._entries[report.key] = _Entry(
            story, report.published_at, report.canonical_url, features
        )
        # The index's records live for the window (days, 100,000s of them) and hold only
        # strings, numbers and tuples of them: the collector need not walk them (tracker.heap).
        untrack(entry)
        untrack(features)
        members = self._members.get(story)
        if members is None:
            self._members[story] = report.key
        elif isinstance(members, int):
            self._members[story] = pair = [members, report.key]
            untrack(pair)
        else:
            members.append(report.key)
        if report.canonical_url:
            self._by_url[report.canonical_url] = report.key
        postings = self._postings
        for term in keys:
            found = postings.get(term)
            if found is None:
                postings[term] = found = [report.key]
                untrack(found)  # a list of ints
            else:
                found.append(report.key)

    def prune(self, now: float) -> int:
        """Forget reports published before ``now - window_s``; returns how many."""
        cutoff = now - self.window_s
        old = [k for k, e in self._entries.items() if e.published < cutoff]
        for key in old:
            self._forget(key)
        return len(old)

    def _fits(self, features: Features, story: int) -> bool:
        """Whether no report of ``story`` contradicts ``features`` (opposite events, swapped
        agent and target, different numbers): a report joins the story, not one report of
        it, so a report that names no event cannot bridge the opening of a round and its
        close."""
        members = self._members.get(story)
        if members is None or isinstance(members, int):
            return True  # its one report is the candidate, judged already
        entries = self._entries
        for key in members[-STORY_CHECKS:]:
            if conflict(features, entries[key].features, sure=True) is not None:
                return False
        return True

    def _forget(self, key: int) -> None:
        entry = self._entries.pop(key)
        members = self._members.get(entry.story)
        if isinstance(members, int):
            del self._members[entry.story]
        elif members is not None:
            members.remove(key)
            if len(members) == 1:
                self._members[entry.story] = members[0]
        if entry.url and self._by_url.get(entry.url) == key:
            del self._by_url[entry.url]
        for term in entry.features.index_keys():
            found = self._postings.get(term)
            if found is not None:
                found.remove(key)
                if not found:
                    del self._postings[term]

    def __len__(self) -> int:
        return len(self._entries)
