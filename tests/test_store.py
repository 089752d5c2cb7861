import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils

from tracker.errors import StoreError
from tracker.models import Article, FeedSpec, TopicHit
from tracker.store.facade import SCHEMA_VERSION, Store
from tracker.store.sqlite.migrations import NAMES, STEPS


def _article(key: str, url: str | None, title: str = "t") -> Article:
    return Article(
        entry_key=key,
        url=url,
        canonical_url=url,
        title=title,
        summary="s",
        content="",
        published_at=datetime(2026, 11, 1, tzinfo=UTC),
        lang="en",
    )


def test_migrations_are_versioned_and_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    store = Store(db)
    assert store.schema_version == SCHEMA_VERSION
    store.close()
    store = Store(db)  # reopening applies nothing twice
    assert store.schema_version == SCHEMA_VERSION
    mode = store.query("PRAGMA journal_mode")[0][0]
    assert mode == "wal"
    store.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this tracker"):
        Store(db)


def test_newer_migration_by_name_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES"
        " ('tracker', 'v99', 'later')"
    )
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this tracker"):
        Store(db)


def test_database_from_before_sqlite_utils_migrations_is_adopted(tmp_path: Path) -> None:
    """A database whose level is only in user_version: levels it has are not run again,
    the ones it lacks are."""
    db = tmp_path / "old.db"
    conn = sqlite_utils.Database(sqlite3.connect(db, isolation_level=None))
    for step in STEPS[:2]:
        step(conn)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO feeds (url, name, next_check_at, created_at) VALUES ('u', 'n', 1, 1)")
    conn.close()
    store = Store(db)  # v1 again would fail: "table feeds already exists"
    assert store.schema_version == SCHEMA_VERSION
    # Every step by its name (branches add steps out of order: v5, v6, v7).
    assert [r[0] for r in store.query("SELECT name FROM _sqlite_migrations ORDER BY id")] == [
        *NAMES
    ]
    assert NAMES[:4] == ("v1", "v2", "v3", "v4")
    assert store.query("SELECT url, retired_at FROM feeds") == [("u", None)]  # v4 ran
    assert len(store.instance_id) == 16
    store.close()


def test_unopenable_database_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match="cannot open database"):
        Store(tmp_path / "dir.db")


def test_sync_feeds_adds_and_retires(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    a, b = FeedSpec("https://a/", "A", 60), FeedSpec("https://b/", "B", 60)
    store.sync_feeds([a, b], now=100)
    assert [s.url for s in store.due_feeds(100, 10)] == ["https://a/", "https://b/"]
    store.sync_feeds([a], now=200)
    assert [s.url for s in store.due_feeds(200, 10)] == ["https://a/"]
    assert {r.url: r.active for r in store.feeds()} == {"https://a/": True, "https://b/": False}
    store.sync_feeds([a, b], now=300)  # re-added: active again, history kept
    assert len(store.due_feeds(300, 10)) == 2


def test_sync_feeds_writes_only_the_rows_that_change(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    specs = [FeedSpec(f"https://f{i}/", f"F{i}", 60) for i in range(50)]
    store.sync_feeds(specs, now=100)
    conn = store.db.conn
    before = conn.total_changes
    store.sync_feeds(specs, now=200)  # a start or reload with the same feeds
    assert conn.total_changes == before
    renamed = [FeedSpec("https://f0/", "Renamed", 60), *specs[1:49]]  # f49 leaves
    store.sync_feeds(renamed, now=300)
    assert conn.total_changes == before + 2
    rows = {r.url: (r.name, r.active) for r in store.feeds()}
    assert rows["https://f0/"] == ("Renamed", True)
    assert rows["https://f49/"] == ("F49", False)
    assert rows["https://f1/"] == ("F1", True)


def test_sync_feeds_masks_a_stored_token_url_and_keeps_its_row(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    url = "https://a.example/feed?token=s3cret"
    # A database from before secrets were masked holds the URL as configured.
    store.db.execute(
        "INSERT INTO feeds (url, name, next_check_at, created_at, consecutive_errors)"
        " VALUES (?, 'A', 0, 0, 3)",
        [url],
    )
    store.db.conn.commit()
    store.sync_feeds([FeedSpec(url, "A", 60)], now=100)
    [(stored, errors, active)] = store.query("SELECT url, consecutive_errors, active FROM feeds")
    assert "s3cret" not in stored and stored.startswith("https://a.example/feed?token=***#")
    assert (errors, active) == (3, 1)  # the same row, its history kept


def test_due_feeds_respects_limit_exclusions_and_time(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec(f"https://f{i}/", f"F{i}", 60) for i in range(5)], now=0)
    first = store.due_feeds(0, 2)
    assert len(first) == 2
    rest = store.due_feeds(0, 10, exclude=[s.id for s in first])
    assert len(rest) == 3 and not {s.id for s in rest} & {s.id for s in first}
    store.record_success(
        first[0].id,
        now=0,
        next_check_at=500,
        status=200,
        etag=None,
        last_modified=None,
        body_hash=None,
        baseline_done=True,
    )
    assert first[0].id not in {s.id for s in store.due_feeds(499, 10)}
    assert first[0].id in {s.id for s in store.due_feeds(500, 10)}


def test_same_url_from_two_feeds_is_one_article(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec("https://a/", "A", 60), FeedSpec("https://b/", "B", 60)], now=0)
    fa, fb = store.due_feeds(0, 10)
    with store.transaction():
        id1, new1 = store.add_entry(fa.id, _article("guid:1", "https://x/story"), now=1)
        id2, new2 = store.add_entry(fb.id, _article("guid:zz", "https://x/story"), now=2)
        id3, new3 = store.add_entry(fb.id, _article("hash:abc", None), now=2)
        id4, new4 = store.add_entry(fa.id, _article("hash:def", None), now=2)
    assert (new1, new2, new3, new4) == (True, False, True, True)
    assert id1 == id2 and id3 != id4
    assert store.count("articles") == 3 and store.count("entries") == 4
    assert store.known_keys(fb.id, ["guid:zz", "guid:1", "hash:abc"]) == {"guid:zz", "hash:abc"}


def test_transaction_rolls_back_everything(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec("https://a/", "A", 60)], now=0)
    (fa,) = store.due_feeds(0, 10)
    with pytest.raises(RuntimeError), store.transaction():
        aid, _ = store.add_entry(fa.id, _article("guid:1", "https://x/1"), now=1)
        store.add_matches(aid, [TopicHit("t", ("x",), "s")], alert=True, now=1)
        raise RuntimeError("crash mid-feed")
    assert store.count("articles") == store.count("entries") == store.count("matches") == 0


