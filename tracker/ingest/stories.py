"""The story step of the ingest transaction: every stored article gets exactly one story.

The pipeline stores each new entry through ``add_entry``, before matching, inside the feed's
transaction. The index is asked first (``StoryIndex.find``); the answer, or a new story,
is stored with why it joined. Reports reach the index only when the transaction commits
(``commit``); until then they sit in a per-transaction index of their own, so two copies in
one feed still join each other, and a rollback (``discard``) leaves the index as it was.

Each new article's features (what the index compares of it) are stored in its INSERT,
encoded (``stories/codec.py``) under the extraction's key (``Weigher.key``). The rebuild at
start decodes them; a row without them, under another key, or whose value does not decode
is extracted again, and written back after the first commit (``write_back``), in batches
that give way to another process's write lock, so the next start decodes it.

``updates`` queues a story's one follow-up per channel when it gains a report in another
language or enough new outlets after its alert went out (topics with ``updates: true``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from tracker.errors import StorageFault
from tracker.heap import paused_gc
from tracker.log import event
from tracker.models import Article
from tracker.store.facade import Placement, ReportRow, Store
from tracker.stories.codec import Decoder, encode
from tracker.stories.features import Features
from tracker.stories.index import Joined, Report, StoryIndex
from tracker.stories.reports import report_of
from tracker.text import primary_subtag

log = logging.getLogger(__name__)

# The index forgets reports older than its window at most this often.
PRUNE_EVERY_S = 60.0
# Features extracted again at a rebuild are written back this many rows per transaction,
# each waiting at most WRITE_BACK_WAIT_S for another process's write lock; a batch that
# does not get it leaves the rest for a commit WRITE_BACK_RETRY_S later (or the next start).
# One commit writes batches for at most WRITE_BACK_BUDGET_S and leaves the rest for the
# next: the first start after the migration may queue every report of the window (a
# thousand batches at 2,000,000), and the writer thread serves the other polls and the
# outbox meanwhile.
WRITE_BACK_BATCH = 2000
WRITE_BACK_WAIT_S = 0.05
WRITE_BACK_RETRY_S = 60.0
WRITE_BACK_BUDGET_S = 0.1

# (encoded features, key, article id): a row to write back
Refresh = tuple[str, int, int]


@dataclass
class Loaded:
    """A rebuilt index, and what the rebuild found in the store."""

    index: StoryIndex
    decoded: int = 0  # reports whose stored features were used
    extracted: int = 0  # reports read again (no features, another key, a value not decoded)
    refresh: list[Refresh] = field(default_factory=list)  # of those, the ones to write back


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
) -> Loaded:
    loaded = load(store, window_s, now, lists)
    event(
        log, logging.INFO, "stories.index_rebuilt", reports=len(loaded.index),
        decoded=loaded.decoded, extracted=loaded.extracted,
    )  # fmt: skip
    return loaded


def rebuild(
    store: Store, window_s: float, now: float, lists: Mapping[str, Sequence[str]] | None = None
) -> StoryIndex:
    """The index over the window's stored articles, in publication order (at start); the
    config's ``lists`` are synonym groups for it, as in the lexicon. Writes nothing back
    (``load`` says what to)."""
    return load(store, window_s, now, lists).index


def load(
    store: Store, window_s: float, now: float, lists: Mapping[str, Sequence[str]] | None = None
) -> Loaded:
    """``rebuild``, with what it decoded and what it extracted again (to write back)."""
    return fill(StoryIndex(window_s=window_s, lists=lists), store.window_reports(now - window_s))


def fill(index: StoryIndex, rows: Iterable[ReportRow]) -> Loaded:
    """Add stored rows to ``index`` in their order: their stored features when the index's
    extraction wrote them (same key) and they decode, else extracted again (and kept in
    ``Loaded.refresh`` to write back)."""
    key = index.weigher.key
    decoder = Decoder()
    decode = decoder.decode
    loaded = Loaded(index)
    refresh = loaded.refresh
    decoded = 0
    langs: set[str] = set()
    with paused_gc():  # the window's reports: see paused_gc
        for row in rows:
            report = report_of_row(row)
            features = decode(row.features) if row.features_key == key else None
            if features is None:
                features = index.features(report)
                text = encode(features)
                if text is not None:
                    refresh.append((text, key, row.article_id))
            else:
                decoded += 1
                langs.add(features.lang)
            index.add(report, row.story_id, features)
        # The memos an extracting rebuild would have filled (see Weigher.warm).
        index.weigher.warm(decoder.strings(), langs)
    loaded.decoded = decoded
    loaded.extracted = len(index) - decoded
    return loaded


@dataclass
class StoryStep:
    """Assigns stories in the ingest transaction; the index learns them after commit."""

    # With the config's lists; a transaction's pending index shares them. None until
    # ``_build`` made it (a deferred step, see there).
    _index: StoryIndex | None = None
    _build: Callable[[float], Loaded] | None = None
    # This transaction's reports, each with its story and its features (extracted once).
    _pending: list[tuple[Report, int, Features]] = field(default_factory=list)
    _pending_index: StoryIndex | None = None
    _pruned_at: float = 0.0
    # Features the rebuild extracted again, to write back (``write_back``); not before then.
    _refresh: list[Refresh] = field(default_factory=list)
    _refresh_at: float = 0.0

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
            loaded, self._build = self._build(now), None
            self._index, self._refresh = loaded.index, loaded.refresh
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
        index = self.ready(now)  # a deferred index is built before this article writes anything
        report = report_of(0, article, now)  # its key (the article id) comes with the INSERT
        placed: list[tuple[Placement, Features]] = []

        def place() -> Placement:
            # Extracted once: for both indexes' find, the INSERT and both indexes' add.
            features = index.features(report)
            joined = self.find(report, features)
            text, key = encode(features), index.weigher.key
            if joined is None:
                story = store.new_story(article.title, report.published_at, now)
                chosen = Placement(story, features=text, features_key=key)
            else:
                store.touch_story(joined.story, now)
                chosen = Placement(
                    joined.story, joined.kind, joined.score, joined.matched, joined.shared,
                    text, key,
                )  # fmt: skip
            placed.append((chosen, features))
            return chosen

        article_id, is_new = store.add_entry(feed_id, article, now, place)
        if placed:
            chosen, features = placed[0]
            self._remember(_keyed(report, article_id), chosen.story_id, features)
            return article_id, is_new, chosen.story_id
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
        self.write_back(store, now)

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

    def write_back(self, store: Store, now: float) -> int:
        """Store the features the rebuild extracted again (outside any transaction: after
        a commit), ``WRITE_BACK_BATCH`` rows per transaction, so the next start decodes
        them; batches for ``WRITE_BACK_BUDGET_S`` at most, the rest at the next commit. A
        batch that meets another process's write lock (or any storage fault) leaves it and
        the rest for a commit ``WRITE_BACK_RETRY_S`` later: a cache is never worth failing
        or holding up a poll for. Returns the rows written."""
        refresh = self._refresh
        if not refresh or now < self._refresh_at:
            return 0
        written = 0
        until = time.monotonic() + WRITE_BACK_BUDGET_S
        while refresh and (not written or time.monotonic() < until):
            batch = refresh[-WRITE_BACK_BATCH:]
            try:
                store.refresh_features(batch, WRITE_BACK_WAIT_S)
            except StorageFault as exc:
                self._refresh_at = now + WRITE_BACK_RETRY_S
                event(
                    log, logging.INFO, "stories.features_deferred", reason=exc.kind,
                    rows=len(refresh),
                )  # fmt: skip
                break
            del refresh[-WRITE_BACK_BATCH:]
            written += len(batch)
        if written:
            event(log, logging.INFO, "stories.features_written", rows=written)
        return written

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
