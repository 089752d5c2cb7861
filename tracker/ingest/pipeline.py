"""Poll one feed end to end: fetch → parse → normalise → store → match, one transaction."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from tracker.backoff import feed_backoff
from tracker.delivery.routing import Router
from tracker.errors import DatabaseReplaced, FetchError, HTTPStatusError, ParseError, StorageFault
from tracker.ingest import fetch, hosts, items, spans
from tracker.ingest.batch import GroupCommit
from tracker.ingest.isolate import InlineParser, Parser
from tracker.ingest.items import KeyedFeed
from tracker.ingest.stories import StoryStep
from tracker.log import event
from tracker.models import (
    Article,
    Entry,
    FeedSpec,
    FeedState,
    ParsedFeed,
    PollOutcome,
    PollResult,
    TopicHit,
)
from tracker.settings import ParseSettings
from tracker.store.facade import NewMatch, Store
from tracker.store.writer import storage_fault
from tracker.stories.index import DEFAULT_WINDOW_S
from tracker.topics.matcher import Matcher

log = logging.getLogger(__name__)


# What the poller reports to, as protocols: the service layer's Metrics and
# FeedHealthMonitor implement them, and ingest (a layer below) never imports them.
class PollMetrics(Protocol):
    """Where polls are counted (service.http.Metrics in the daemon)."""

    def poll(self, result: PollResult, seconds: float) -> None: ...

    def new_articles(self, n: int) -> None: ...

    def match(self, topic: str) -> None: ...


class PollHealth(Protocol):
    """Watches polls for feeds that start or stop failing (service.feedhealth)."""

    def after_poll(self, state: FeedState, outcome: PollOutcome) -> bool:
        """Note one poll's outcome; True when that queued an admin notice."""
        ...


@dataclass(frozen=True)
class PollSettings:
    """What a poll needs, as plain values (a reload builds a new Poller with new ones)."""

    feeds: dict[str, FeedSpec]
    matcher: Matcher
    max_age_s: float
    jitter_s: float
    max_bytes: int
    default_interval_s: float
    max_redirects: int = 5
    deadline_s: float = 120.0
    # Refuses redirects from a public feed to an internal address (fetch.allow_private_redirects).
    redirects: fetch.RedirectGuard = field(default_factory=fetch.RedirectGuard)
    auth: dict[str, tuple[str, str]] = field(default_factory=dict)
    parse_limits: ParseSettings = field(default_factory=ParseSettings)
    # None when no channel is configured: alerts are then only stored and logged.
    router: Router | None = None
    story_window_s: float = DEFAULT_WINDOW_S
    # Topics with `updates: true` -> how many new outlets make a story's follow-up.
    updates: dict[str, int] = field(default_factory=dict)
    # Topics configured with `notify: []`: matched and stored, never alerted (like a mute).
    silenced: frozenset[str] = frozenset()
    # <ttl>, sy:updatePeriod and Cache-Control max-age raise a feed interval (fetch.honour_ttl).
    honour_ttl: bool = True


def next_check(
    now: float,
    interval_s: float,
    jitter_s: float,
    errors: int = 0,
    retry_after_s: float | None = None,
) -> float:
    """When to poll again: interval plus jitter, doubled per consecutive error, never before
    a server's Retry-After (``backoff.feed_backoff``)."""
    return now + feed_backoff(interval_s, jitter_s).delay(errors, retry_after_s)


# New entries stored per transaction, with the event loop free between transactions.
# (250 since the story step: 500 with it held the loop for up to 0.5 s on a busy machine.)
INGEST_CHUNK = 250


