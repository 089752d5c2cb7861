"""Stories in the store and the ingest step, on real SQLite files: the v7 migration, one
alert per (topic, story), the index learning a report only after its transaction commits,
the rebuild at start, `stories test`'s order, and the outlets an alert renders."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils

from tracker.delivery.channels.render import render_text, view
from tracker.ingest.stories import StoryStep, rebuild
from tracker.models import Alert, Article, Entry, FeedItem, FeedSpec, StoryReport, TopicHit
from tracker.store.facade import Store
from tracker.store.sqlite.migrations import STEPS
from tracker.stories import trial
from tracker.stories.reports import report_of

NOW = time.time()


def _article(key: str, title: str, url: str | None = None, age_s: float = 60.0) -> Article:
    return Article(
        entry_key=key,
        url=url,
        canonical_url=url,
        title=title,
        summary="summary of " + title,
        content="",
        published_at=datetime.fromtimestamp(NOW - age_s, UTC),
        lang="en",
    )


def _store(tmp_path: Path) -> tuple[Store, int]:
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec("https://f.example/a", "A", 600)], NOW)
    (feed,) = store.pollable_feeds(NOW + 10_000)
    return store, feed.id


def test_v7_gives_every_existing_article_a_story_of_its_own(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite_utils.Database(sqlite3.connect(db, isolation_level=None))
    for level, step in enumerate(STEPS[:4], start=1):
        step(conn)
        conn.execute(f"PRAGMA user_version = {level}")
    conn.execute("INSERT INTO feeds (url, name, next_check_at, created_at) VALUES ('u', 'n', 1, 1)")
    for i, title in enumerate(["First", "Second"], start=1):
        conn.execute(
            "INSERT INTO articles (title, summary, content, first_seen_at, feed_id)"
            " VALUES (?, '', '', ?, 1)",
            [title, 100.0 * i],
        )
    conn.execute(
        "INSERT INTO matches (article_id, topic, terms, snippet, alert, created_at)"
        " VALUES (2, 't', '[]', '', 1, 5)"
    )
    conn.close()
    store = Store(db)
    assert store.query("SELECT id, story_id, join_kind FROM articles ORDER BY id") == [
        (1, 1, None),
        (2, 2, None),
    ]
    assert store.query("SELECT id, headline, first_seen FROM stories ORDER BY id") == [
        (1, "First", 100.0),
        (2, "Second", 200.0),
    ]
    assert store.query("SELECT story_id FROM matches") == [(2,)]
    store.close()


def test_a_topic_alerts_once_per_story(tmp_path: Path) -> None:
    store, feed = _store(tmp_path)
    step = StoryStep(rebuild(store, 72 * 3600, NOW))
    hit = [TopicHit("wall", ("wall",), "**wall**")]
    with step.transaction(store, NOW):
        a1, _, s1 = step.add_entry(store, feed, _article("1", "Wall news", "https://x/1"), NOW)
        first = store.add_matches(a1, hit, True, NOW, s1)
    with step.transaction(store, NOW):
        a2, _, s2 = step.add_entry(store, feed, _article("2", "WALL NEWS", "https://y/2"), NOW)
        second = store.add_matches(a2, hit, True, NOW, s2)
    assert s1 == s2
    assert [m.alert for m in first] == [True]
    assert [m.alert for m in second] == [False]  # recorded, not alerted
    assert store.query("SELECT article_id, alert FROM matches ORDER BY id") == [(a1, 1), (a2, 0)]
    # The database holds it too, whatever the caller does.
    with pytest.raises(sqlite3.IntegrityError):
        store.db.execute("UPDATE matches SET alert = 1 WHERE article_id = ?", [a2])
    store.close()


def test_the_index_learns_a_report_only_after_its_transaction_commits(tmp_path: Path) -> None:
    store, feed = _store(tmp_path)
    step = StoryStep(rebuild(store, 72 * 3600, NOW))
    art = _article("1", "Tariffs on steel", "https://x.example/1")
    with pytest.raises(RuntimeError), step.transaction(store, NOW):
        step.add_entry(store, feed, art, NOW)
        raise RuntimeError("the feed's transaction fails")
    assert len(step.index) == 0 and store.count("stories") == 0
    with step.transaction(store, NOW):
        a1, _, s1 = step.add_entry(store, feed, art, NOW)
        # A copy in the same transaction joins through the transaction's own index.
        copy = _article("2", "Tariffs on steel", "https://y.example/2")
        _, _, s2 = step.add_entry(store, feed, copy, NOW)
        assert s2 == s1
        assert len(step.index) == 0  # not committed yet
        # One entry's savepoint rolled back: only its report is forgotten.
        other = _article("3", "Something else", "https://z.example/3")
        with pytest.raises(ValueError), step.savepoint(store):
            step.add_entry(store, feed, other, NOW)
            raise ValueError("bad entry")
    assert len(step.index) == 2
    assert store.query("SELECT story_id, join_kind, join_matched FROM articles ORDER BY id") == [
        (s1, None, None),
        (s1, "near_duplicate", a1),
    ]
    # At the next start, the index is rebuilt from the window's stored articles.
    again = StoryStep.deferred(store, 72 * 3600)
    again.ready(NOW)
    assert len(again.index) == 2
    later = _article("4", "TARIFFS ON STEEL", "https://w.example/4")
    joined = again.find(report_of(99, later, NOW))
    assert joined is not None and joined.story == s1
    # ... but not from articles published before the window.
    assert len(rebuild(store, 30.0, NOW)) == 0
    store.close()


def test_each_new_article_is_weighed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its features serve the finds in the committed and the pending index, the pending
    add and the commit's add (they were extracted 3 to 4 times per new article)."""
    store, feed = _store(tmp_path)
    step = StoryStep(rebuild(store, 72 * 3600, NOW))
    weighed: list[str] = []
    weigher = step.index.weigher
    extract = weigher.extract
    monkeypatch.setattr(weigher, "extract", lambda t, *a: weighed.append(t) or extract(t, *a))
    with step.transaction(store, NOW):
        _, _, s1 = step.add_entry(store, feed, _article("1", "Tariffs on steel"), NOW)
        _, _, s2 = step.add_entry(store, feed, _article("2", "Tariffs on steel rise"), NOW)
        _, _, s3 = step.add_entry(store, feed, _article("3", "A flood in the valley"), NOW)
    assert weighed == ["Tariffs on steel", "Tariffs on steel rise", "A flood in the valley"]
    assert s2 == s1 != s3 and len(step.index) == 3
    # Committed with those features: a later copy finds its story.
    later = _article("4", "TARIFFS ON STEEL")
    joined = step.find(report_of(99, later, NOW))
    assert joined is not None and joined.story == s1
    store.close()