def test_matches_are_unique_per_article_and_topic(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec("https://a/", "A", 60)], now=0)
    (fa,) = store.due_feeds(0, 10)
    with store.transaction():
        aid, _ = store.add_entry(fa.id, _article("guid:1", "https://x/1"), now=1)
        first = store.add_matches(aid, [TopicHit("t", ("x",), "s")], alert=True, now=1)
        again = store.add_matches(aid, [TopicHit("t", ("x",), "s")], alert=True, now=1)
    assert len(first) == 1 and again == []


def test_shortened_interval_applies_at_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec("https://a/", "A", 3600)], now=0)
    (fa,) = store.due_feeds(0, 10)
    store.record_success(
        fa.id,
        now=100,
        next_check_at=3700,
        status=200,
        etag=None,
        last_modified=None,
        body_hash=None,
        baseline_done=True,
    )
    store.sync_feeds([FeedSpec("https://a/", "A", 300)], now=200)
    assert store.due_feeds(399, 10) == [] and len(store.due_feeds(400, 10)) == 1
    store.sync_feeds([FeedSpec("https://a/", "A", 7200)], now=200)  # longer: no change
    assert len(store.due_feeds(400, 10)) == 1


def test_idempotency_keys_differ_between_databases_and_hold_across_restarts(
    tmp_path: Path,
) -> None:
    from tracker.ingest.pipeline import delivery_key

    a, b = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    key_a, key_b = (delivery_key(s.instance_id, 1, "hook") for s in (a, b))
    assert key_a != key_b  # match 1 to "hook" in two databases: two different alerts
    a.add_notice("test", "s", "b", "hook", 0)
    b.add_notice("test", "s", "b", "hook", 0)
    notices = [s.query("SELECT idempotency_key FROM deliveries")[0][0] for s in (a, b)]
    assert notices[0] != notices[1]
    instance = a.instance_id
    a.close()
    b.close()
    again = Store(tmp_path / "a.db")
    assert again.instance_id == instance
    assert delivery_key(again.instance_id, 1, "hook") == key_a  # a resend keeps its key
    again.close()


def test_a_queued_notice_comes_back_as_a_notice_with_its_kind(tmp_path: Path) -> None:
    from tracker.models import NOTICE_TOPIC, NoticeKind

    store = Store(tmp_path / "t.db")
    store.add_notice("feed-failing", "feed failing: A", "A failed 5 polls", "ops", now=1)
    store.add_notice("feed-ok", "feed recovered: A", "A works again", "ops", now=2)
    store.add_notice("config-rejected", "config rejected", "line 3: …", "ops", now=3)
    alerts = store.due_alerts(10, ignore_backoff=True)
    assert [a.notice for a in alerts] == [
        NoticeKind.FEED_FAILING,
        NoticeKind.FEED_RECOVERED,
        NoticeKind.CONFIG_REJECTED,
    ]
    assert {a.topic for a in alerts} == {NOTICE_TOPIC}
    assert alerts[0].title == "feed failing: A" and alerts[0].summary == "A failed 5 polls"
