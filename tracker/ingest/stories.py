"""The story step of the ingest transaction: every stored article gets exactly one story.

The pipeline stores each new entry through ``add_entry``, before matching, inside the feed's
transaction. The index is asked first (``StoryIndex.find``); the answer, or a new story,
is stored with why it joined. Reports reach the index only when the transaction commits
(``commit``); until then they sit in a per-transaction index of their own, so two copies in
one feed still join each other, and a rollback (``discard``) leaves the index as it was.

``updates`` queues a story's one follow-up per channel when it gains a report in another
language or enough new outlets after its alert went out (topics with ``updates: true``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from tracker.heap import paused_gc
from tracker.log import event
from tracker.models import Article
from tracker.store.facade import Placement, ReportRow, Store
from tracker.stories.features import Features
from tracker.stories.index import Joined, Report, StoryIndex
from tracker.stories.reports import report_of
from tracker.text import primary_subtag

log = logging.getLogger(__name__)

# The index forgets reports older than its window at most this often.
PRUNE_EVERY_S = 60.0


def report_of_row(row: ReportRow) -> Report:
    """A stored article (``Store.window_reports``) as the index's report."""
    return Report(
        key=row.article_id,
        title=row.title,
        text=row.text,
        lang=row.lang,
        published_at=row.published_at,
        canonical_url=row.canonical_url,
    )


def _rebuilt(
    store: Store, window_s: float, now: float, lists: Mapping[str, Sequence[str]] | None
) -> StoryIndex:
    index = rebuild(store, window_s, now, lists)
    event(log, logging.INFO, "stories.index_rebuilt", reports=len(index))
    return index


def rebuild(
    store: Store, window_s: float, now: float, lists: Mapping[str, Sequence[str]] | None = None
) -> StoryIndex:
    """The index over the window's stored articles, in publication order (at start); the
    config's ``lists`` are synonym groups for it, as in the lexicon."""
    index = StoryIndex(window_s=window_s, lists=lists)
    with paused_gc():  # the window's reports: see paused_gc
        for row in store.window_reports(now - window_s):
            index.add(report_of_row(row), row.story_id)
    return index


