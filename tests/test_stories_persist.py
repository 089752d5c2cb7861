"""Stored story features (migration v10) on real SQLite files: the rebuild decodes what the
story step stored and decides as one that extracts; NULL, stale and garbage rows are
extracted again and written back; a write-back that meets another process's write lock
waits for a later commit instead of failing; a v9 database migrates and is filled in."""

from __future__ import annotations

import dataclasses
import functools
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils
from sqlite_utils.migrations import Migrations

from tracker.errors import StorageFault
from tracker.ingest import stories
from tracker.ingest.stories import StoryStep, load
from tracker.models import Article, FeedSpec
from tracker.store.facade import Store
from tracker.store.sqlite.migrations import NAMES, STEPS
from tracker.store.writer import BUSY_TIMEOUT_S
from tracker.stories.codec import encode
from tracker.stories.index import Report, StoryIndex

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import stories_quality

NOW = time.time()
WINDOW_S = 72 * 3600.0


def _article(n: int, report: Report, at: float) -> Article:
    return Article(
        entry_key=f"e{n}",
        url=None,
        canonical_url=f"https://outlet.example/{n}",
        title=report.title,
        summary=report.text,
        content="",
        published_at=datetime.fromtimestamp(at, UTC),
        lang=report.lang,
    )


def _sample() -> tuple[list[Article], list[Report]]:
    """Real feeds (English and Spanish) with wire copies of their entries (bench/
    stories_quality's reprints set): the first of each copy group to store, the rest to
    probe with. Published over the last two days, in the sample's order."""
    reports = [item.report for universe in stories_quality.reprints() for item in universe]
    step = (WINDOW_S - 7200) / len(reports)
    stored: list[Article] = []
    probes: list[Report] = []
    titles: set[str] = set()
    for n, r in enumerate(reports):
        at = NOW - WINDOW_S + 3600 + n * step
        key = r.title[:30]
        if key in titles and n % 3:
            probes.append(Report(100_000 + n, r.title, r.text, r.lang, at, None))
        else:
            titles.add(key)
            stored.append(_article(n, r, at))
    return stored, probes


def _store(path: Path) -> tuple[Store, int]:
    store = Store(path)
    store.sync_feeds([FeedSpec("https://f.example/a", "A", 600)], NOW)
    (feed,) = store.pollable_feeds(NOW + 10_000)
    return store, feed.id


def _fill(store: Store, feed: int, articles: list[Article]) -> StoryStep:
    step = StoryStep(StoryIndex(WINDOW_S))
    for i in range(0, len(articles), 250):
        with step.transaction(store, NOW):
            for article in articles[i : i + 250]:
                step.add_entry(store, feed, article, NOW)
    return step


def _stored(store: Store) -> dict[int, tuple[str | None, int | None]]:
    rows = store.query("SELECT id, features, features_key FROM articles")
    return {r[0]: (r[1], r[2]) for r in rows}


def test_a_rebuild_from_stored_features_decides_as_one_that_extracts(tmp_path: Path) -> None:
    stored, probes = _sample()
    store, feed = _store(tmp_path / "t.db")
    step = _fill(store, feed, stored)
    key = step.index.weigher.key
    # The story step wrote every article's features in its INSERT, under its key.
    rows = _stored(store)
    assert len(rows) == len(stored) > 300
    assert {k for _, k in rows.values()} == {key}
    decoded = load(store, WINDOW_S, NOW)
    assert (decoded.decoded, decoded.extracted, decoded.refresh) == (len(rows), 0, [])

    store.db.execute("UPDATE articles SET features = NULL, features_key = NULL")
    extracted = load(store, WINDOW_S, NOW)
    assert (extracted.decoded, extracted.extracted) == (0, len(rows))

    a, b = decoded.index, extracted.index
    # The decoding rebuild filled the word memos an extracting one fills (Weigher.warm).
    terms = {t for e in a._entries.values() for t in e.features.terms}
    assert terms <= a.weigher._cross.keys()
    assert {t for t in terms if t[0] != "#"} <= a.weigher._terms["en"].keys()
    assert a._entries.keys() == b._entries.keys()
    for k, entry in a._entries.items():
        assert entry.features == b._entries[k].features
        # ... and what the story step computed at the INSERT is what a start extracts
        assert encode(entry.features) == rows[k][0]
    assert a._postings == b._postings
    answers = [(a.find(p), b.find(p)) for p in probes]
    assert all(x == y for x, y in answers)
    joined = sum(x is not None for x, _ in answers)
    assert len(probes) > 300 and joined > len(probes) // 2  # the probes met real candidates
    store.close()