class Poller:
    """Polls feeds with one shared HTTP client into one store."""

    def __init__(
        self,
        client: fetch.Client,
        store: Store,
        settings: PollSettings,
        clock: Callable[[], float] = time.time,
        *,
        metrics: PollMetrics | None = None,
        health: PollHealth | None = None,
        on_deliveries: Callable[[], None] | None = None,
        parser: Parser | None = None,
        stories: StoryStep | None = None,
        floors: dict[int, float] | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self.health = health
        # Called after a feed's transaction queued deliveries, to send them without waiting.
        self.on_deliveries = on_deliveries
        # The daemon's is an ingest.isolate.ParsePool (bounded); by hand, a thread.
        self.parser: Parser = parser or InlineParser()
        # Feed id -> the floor its last parsed body asked for (<ttl>, sy:updatePeriod), kept
        # for the 304s that follow; a reload's new Poller is handed the old one's. In memory
        # only: a restart forgets it until the feed's next body (storing it needs a column).
        self.floors: dict[int, float] = floors if floors is not None else {}
        # The story index outlives a reload's new Poller: the daemon passes it in.
        self.stories = (
            stories if stories is not None else StoryStep.deferred(store, settings.story_window_s)
        )
        # The writes of polls that bring nothing new, many to a transaction.
        self._unchanged: GroupCommit[bool] = GroupCommit(store)

    async def poll(self, state: FeedState) -> PollOutcome:
        """Poll one feed; never raises for feed problems: they are stored on the feed's row."""
        started = time.monotonic()
        outcome = await self._poll(state)
        if self.metrics is not None:
            result: PollResult = "ok"
            if not outcome.ok:
                result = "failed"
            elif outcome.not_modified:
                result = "not_modified"
            self.metrics.poll(result, time.monotonic() - started)
            self.metrics.new_articles(outcome.new_articles)
            for topic in outcome.matched_topics:
                self.metrics.match(topic)
        if outcome.storage_fault or outcome.ok:
            # A storage fault: the daemon's storage guard reports it, once. Any success (a
            # 304 included): the health check went with the success write
            # (_unchanged_success, or the last chunk of _store_chunk), in its unit on the
            # writer thread.
            return outcome
        if self.health is not None:
            try:
                if await self.store.run(self.health.after_poll, state, outcome):
                    self._wake_outbox()
            except (StorageFault, DatabaseReplaced):
                pass  # the storage guard reports it; the transition is seen on a later poll
        return outcome

    def _floored(
        self, state: FeedState, spec: FeedSpec, headers: dict[str, str], parsed: ParsedFeed | None
    ) -> FeedSpec:
        """``spec`` with its interval raised to what the feed asks for (fetch.honour_ttl):
        the parsed body's <ttl> or sy:updatePeriod (remembered for later 304s) and this
        response's Cache-Control max-age. Never lower than configured, at most a day."""
        if not self.settings.honour_ttl:
            return spec
        if parsed is not None:
            if parsed.floor_s is None:
                self.floors.pop(state.id, None)
            else:
                self.floors[state.id] = parsed.floor_s
        interval = hosts.floored(
            spec.interval_s, self.floors.get(state.id), hosts.cache_max_age(headers)
        )
        if interval == spec.interval_s:
            return spec
        return dataclasses.replace(spec, interval_s=interval)

    def _wake_outbox(self) -> None:
        if self.on_deliveries is not None:
            self.on_deliveries()

    async def _poll(self, state: FeedState) -> PollOutcome:
        s = self.settings
        spec = s.feeds.get(state.url) or FeedSpec(state.url, state.name, s.default_interval_s)
        try:
            result = await fetch.fetch(
                self.client,
                state.url,
                etag=state.etag,
                last_modified=state.last_modified,
                max_bytes=s.max_bytes,
                headers=dict(spec.headers),
                auth=s.auth.get(state.url),
                max_redirects=s.max_redirects,
                deadline_s=s.deadline_s,
                redirects=s.redirects,
            )
            now = self.clock()
            spec = self._floored(state, spec, result.headers, None)
            await self._note_moved(state, spec, result.moved_to)
            if result.not_modified or result.body is None:
                # Nothing was stored: a feed not yet read keeps its silent baseline for the
                # first body (a 304 to an unconditional first request would otherwise let
                # the next poll alert on everything the feed carries).
                outcome = PollOutcome(spec.name, ok=True, not_modified=True)
                await self._unchanged_success(
                    state, spec, now, result.status, result.etag, result.last_modified, None,
                    outcome,
                )  # fmt: skip
                event(log, logging.DEBUG, "poll.not_modified", feed=spec.name)
                return outcome
            body_hash = hashlib.sha256(result.body).hexdigest()
            if body_hash == state.body_hash:
                # Same bytes as last time (a server without validators): skip parsing.
                outcome = PollOutcome(spec.name, ok=True, not_modified=True)
                await self._unchanged_success(
                    state, spec, now, result.status, result.etag, result.last_modified, body_hash,
                    outcome,
                )  # fmt: skip
                return outcome
            # The items this feed carried at its last clean parse are cut before parsing.
            known = spans.unpack(state.item_prints)
            keyed = await self.parser.parse(
                result.body, result.headers, state.url, s.parse_limits, known
            )
            if keyed.feed.warning:
                event(log, logging.INFO, "parse.warning", feed=spec.name, error=keyed.feed.warning)
            spec = self._floored(state, spec, result.headers, keyed.feed)
            # Inside the try: an ingest that fails as a whole (its transaction rolled back)
            # is a failure with backoff too, never a poll retried on every tick.
            return await self._ingest(
                state, spec, keyed, result.status, result.etag, result.last_modified, body_hash
            )
        except (StorageFault, DatabaseReplaced) as exc:
            return _storage_outcome(spec, exc)
        except (FetchError, ParseError) as exc:
            return await self._failure(state, spec, exc)
        except Exception as exc:  # a bug must still count as a failure, with backoff
            log.exception("poll crashed", extra={"fields": {"feed": spec.name}})
            return await self._failure(state, spec, FetchError(f"internal error: {exc!r}"))

    async def _ingest(
        self,
        state: FeedState,
        spec: FeedSpec,
        keyed: KeyedFeed,
        status: int,
        etag: str | None,
        last_modified: str | None,
        body_hash: str,
    ) -> PollOutcome:
        now = self.clock()
        # A baseline poll stores what the feed carries today without alerting on any of it.
        may_alert = state.baseline_done or spec.alert_on_first_poll
        outcome = PollOutcome(spec.name, ok=True)
        # The known entries are left out inside each chunk's own unit, so the usual changed
        # feed is one trip to the writer thread. A huge feed's walk runs on a thread too:
        # over 100,000 items it held the loop for 0.1 s on a busy machine.
        if len(keyed.keys) <= INGEST_CHUNK:
            entries = _first_of_each_key(keyed)
        else:
            entries = await self.store.run(_first_of_each_key, keyed)
        # One transaction for a feed's new entries, or one per INGEST_CHUNK of them: each
        # chunk is one unit on the writer thread (matching included), so the loop never waits
        # on it, and other writers (the outbox) get their turn in between. The feed's own
        # state (validators, body hash, baseline) and its health check move with the last
        # chunk only, so after a crash midway the next poll fetches again and stores the rest.
        step = INGEST_CHUNK
        chunks = [entries[i : i + step] for i in range(0, len(entries), step)] or [[]]
        lang = keyed.lang(spec.lang)
        queued = 0
        for n, chunk in enumerate(chunks, start=1):
            last = n == len(chunks)
            validators = (status, etag, last_modified, body_hash, keyed.prints)
            queued += await self.store.run(
                self._store_chunk, state, spec, chunk, lang, may_alert, outcome, now,
                validators if last else None,
            )  # fmt: skip
        if queued:
            self._wake_outbox()
        event(
            log,
            logging.INFO,
            "poll.ok",
            feed=spec.name,
            new=outcome.new_articles,
            matches=outcome.matches,
            baseline=not state.baseline_done or None,
        )
        return outcome

    def _store_chunk(
        self,
        state: FeedState,
        spec: FeedSpec,
        chunk: list[tuple[str, Entry]],
        lang: str | None,
        may_alert: bool,
        outcome: PollOutcome,
        now: float,
        validators: tuple[int, str | None, str | None, str, tuple[bytes, ...]] | None,
    ) -> int:
        """One chunk's transaction (on the writer thread): its entries new to the feed, and
        with ``validators`` the feed's success and health check too. Its `alert` lines are
        logged once it has committed. Returns the deliveries and notices queued."""
        queued = 0
        outcome.alert_lines.clear()
        # The story step's transaction: its reports join the story index once it commits.
        with self.stories.transaction(self.store, now):
            known = self.store.known_keys(state.id, [key for key, _ in chunk])
            for key, entry in chunk:
                if key in known:
                    continue
                lines = len(outcome.alert_lines)
                try:
                    # A savepoint per entry: one bad item is skipped, the rest is stored.
                    with self.stories.savepoint(self.store):
                        queued += self._ingest_entry(
                            state, spec, entry, key, lang, may_alert, outcome
                        )
                except Exception as exc:
                    if storage_fault(exc, self.store.path) is not None:
                        raise  # the database, not the entry: the whole chunk rolls back
                    del outcome.alert_lines[lines:]
                    outcome.skipped += 1
                    event(
                        log,
                        logging.WARNING,
                        "entry.skipped",
                        feed=spec.name,
                        entry=key[:200],
                        error=f"{type(exc).__name__}: {exc}",
                    )
            if validators is not None:
                # What the feed carries is stored: later items are news.
                status, etag, last_modified, body_hash, prints = validators
                # The items are remembered only if all of them are stored: a skipped one is
                # tried again at the next body, which needs it parsed.
                self._record_success(
                    state, spec, now, status, etag, last_modified, body_hash, baseline_done=True,
                    item_prints=spans.pack(prints) if not outcome.skipped else b"",
                )  # fmt: skip
                queued += self._health_check(state, outcome)
        for line in outcome.alert_lines:
            event(log, logging.INFO, "alert", **line)
        outcome.alert_lines.clear()
        return queued

    def _health_check(self, state: FeedState, outcome: PollOutcome) -> int:
        """The health monitor's look at a successful ingest (on the writer thread, in its
        transaction, in a savepoint: a bug there costs the check, never the entries).
        Returns 1 when it queued an admin notice."""
        if self.health is None:
            return 0
        try:
            with self.store.transaction():  # nested: a savepoint
                return int(self.health.after_poll(state, outcome))
        except Exception as exc:
            if storage_fault(exc, self.store.path) is not None:
                raise  # the database, not the check: the whole chunk rolls back
            log.exception("health check crashed", extra={"fields": {"feed": state.name}})
            return 0

    def _ingest_entry(
        self,
        state: FeedState,
        spec: FeedSpec,
        entry: Entry,
        key: str,
        lang: str | None,
        may_alert: bool,
        outcome: PollOutcome,
    ) -> int:
        """Store one entry new to this feed, match it, queue its alerts; returns deliveries.

        An article another feed carried first is matched too: if it only matched silently
        there (a baseline, another feed's restriction), this feed's carrying it is news.
        A story alerts at most once per topic: topics match stories (store.add_matches).
        """
        now = self.clock()
        article = items.to_item(entry, key, lang, now).article
        # Stored with its story: topics match stories, so the match needs to know which one.
        article_id, is_new, story = self.stories.add_entry(self.store, state.id, article, now)
        outcome.new_entries += 1
        outcome.new_articles += is_new
        alert = may_alert and _fresh(article, now - self.settings.max_age_s)
        hits = self.settings.matcher.match(article.match_input(spec.name))
        queued = 0
        if may_alert and self.settings.router is not None and self.settings.updates:
            queued += self.stories.updates(self.store, story, self.settings.updates, now)
        for m in self._add_matches(
            article_id, hits, alert, now, story, spec, article.title, outcome
        ):
            outcome.matches += 1
            outcome.matched_topics.append(m.topic)
            if m.alert:
                outcome.alerts += 1
                outcome.hits.append((m.topic, article.title))
                # Logged by _store_chunk once the transaction has committed.
                line = {"topic": m.topic, "feed": spec.name, "title": article.title}
                outcome.alert_lines.append({**line, "url": article.url})
                queued += self._enqueue(m.match_id, m.topic, now)
        return queued

    def _add_matches(
        self,
        article_id: int,
        hits: list[TopicHit],
        alert: bool,
        now: float,
        story: int,
        spec: FeedSpec,
        title: str,
        outcome: PollOutcome,
    ) -> list[NewMatch]:
        """Store the hits; those of a muted topic (`tracker topics mute`, read from the
        database at each match so a running daemon sees a mute at once, or `notify: []`)
        are stored without an alert, and counted as muted."""
        if not (alert and hits):
            return self.store.add_matches(article_id, hits, alert, now, story)
        muted = self.settings.silenced.union(self.store.muted_topics(now))
        quiet = [h for h in hits if h.topic in muted]
        if not quiet:
            return self.store.add_matches(article_id, hits, alert, now, story)
        loud = [h for h in hits if h.topic not in muted]
        stored = self.store.add_matches(article_id, loud, True, now, story)
        for m in self.store.add_matches(article_id, quiet, False, now, story):
            outcome.muted.append((m.topic, title))
            event(log, logging.INFO, "alert.muted", topic=m.topic, feed=spec.name, title=title)
            stored.append(m)
        return stored

    def _enqueue(self, match_id: int, topic: str, now: float) -> int:
        """Queue the alert for each channel its topic routes to (same transaction)."""
        router = self.settings.router
        if router is None:
            return 0
        routes = router.routes(topic, now, self.store)
        for route in routes:
            key = delivery_key(self.store.instance_id, match_id, route.channel)
            self.store.add_delivery(match_id, key, route, now)
        return len(routes)

    async def _note_moved(self, state: FeedState, spec: FeedSpec, moved_to: str | None) -> None:
        """Remember a permanent redirect (`tracker feeds` shows it); log it once."""
        if moved_to is None and state.moved_to is None:
            return  # nothing to store or log: no trip to the writer thread
        if await self.store.run(self.store.record_moved, state, moved_to):
            event(
                log,
                logging.WARNING,
                "feed.moved",
                feed=spec.name,
                url=state.url,
                moved_to=moved_to,
                hint="moved permanently: update the config",
            )

    async def _unchanged_success(
        self,
        state: FeedState,
        spec: FeedSpec,
        now: float,
        status: int,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        outcome: PollOutcome,
    ) -> None:
        """A poll that brought nothing new: its success and its health check, in one unit
        that shares a transaction with the other such polls of the moment (GroupCommit)."""

        def unit() -> bool:
            self._record_success(
                state, spec, now, status, etag, last_modified, body_hash,
                baseline_done=state.baseline_done,
            )  # fmt: skip
            return self.health is not None and self.health.after_poll(state, outcome)

        if await self._unchanged.run(unit):
            self._wake_outbox()

    def _record_success(
        self,
        state: FeedState,
        spec: FeedSpec,
        now: float,
        status: int,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        *,
        baseline_done: bool,
        item_prints: bytes | None = None,
    ) -> None:
        """The feed's success and next check (on the writer thread)."""
        self.store.record_success(
            state.id,
            now=now,
            next_check_at=next_check(now, spec.interval_s, self.settings.jitter_s),
            status=status,
            etag=etag,
            last_modified=last_modified,
            body_hash=body_hash,
            baseline_done=baseline_done,
            item_prints=item_prints,
        )

    async def _failure(
        self, state: FeedState, spec: FeedSpec, exc: FetchError | ParseError
    ) -> PollOutcome:
        now = self.clock()
        # Only a server's answer has a status, and only a 429 or 503 a Retry-After.
        status = exc.status if isinstance(exc, HTTPStatusError) else None
        retry_after = exc.retry_after_s if isinstance(exc, HTTPStatusError) else None
        errors = state.consecutive_errors + 1
        backoff = feed_backoff(spec.interval_s, self.settings.jitter_s)
        # The hold makes even `run --once` (which ignores the schedule) wait as asked.
        hold_until = now + backoff.retry_after_cap(retry_after) if retry_after else None
        try:
            await self.store.run(
                self.store.record_failure,
                state.id,
                now=now,
                next_check_at=now + backoff.delay(errors, retry_after),
                status=status,
                error=exc.message,
                hold_until=hold_until,
            )
        except (StorageFault, DatabaseReplaced) as fault:
            # Recording the failure failed too: that is the database's state, not the feed's.
            return _storage_outcome(spec, fault)
        event(
            log,
            logging.WARNING,
            "poll.failed",
            feed=spec.name,
            url=state.url,
            error=exc.message,
            errors=errors,
        )
        return PollOutcome(spec.name, ok=False, error=exc.message)


def _storage_outcome(spec: FeedSpec, exc: StorageFault | DatabaseReplaced) -> PollOutcome:
    """A poll the database could not record: the feed's row is untouched (its schedule and
    validators), so the first poll after recovery fetches and stores it all again."""
    return PollOutcome(spec.name, ok=False, error=exc.message, storage_fault=True)


def delivery_key(instance_id: str, match_id: int, channel: str) -> str:
    """The idempotency key of one alert to one channel: stable across retries and restarts,
    and unlike any other database's (``instance_id`` is random per database)."""
    digest = hashlib.sha256(f"{instance_id}:{match_id}:{channel}".encode()).hexdigest()[:24]
    return f"trk-{digest}"


def _first_of_each_key(keyed: KeyedFeed) -> list[tuple[str, Entry]]:
    """The feed's entries, the first of each key, in feed order."""
    fresh: dict[str, Entry] = {}
    for entry, key in keyed.entries():
        fresh.setdefault(key, entry)
    return list(fresh.items())


def _fresh(article: Article, oldest: float) -> bool:
    return article.published_at is None or article.published_at.timestamp() >= oldest
