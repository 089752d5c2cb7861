"""Plain frozen dataclasses that flow between the stages of the pipeline.

pydantic stays at the config boundary (config.py); everything inside the daemon
passes these small immutable values around.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal


@dataclass(frozen=True)
class FeedSpec:
    """A feed as the config describes it (what to poll and how often)."""

    url: str
    name: str
    interval_s: float
    alert_on_first_poll: bool = False
    lang: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FeedState:
    """A feed's row in the store: validators and schedule."""

    id: int
    url: str
    name: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    baseline_done: bool
    consecutive_errors: int
    # Where the feed's URL permanently redirects, as stored (secrets masked); None: it does not.
    moved_to: str | None = None
    # The fingerprints of the items its last clean parse saw (ingest.spans.pack), if any.
    item_prints: bytes | None = None
    # The feed's health as stored when this state was read (None: not read with it).
    health: HealthStatus | None = None


@dataclass(frozen=True)
class FetchResult:
    """What the fetcher got for one feed; ``body`` is None on 304."""

    url: str
    status: int
    body: bytes | None
    headers: dict[str, str]
    etag: str | None
    last_modified: str | None
    elapsed_s: float = 0.0
    # Where a chain of permanent redirects (301, 308) from the feed's URL ended: the
    # feed moved and its config should say so.
    moved_to: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class Entry:
    """One feed entry as the parser saw it, before normalisation."""

    guid: str | None
    link: str | None
    title: str
    summary_html: str
    content_html: str
    published: datetime | None
    lang: str | None
    authors: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedFeed:
    """Entries plus feed-level facts; ``warning`` is set for recoverable faults."""

    entries: tuple[Entry, ...]
    title: str | None = None
    lang: str | None = None
    warning: str | None = None
    # The least interval the feed asks for (RSS <ttl>, sy:updatePeriod), in seconds.
    floor_s: float | None = None


@dataclass(frozen=True)
class Article:
    """A normalised entry, ready to be stored and matched."""

    entry_key: str
    url: str | None
    canonical_url: str | None
    title: str
    summary: str
    content: str
    published_at: datetime | None
    lang: str | None
    authors: tuple[str, ...] = ()
    guid: str | None = None

    def match_input(self, feed: str) -> MatchInput:
        """The text the matcher sees for this article, carried by ``feed``."""
        return MatchInput(self.title, self.summary, self.content, feed, self.lang)


@dataclass(frozen=True)
class FeedItem:
    """One entry of a feed, in feed order: as parsed, its identity key, and its article."""

    entry: Entry
    key: str
    article: Article


@dataclass(frozen=True)
class StoredArticle:
    """An article read back from the store (for backtests)."""

    id: int
    url: str | None
    title: str
    summary: str
    content: str
    published_at: float | None
    lang: str | None
    feed: str


@dataclass(frozen=True)
class TopicSpec:
    """A topic as configured: a query plus optional feed and language restrictions.

    ``focus`` names the parts of an article the query reads (``title``, ``summary``,
    ``content``; empty: all), and ``focus_words`` keeps only the first N words of the
    body parts among them, so a passing mention deep in the text does not count.
    """

    name: str
    query: str
    feeds: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()
    focus: tuple[str, ...] = ()
    focus_words: int | None = None


@dataclass(frozen=True)
class MatchInput:
    """The text of one article as the matcher sees it."""

    title: str
    summary: str
    content: str = ""
    feed: str = ""
    lang: str | None = None


@dataclass(frozen=True)
class TopicHit:
    """One topic matching one article, with the terms that hit and a snippet."""

    topic: str
    terms: tuple[str, ...] = ()
    snippet: str = ""


@dataclass
class PollOutcome:
    """What polling one feed did; summed up by ``run --once``."""

    feed: str
    ok: bool
    not_modified: bool = False
    new_entries: int = 0  # items new to this feed, even if another feed brought them first
    new_articles: int = 0
    matches: int = 0
    alerts: int = 0
    error: str | None = None
    hits: list[tuple[str, str]] = field(default_factory=list)
    matched_topics: list[str] = field(default_factory=list)
    muted: list[tuple[str, str]] = field(default_factory=list)  # (topic, title), no alert
    # The `alert` log lines of the transaction in hand: logged only once it has committed.
    alert_lines: list[dict[str, str | None]] = field(default_factory=list)
    # The database took no write (a storage fault, or the file lost): nothing was recorded.
    storage_fault: bool = False
    # New entries that could not be stored (skipped, logged as entry.skipped).
    skipped: int = 0