def test_null_stale_and_garbage_rows_are_extracted_and_written_back(tmp_path: Path) -> None:
    stored, _ = _sample()
    store, feed = _store(tmp_path / "t.db")
    _fill(store, feed, stored[:40])
    good = _stored(store)
    (key,) = {k for _, k in good.values()}
    ids = sorted(good)
    null, stale, older, garbage, blob, cut = ids[:6]
    other = good[ids[10]][0]
    store.db.execute(
        "UPDATE articles SET features = NULL, features_key = NULL WHERE id = ?", [null]
    )
    # another extraction's key: even a value that decodes is not used
    store.db.execute("UPDATE articles SET features_key = ? WHERE id = ?", [key ^ 1, stale])
    store.db.execute(  # an older extraction's (well-formed) value for another report
        "UPDATE articles SET features = ?, features_key = ? WHERE id = ?", [other, key ^ 2, older]
    )
    store.db.execute("UPDATE articles SET features = 'garbage' WHERE id = ?", [garbage])
    store.db.execute("UPDATE articles SET features = x'00ff10' WHERE id = ?", [blob])
    cut_value = good[cut][0]
    assert cut_value is not None
    store.db.execute(
        "UPDATE articles SET features = ? WHERE id = ?", [cut_value[: len(cut_value) // 2], cut]
    )
    loaded = load(store, WINDOW_S, NOW)
    assert (loaded.decoded, loaded.extracted) == (len(ids) - 6, 6)
    assert sorted(article for _, _, article in loaded.refresh) == sorted(ids[:6])
    for k in ids:
        assert encode(loaded.index._entries[k].features) == good[k][0]

    # A new process: the first new article builds the index; once its transaction
    # commits, the rows read again are written back, so the next start decodes them all.
    later = StoryStep.deferred(store, WINDOW_S)
    with later.transaction(store, NOW):
        later.add_entry(store, feed, stored[40], NOW)
    refreshed = _stored(store)
    assert {k: refreshed[k] for k in ids} == good
    again = load(store, WINDOW_S, NOW)
    assert (again.decoded, again.extracted) == (len(ids) + 1, 0)
    store.close()


def test_a_write_back_gives_way_after_its_budget_and_goes_on_at_the_next_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first start after the migration queues every report of the window; one commit
    # writes batches only for a bounded time, so the writer thread is not held for all.
    stored, _ = _sample()
    store, feed = _store(tmp_path / "t.db")
    _fill(store, feed, stored[:30])
    store.db.execute("UPDATE articles SET features = NULL, features_key = NULL")
    monkeypatch.setattr(stories, "WRITE_BACK_BATCH", 4)
    monkeypatch.setattr(stories, "WRITE_BACK_BUDGET_S", 0.0)  # one batch a commit
    step = StoryStep.deferred(store, WINDOW_S)
    step.ready(NOW)
    nulls = "SELECT COUNT(*) FROM articles WHERE features IS NULL"
    assert step.write_back(store, NOW) == 4
    assert store.query(nulls) == [(26,)]
    with step.transaction(store, NOW + 1):
        step.add_entry(store, feed, stored[30], NOW + 1)
    assert store.query(nulls) == [(22,)]
    written = 8
    while batch := step.write_back(store, NOW + 2):
        written += batch
    assert written == 30 and store.query(nulls) == [(0,)]
    assert load(store, WINDOW_S, NOW).extracted == 0
    store.close()


_HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


def test_a_write_back_that_meets_another_process_lock_waits_for_a_later_commit(
    tmp_path: Path,
) -> None:
    stored, _ = _sample()
    path = tmp_path / "t.db"
    store, feed = _store(path)
    _fill(store, feed, stored[:30])
    store.db.execute("UPDATE articles SET features = NULL, features_key = NULL")
    step = StoryStep.deferred(store, WINDOW_S)
    step.ready(NOW)  # the rebuild reads; it needs no lock
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        began = time.monotonic()
        assert step.write_back(store, NOW) == 0  # no exception: the start goes on
        assert time.monotonic() - began < BUSY_TIMEOUT_S  # nor the writer's full lock wait
        # The connection is left as it was: out of a transaction, its own lock wait back.
        assert not store.db.conn.in_transaction
        assert store.query("PRAGMA busy_timeout") == [(int(BUSY_TIMEOUT_S * 1000),)]
        # Other writes of the store still see the lock as a fault of their own.
        try:
            store.refresh_features([("x", 1, 1)], 0.01)
        except StorageFault as exc:
            assert exc.kind == "locked"
        else:
            raise AssertionError("the write went through another process's lock")
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(10)
    assert store.query("SELECT COUNT(*) FROM articles WHERE features IS NOT NULL") == [(0,)]
    # Not again at once (each try costs the wait), but at a commit a minute later.
    assert step.write_back(store, NOW + 1) == 0
    with step.transaction(store, NOW + 61):
        step.add_entry(store, feed, stored[30], NOW + 61)
    assert store.query("SELECT COUNT(*) FROM articles WHERE features IS NULL") == [(0,)]
    assert load(store, WINDOW_S, NOW).extracted == 0
    store.close()


def _step_at(
    db: sqlite_utils.Database, step: Callable[[sqlite_utils.Database], None], level: int
) -> None:
    """A migration as the tracker runs it: the step, then its level in user_version."""
    step(db)
    db.execute(f"PRAGMA user_version = {level}")


def test_a_v9_database_migrates_and_its_articles_get_their_features(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    # The database as the tracker before v10 left it: its migrations, by name, and rows.
    db = sqlite_utils.Database(path)
    previous = Migrations("tracker")
    assert NAMES[len(STEPS) - 1] == "v10"
    for level, (name, step) in enumerate(zip(NAMES[:-1], STEPS[:-1], strict=True), start=1):
        previous(name=name)(functools.partial(_step_at, step=step, level=level))
    previous.apply(db)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(STEPS) - 1
    stored, _ = _sample()
    db.execute("INSERT INTO feeds (url, name, next_check_at, created_at) VALUES ('u', 'n', 1, 1)")
    for n, article in enumerate(stored[:20], start=1):
        at = article.published_at.timestamp() if article.published_at else NOW
        db.execute("INSERT INTO stories (id, headline, published_at, first_seen, last_seen)"
                   " VALUES (?, ?, ?, ?, ?)", [n, article.title, at, NOW, NOW])  # fmt: skip
        db.execute(
            "INSERT INTO articles (title, summary, content, published_at, first_seen_at, lang,"
            " feed_id, story_id) VALUES (?, ?, '', ?, ?, ?, 1, ?)",
            [article.title, article.summary, at, NOW, article.lang, n],
        )
    db.close()

    store = Store(path)
    assert store.schema_version == len(NAMES)
    columns = {c.name: c.type for c in store.db["articles"].columns}
    assert columns["features"] == "TEXT" and columns["features_key"] == "INTEGER"
    assert store.query("SELECT COUNT(*) FROM articles WHERE features IS NULL") == [(20,)]
    step = StoryStep.deferred(store, WINDOW_S)
    copy = dataclasses.replace(stored[0], entry_key="copy", canonical_url="https://c.example/0")
    with step.transaction(store, NOW):
        _, new, story = step.add_entry(store, 1, copy, NOW)
    assert new and story == 1  # the old articles' stories, read from their text
    again = load(store, WINDOW_S, NOW)
    assert (again.decoded, again.extracted) == (21, 0)
    store.close()