def test_a_deferred_index_is_built_by_the_first_stored_entry(tmp_path: Path) -> None:
    store, feed = _store(tmp_path)
    step = StoryStep(rebuild(store, 72 * 3600, NOW))
    with step.transaction(store, NOW):
        a1, _, s1 = step.add_entry(
            store, feed, _article("1", "Tariffs on steel", "https://x/1"), NOW
        )
    # A new process: nothing is read while no entry is stored ...
    later = StoryStep.deferred(store, 72 * 3600)
    with later.transaction(store, NOW):
        pass
    with pytest.raises(RuntimeError):
        later.index  # noqa: B018
    # ... the first one builds it (the same article again: not new, its story the stored one)
    with later.transaction(store, NOW):
        again = later.add_entry(store, feed, _article("1", "Tariffs on steel", "https://x/1"), NOW)
    assert again == (a1, False, s1)
    # ... and a copy from elsewhere joins it through the index built from the store.
    copy = _article("2", "TARIFFS ON STEEL", "https://y/2")
    with later.transaction(store, NOW):
        _, new, s2 = later.add_entry(store, feed, copy, NOW)
    assert new and s2 == s1
    assert len(later.index) == 2
    store.close()


def _item(guid: str, title: str, age_s: float | None) -> FeedItem:
    published = datetime.fromtimestamp(NOW - age_s, UTC) if age_s is not None else None
    entry = Entry(guid, None, title, "", "", published, "en")
    article = Article(guid, None, None, title, "", "", published, "en")
    return FeedItem(entry, guid, article)


def test_stories_test_orders_by_publication_with_ties_in_the_order_given() -> None:
    a = [_item("a1", "Talks open in Washington", 100), _item("a2", "Late news", 10)]
    b = [_item("b1", "Talks open in Washington", 100), _item("b2", "Early news", 500)]
    out = trial.assign([("A", a), ("B", b)], NOW)
    assert [x.id for x in out] == ["b2", "a1", "b1", "a2"]
    assert out[2].story == out[1].story and out[2].joined is not None
    assert out[1].why == "new story"
    assert len({x.story for x in out}) == 3
    undated = trial.assign([("A", [_item("u", "No date", None), *a])], NOW)
    assert undated[-1].id == "u"  # an undated entry counts as arriving now