@dataclass(frozen=True)
class Route:
    """Where one alert goes: a channel, and when it may leave (digest time, end of quiet hours)."""

    channel: str
    digest: bool
    not_before: float


@dataclass(frozen=True)
class Alert:
    """One pending delivery with everything a channel needs to render it."""

    delivery_id: int
    key: str
    channel: str
    digest: bool
    topic: str
    title: str
    url: str | None
    summary: str
    feed: str
    published_at: float | None
    lang: str | None
    terms: tuple[str, ...]
    snippet: str
    created_at: float
    attempts: int = 0
    batch: str | None = None  # the digest it was first attempted in (see store._v3)
    content: str = ""  # the article's text beyond its summary: a snippet when there is none
    canonical_url: str | None = None  # the link without tracking parameters
    notice: NoticeKind | None = None  # set for an admin notice (topic NOTICE_TOPIC)
    story_id: int | None = None
    headline: str | None = None  # the story's (its first report's title)
    story_first_seen: float | None = None
    # Every report of the story known when the alert is rendered, first published first.
    reports: tuple[StoryReport, ...] = ()
    update: bool = False  # a follow-up: the story gained another language or outlets
    thread_key: str | None = None  # an update's first alert's key (its Message-ID)


@dataclass(frozen=True)
class StoryReport:
    """One outlet's report of a story: the feed that carried it, its language and link."""

    feed: str
    lang: str | None
    title: str
    link: str | None
    published_at: float | None
    first_seen: float


# The topic name admin notices carry; `tracker check` refuses a user topic of that name.
NOTICE_TOPIC = "admin"


class NoticeKind(StrEnum):
    """What an admin notice is about; the values are the webhook payload's ``kind``."""

    FEED_FAILING = "feed_failing"
    FEED_SILENT = "feed_silent"
    FEED_RECOVERED = "feed_recovered"
    CONFIG_REJECTED = "config_rejected"
    STORAGE_DEGRADED = "storage_degraded"  # the database takes no write (sent without it)
    STORAGE_RECOVERED = "storage_recovered"
    OTHER = "other"  # a kind this version does not know (a newer tracker wrote it)

    @classmethod
    def from_stored(cls, kind: str) -> NoticeKind:
        """The kind ``notices.kind`` holds (``feed-failing``, ``feed-ok``, …) as a NoticeKind."""
        if kind == "feed-ok":  # feedhealth names the transition by the new health
            return cls.FEED_RECOVERED
        try:
            return cls(kind.replace("-", "_"))
        except ValueError:
            return cls.OTHER


class SendKind(StrEnum):
    """What a channel's answer means for the delivery (and for the rest of its batch)."""

    ACCEPTED = "accepted"
    RETRY = "retry"  # a temporary refusal: try again later (backoff, Retry-After)
    PERMANENT = "permanent"  # refused for good: dead now, no more attempts
    # No answer at all (refused, timed out): the rest of a batch need not be tried now.
    TRANSPORT = "transport"
    # The session broke mid-batch (SMTP): the alerts after this one fail the same way.
    CONNECTION_LOST = "connection_lost"


@dataclass(frozen=True)
class SendResult:
    """A channel's answer for one alert: accepted, or why not and whether to try again."""

    kind: SendKind
    detail: str = ""
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.kind is SendKind.ACCEPTED

    @property
    def permanent(self) -> bool:
        return self.kind is SendKind.PERMANENT

    @property
    def transport_error(self) -> bool:
        return self.kind is SendKind.TRANSPORT


class DeliveryStatus(StrEnum):
    """A delivery's state in the outbox; the values are what SQLite stores."""

    PENDING = "pending"  # waiting for its time, or for a retry
    SENT = "sent"
    DEAD = "dead"  # given up: permanent refusal or out of attempts
    CANCELLED = "cancelled"  # `tracker alerts cancel` while pending: never sent


class HealthStatus(StrEnum):
    """A feed's health (``feeds.health``); the values are what SQLite stores."""

    OK = "ok"
    FAILING = "failing"
    SILENT = "silent"


# How one poll ended, as the metrics count it.
PollResult = Literal["ok", "not_modified", "failed"]