@dataclass
class StoryStep:
    """Assigns stories in the ingest transaction; the index learns them after commit."""

    # With the config's lists; a transaction's pending index shares them. None until
    # ``_build`` made it (a deferred step, see there).
    _index: StoryIndex | None = None
    _build: Callable[[float], StoryIndex] | None = None
    # This transaction's reports, each with its story and its features (extracted once:
    # the committed index, the pending one and the commit all use them).
    _pending: list[tuple[Report, int, Features]] = field(default_factory=list)
    _pending_index: StoryIndex | None = None
    _pruned_at: float = 0.0

    @classmethod
    def deferred(
        cls, store: Store, window_s: float, lists: Mapping[str, Sequence[str]] | None = None
    ) -> StoryStep:
        """The step whose index is rebuilt from the store when the first new article needs
        it, not at start: a cycle of 304s and failures never does (at 200,000 stored
        articles the rebuild is most of a start). It runs where ``add_entry`` runs, on the
        writer thread, before anything of that article is written: so it reads the same
        rows a rebuild at start would, plus what was committed since (none: every article
        is stored through this step)."""
        return cls(None, lambda now: _rebuilt(store, window_s, now, lists))

    @property
    def index(self) -> StoryIndex:
        """The committed stories' index (built first, for a deferred step)."""
        if self._index is None:
            raise RuntimeError("the story index is not built yet (StoryStep.ready)")
        return self._index

    def ready(self, now: float) -> StoryIndex:
        """The index, built now if this step was deferred and it is not yet."""
        if self._index is None:
            assert self._build is not None
            self._index, self._build = self._build(now), None
        return self._index

    def find(self, report: Report, features: Features | None = None) -> Joined | None:
        """What ``report`` joins: a committed story, else one begun in this transaction."""
        found = self.index.find(report, features)
        if found is None and self._pending_index is not None:
            found = self._pending_index.find(report, features)
        return found

    def add_entry(
        self, store: Store, feed_id: int, article: Article, now: float
    ) -> tuple[int, bool, int]:
        """``store.add_entry`` with the article's story: found (or begun) for a new article
        and stored in its INSERT with why it joined; kept for one another feed carried
        first. Returns (article id, whether it is new, story id)."""
        self.ready(now)  # a deferred index is built before this article writes anything
        report = report_of(0, article, now)  # its key (the article id) comes with the INSERT
        placed: list[Placement] = []
        # Extracted once, here, for the finds in both indexes, the pending add and the
        # commit's: each did it again (the pending index and the keyed copy of the report
        # missed the index's one-report memo), 3 to 4 times per new article.
        features: list[Features] = []

        def place() -> Placement:
            if not features:
                features.append(self.index.features(report))
            joined = self.find(report, features[0])
            if joined is None:
                chosen = Placement(store.new_story(article.title, report.published_at, now))
            else:
                store.touch_story(joined.story, now)
                chosen = Placement(
                    joined.story, joined.kind, joined.score, joined.matched, joined.shared
                )
            placed.append(chosen)
            return chosen

        article_id, is_new = store.add_entry(feed_id, article, now, place)
        if placed:
            story = placed[0].story_id
            self._remember(_keyed(report, article_id), story, features[0])
            return article_id, is_new, story
        known = store.article_story(article_id)
        if known is not None:
            store.touch_story(known, now)
            return article_id, is_new, known
        # Stored without a story (by a tracker without them): it begins one now.
        story = store.new_story(article.title, report.published_at, now)
        store.assign_story(article_id, Placement(story), now)
        self._remember(_keyed(report, article_id), story, self.index.features(report))
        return article_id, is_new, story

    def _remember(self, report: Report, story: int, features: Features) -> None:
        self._pending.append((report, story, features))
        if self._pending_index is None:
            self._pending_index = self.index.empty()
        self._pending_index.add(report, story, features)

    @contextmanager
    def transaction(self, store: Store, now: float) -> Iterator[None]:
        """``store.transaction()``; its reports join the index once it commits."""
        try:
            with store.transaction():
                yield
        except BaseException:
            self.discard()
            raise
        self.commit(now)

    @contextmanager
    def savepoint(self, store: Store) -> Iterator[None]:
        """A savepoint for one entry: rolled back, it leaves no report behind."""
        mark = self.mark()
        try:
            with store.transaction():
                yield
        except BaseException:
            self.rollback_to(mark)
            raise

    def mark(self) -> int:
        """Where this transaction's list stands (before an entry's savepoint)."""
        return len(self._pending)

    def rollback_to(self, mark: int) -> None:
        """An entry's savepoint rolled back: forget what it assigned."""
        if mark == len(self._pending):
            return
        del self._pending[mark:]
        self._pending_index = self.index.empty()
        for report, story, features in self._pending:
            self._pending_index.add(report, story, features)

    def commit(self, now: float) -> None:
        """The transaction committed: its reports join the index."""
        if self._index is None:  # deferred, and nothing was assigned yet
            self.discard()
            return
        for report, story, features in self._pending:
            self.index.add(report, story, features)
        self.discard()
        if now - self._pruned_at >= PRUNE_EVERY_S:
            self._pruned_at = now
            self.index.prune(now)

    def discard(self) -> None:
        """The transaction rolled back: nothing it assigned reaches the index."""
        self._pending.clear()
        self._pending_index = None

    def updates(self, store: Store, story_id: int, topics: Mapping[str, int], now: float) -> int:
        """Queue follow-ups for ``story_id`` (it just gained a report): for each topic with
        updates on (topic -> new outlets needed) whose alert a channel has accepted, one
        per channel, when a report arrived since in a language the alert had not, or at
        least that many outlets had not carried it. Returns how many were queued."""
        queued = 0
        for topic, needed in topics.items():
            match_id = store.story_alert_match(story_id, topic)
            if match_id is None:
                continue
            for first in store.sent_first_alerts(match_id):
                all_reports = store.story_reports([story_id]).get(story_id, [])
                before = [r for r in all_reports if r.first_seen <= first.sent_at]
                after = [r for r in all_reports if r.first_seen > first.sent_at]
                langs = {primary_subtag(r.lang) for r in before}
                feeds = {r.feed for r in before}
                new_lang = any(primary_subtag(r.lang) not in langs for r in after)
                new_outlets = {r.feed for r in after} - feeds
                if not new_lang and len(new_outlets) < needed:
                    continue
                key = update_key(store.instance_id, first.delivery_id)
                store.add_update(match_id, key, first, now)
                queued += 1
                event(
                    log, logging.INFO, "alert.update", topic=topic, story=story_id,
                    channel=first.channel, new_lang=new_lang or None, new_outlets=len(new_outlets),
                )  # fmt: skip
        return queued


def _keyed(r: Report, key: int) -> Report:
    # Not dataclasses.replace: this is the hot path, and replace() costs ~20 µs.
    return Report(key, r.title, r.text, r.lang, r.published_at, r.canonical_url)


def update_key(instance_id: str, first_delivery: int) -> str:
    """The idempotency key of the one follow-up to a delivered alert."""
    digest = hashlib.sha256(f"{instance_id}:update:{first_delivery}".encode()).hexdigest()[:24]
    return f"trk-{digest}"