def test_an_alert_names_every_outlet_with_its_language_once() -> None:
    reports = (
        StoryReport("Los Angeles Times", "en-US", "Trip cancelled", None, NOW - 300, NOW),
        StoryReport("El Universal", "es-MX", "Cancela visita", None, NOW - 200, NOW),
        StoryReport("El Universal", "es", "Cancela visita (2)", None, NOW - 100, NOW),
        StoryReport("CNN", "en", "Trip off", None, NOW - 50, NOW),
    )
    alert = Alert(
        delivery_id=1, key="k", channel="c", digest=False, topic="mexico",
        title="Trip off", url="https://cnn.example/1", summary="The trip is off.", feed="CNN",
        published_at=NOW, lang="en", terms=("Mexico",), snippet="", created_at=NOW,
        story_id=7, headline="Trip cancelled", reports=reports,
    )  # fmt: skip
    v = view(alert)
    assert v.outlet_line == "Reported by Los Angeles Times (en), El Universal (es), CNN (en)"
    assert v.title_text == "Trip cancelled"  # the story's headline
    text = render_text([alert], "k", "s")
    assert "Reported by Los Angeles Times (en), El Universal (es), CNN (en)" in text
    # Without a story (an alert queued before v7): its own outlet.
    lone = view(Alert(**{**alert.__dict__, "reports": (), "story_id": None, "headline": None}))
    assert lone.outlet_line == "Reported by CNN (en)"


def test_a_digest_lists_each_story_once_with_every_outlet(tmp_path: Path) -> None:
    """Deliveries read back from the outbox carry every report of their story."""
    from tracker.models import Route

    store, _ = _store(tmp_path)
    store.sync_feeds(
        [FeedSpec("https://f.example/a", "A", 600), FeedSpec("https://f.example/b", "B", 600)],
        NOW,
    )
    feeds = {f.name: f.id for f in store.pollable_feeds(NOW + 10_000)}
    step = StoryStep(rebuild(store, 72 * 3600, NOW))
    hits = [TopicHit("wall", ("wall",), "**wall**"), TopicHit("mexico", ("Mexico",), "")]
    for name, key, title in (("A", "1", "Mexico and the wall"), ("B", "2", "MEXICO AND THE WALL")):
        with step.transaction(store, NOW):
            a, _, s = step.add_entry(
                store, feeds[name], _article(key, title, f"https://{key}"), NOW
            )
            for m in store.add_matches(a, hits, True, NOW, s):
                if m.alert:
                    store.add_delivery(m.match_id, f"k{m.match_id}", Route("d", True, NOW), NOW)
    alerts = store.due_alerts(NOW + 1, ignore_backoff=True)
    assert sorted(a.topic for a in alerts) == ["mexico", "wall"]  # one story, once per topic
    assert all([r.feed for r in a.reports] == ["A", "B"] for a in alerts)
    text = render_text(alerts, "digest-k", "s")
    assert text.count("Reported by A (en), B (en)") == 1  # the story once, naming the other topic
    assert "also mexico" in text or "also wall" in text
    store.close()


def test_a_changed_story_window_needs_a_restart() -> None:
    from dataclasses import replace

    from tracker.config import loader
    from tracker.config.settings import to_settings
    from tracker.service.reload import needs_restart

    old = to_settings(loader.parse("{}", Path.cwd()))
    new = replace(old, stories_window_s=3600.0)
    assert needs_restart(old, new) == ["stories.window"]
    assert needs_restart(old, old) == []


def test_an_update_follows_a_report_in_another_language_once(tmp_path: Path) -> None:
    from dataclasses import replace

    from tracker.models import Route

    store, _ = _store(tmp_path)
    store.sync_feeds(
        [FeedSpec("https://f.example/a", "A", 600), FeedSpec("https://f.example/b", "B", 600)],
        NOW,
    )
    feeds = {f.name: f.id for f in store.pollable_feeds(NOW + 10_000)}
    step = StoryStep(rebuild(store, 72 * 3600, NOW))
    url = "https://wire.example/1"
    with step.transaction(store, NOW):
        a, _, story = step.add_entry(store, feeds["A"], _article("1", "Talks", url), NOW)
        (m,) = store.add_matches(a, [TopicHit("t", (), "")], True, NOW, story)
        store.add_delivery(m.match_id, "first", Route("mail", False, NOW), NOW)
    store.db.execute("UPDATE deliveries SET status = 'sent', sent_at = ?", [NOW + 1])
    assert step.updates(store, story, {"t": 3}, NOW + 2) == 0  # nothing new yet
    spanish = replace(_article("2", "Negociaciones", url), lang="es")
    with step.transaction(store, NOW + 5):
        _, is_new, joined = step.add_entry(store, feeds["B"], spanish, NOW + 5)
        assert (is_new, joined) == (False, story)  # the same article, carried by B
        assert step.updates(store, story, {"t": 3}, NOW + 5) == 1  # a new language
        assert step.updates(store, story, {"t": 3}, NOW + 5) == 0  # one update only
    (update,) = [x for x in store.due_alerts(NOW + 10, True) if x.update]
    assert update.thread_key == "first" and update.channel == "mail"
    assert [(r.feed, r.lang) for r in update.reports] == [("A", "en"), ("B", "es")]
    store.close()
