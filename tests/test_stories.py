"""Stories end to end: feeds on a local server, `tracker run --once` and `tracker stories` as
subprocesses, a real webhook receiver and a real SMTP server.

The index on main joins on the canonical URL or an identical title after folding; the
better engine replaces it behind the same interface. Each scenario says which join it
relies on (``JOINS``), so that it holds for both: copies with titles identical after
folding, or a shared canonical URL, are joined by either engine.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from conftest import run_cli
from feedserver import FeedServer
from rss import Item, rss
from smtpserver import SMTPServer
from webhookserver import Receiver, start_receiver

pytestmark = pytest.mark.slow  # tracker runs as a subprocess

# Which join of the index each scenario relies on (see the module docstring).
JOINS = {
    "syndicated": "near_duplicate",  # titles identical after folding: case, dashes, accents
    "crosslang_url": "url",  # the Spanish outlet links the English report's canonical URL
    "crosslang_entities": "entities",  # independent reports: names only, no shared anchor
}

OUTLETS = [("Reuters", "en"), ("CNN", "en"), ("HuffPost", "en")]


@pytest.fixture
def hook() -> Iterator[Receiver]:
    receiver = start_receiver()
    yield receiver
    receiver.stop()


def _config(
    tmp_path: Path,
    feeds: list[tuple[str, str]],
    channels: str,
    topics: str = "",
) -> Path:
    path = tmp_path / "config.yaml"
    lines = [f"database: {tmp_path / 't.db'}", "defaults: {jitter: 0s}", "feeds:"]
    for name, url in feeds:
        lines += [f"  - url: {url}", f"    name: {name}"]
    lines += [
        "topics:",
        "  wall:",
        '    query: \'"border wall" OR "muro fronterizo"\'',
        "  mexico:",
        "    query: 'Mexico OR México'",
        topics,
        "channels:",
        channels,
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _hook(hook: Receiver, extra: str = "") -> str:
    return f"  ops-hook:\n    type: webhook\n    url: {hook.url}\n{extra}"


def _mail(smtp: SMTPServer) -> str:
    return (
        "  desk:\n    type: email\n    host: 127.0.0.1\n"
        f"    port: {smtp.port}\n    security: none\n"
        "    from: 'tracker <tracker@example.org>'\n    to: [desk@example.org]\n"
    )


def _run(cfg: Path) -> str:
    out = run_cli("--config", str(cfg), "run", "--once")
    assert out.returncode == 0, out.stderr
    return out.stdout


def _baseline(feed_server: FeedServer, cfg: Path, paths: list[str], lang: str = "en") -> None:
    for p in paths:
        feed_server.add(p, rss([Item("Old news", f"https://old.example{p}", "old")], lang=lang))
    _run(cfg)


def _alerts(hook: Receiver) -> list[dict[str, object]]:
    return [r.json for r in hook.accepted() if r.json.get("type") == "alert"]


def _db(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(tmp_path / "t.db")
    try:
        return list(conn.execute(sql))
    finally:
        conn.close()


TITLES = [
    "Mexico will not pay for the border wall, Peña Nieto says",
    "Mexico Will Not Pay For The Border Wall — Peña Nieto Says",
    "MEXICO WILL NOT PAY FOR THE BORDER WALL: PENA NIETO SAYS",
]


def _copies(paths: list[str]) -> list[bytes]:
    """One wire story as three outlets carry it: own guids, utm links on their own sites,
    titles edited in case and punctuation only (identical after folding)."""
    titles = TITLES
    hosts = ["reuters.example", "cnn.example", "huffpost.example"]
    return [
        rss(
            [
                Item(
                    title,
                    f"https://{host}/world/{i}-wall?utm_source=feed&utm_medium=rss",
                    f"{host}-guid-{i}",
                    "The president said Mexico would not fund the wall.",
                    age_s=300 - 60 * i,
                )
            ]
        )
        for i, (title, host) in enumerate(zip(titles, hosts, strict=True))
    ][: len(paths)]


def test_three_feeds_syndicating_one_story_give_one_alert_per_topic_naming_all(
    feed_server: FeedServer, hook: Receiver, tmp_path: Path
) -> None:
    assert JOINS["syndicated"] == "near_duplicate"
    paths = ["/syn-reuters.xml", "/syn-cnn.xml", "/syn-huff.xml"]
    feeds = [(name, feed_server.url(p)) for (name, _), p in zip(OUTLETS, paths, strict=False)]
    cfg = _config(tmp_path, feeds, _hook(hook))
    _baseline(feed_server, cfg, paths)
    for p, body in zip(paths, _copies(paths), strict=True):
        feed_server.add(p, body)
    _run(cfg)
    alerts = _alerts(hook)
    assert sorted(a["topic"] for a in alerts) == ["mexico", "wall"]  # one per topic
    for a in alerts:
        story = a["story"]
        assert isinstance(story, dict)
        assert sorted(r["feed"] for r in story["reports"]) == ["CNN", "HuffPost", "Reuters"]
        assert {r["lang"] for r in story["reports"]} == {"en"}
    (story_id,) = {a["story"]["id"] for a in alerts}  # type: ignore[index]
    # Every copy is stored, in the one story, and says why it joined.
    rows = _db(tmp_path, "SELECT story_id, join_kind FROM articles WHERE title LIKE '%wall%'")
    assert len(rows) == 3 and {r[0] for r in rows} == {story_id}
    assert sorted(str(r[1]) for r in rows) == ["None", "near_duplicate", "near_duplicate"]
    # A second cycle with nothing new sends nothing more.
    _run(cfg)
    assert len(_alerts(hook)) == 2
    listed = run_cli("--config", str(cfg), "stories", "--json")
    assert listed.returncode == 0, listed.stderr
    stories = [json.loads(line) for line in listed.stdout.splitlines()]
    (wall,) = [s for s in stories if s["id"] == story_id]
    assert wall["articles"] == 3 and wall["topics"] == ["mexico", "wall"]
    assert [o["feed"] for o in wall["outlets"]] == ["Reuters", "CNN", "HuffPost"]
    text = run_cli("--config", str(cfg), "stories", "--topic", "wall")
    # The headline is the title of the copy that began the story: whichever feed's poll
    # stored first (polls run concurrently), so any of the three.
    assert any(f"#{story_id}  {title}" in text.stdout for title in TITLES), text.stdout
    assert "3 articles · topics: mexico, wall" in text.stdout
    missing = run_cli("--config", str(cfg), "stories", "show", "999999")
    assert (missing.returncode, missing.stderr) == (1, "error: no story #999999\n")
    shown = run_cli("--config", str(cfg), "stories", "show", str(story_id))
    assert shown.returncode == 0, shown.stderr
    assert "Reported by Reuters (en), CNN (en), HuffPost (en)" in shown.stdout
    assert shown.stdout.count("why: near_duplicate") == 2
    assert "why: began the story" in shown.stdout


def test_the_alert_email_names_every_outlet(
    feed_server: FeedServer, smtp: SMTPServer, tmp_path: Path
) -> None:
    paths = ["/mail-reuters.xml", "/mail-cnn.xml", "/mail-huff.xml"]
    feeds = [(name, feed_server.url(p)) for (name, _), p in zip(OUTLETS, paths, strict=False)]
    cfg = _config(tmp_path, feeds, _mail(smtp))
    _baseline(feed_server, cfg, paths)
    for p, body in zip(paths, _copies(paths), strict=True):
        feed_server.add(p, body)
    _run(cfg)
    messages = smtp.handler.messages
    assert len(messages) == 2  # wall and mexico, once each
    for m in messages:
        text = _text(m)
        assert "Reported by Reuters (en), CNN (en), HuffPost (en)" in " ".join(text.split())
        assert m["X-Tracker-Story"]


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


def _text(m: Message) -> str:
    for part in m.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text part")


@pytest.mark.parametrize(
    "join",
    [
        "crosslang_url",
        pytest.param(
            "crosslang_entities",
            marks=pytest.mark.xfail(
                reason="independent English and Spanish reports sharing names but no event"
                " or number: the precision-first index keeps them apart (see README, Stories)",
                strict=False,
            ),
        ),
    ],
)
def test_an_english_and_a_spanish_report_of_one_event_give_one_alert(
    feed_server: FeedServer, hook: Receiver, tmp_path: Path, join: str
) -> None:
    paths = [f"/{join}-lat.xml", f"/{join}-eu.xml"]
    feeds = [
        ("Los Angeles Times", feed_server.url(paths[0])),
        ("El Universal", feed_server.url(paths[1])),
    ]
    cfg = _config(tmp_path, feeds, _hook(hook))
    feed_server.add(paths[0], rss([Item("Old", "https://old.example/a", "o1")], lang="en"))
    feed_server.add(paths[1], rss([Item("Viejo", "https://old.example/b", "o2")], lang="es"))
    _run(cfg)
    english = Item(
        "Peña Nieto cancels Washington trip over border wall",
        "https://latimes.example/world/pena-nieto-cancels-trip?utm_source=rss",
        "lat-1",
        "Mexico's president called off his meeting with Trump after the wall order.",
        age_s=600,
    )
    spanish_link = (
        "https://latimes.example/world/pena-nieto-cancels-trip"  # links the LA Times report
        if JOINS[join] == "url"
        else "https://eluniversal.example/nacion/pena-nieto-cancela-visita"
    )
    spanish = Item(
        "Peña Nieto cancela su visita a Washington por el muro fronterizo",
        spanish_link,
        "eu-1",
        "El presidente de México suspendió la reunión con Trump tras la orden del muro.",
        age_s=300,
    )
    feed_server.add(paths[0], rss([english], lang="en"))
    feed_server.add(paths[1], rss([spanish], lang="es"))
    _run(cfg)
    alerts = _alerts(hook)
    assert sorted(a["topic"] for a in alerts) == ["mexico", "wall"]
    for a in alerts:
        reports = {r["feed"]: r for r in a["story"]["reports"]}  # type: ignore[index]
        assert sorted((feed, r["lang"]) for feed, r in reports.items()) == [
            ("El Universal", "es"),
            ("Los Angeles Times", "en"),
        ]
        # Each outlet's own report, even where both link one canonical URL.
        assert reports["El Universal"]["title"].startswith("Peña Nieto cancela")
        assert reports["Los Angeles Times"]["title"].startswith("Peña Nieto cancels")


def test_two_distinct_events_on_one_subject_within_a_day_give_two_alerts(
    feed_server: FeedServer, hook: Receiver, tmp_path: Path
) -> None:
    cfg = _config(tmp_path, [("Wire", feed_server.url("/two.xml"))], _hook(hook))
    _baseline(feed_server, cfg, ["/two.xml"])
    feed_server.add(
        "/two.xml",
        rss(
            [
                Item(
                    "Senate approves border wall funding",
                    "https://w.example/1",
                    "a",
                    "The bill passed 51-49 on Tuesday.",
                    age_s=3600 * 9,
                ),
                Item(
                    "Judge halts border wall construction in Texas",
                    "https://w.example/2",
                    "b",
                    "A federal judge issued an injunction on Wednesday.",
                    age_s=3600,
                ),
            ]
        ),
    )
    _run(cfg)
    wall = [a for a in _alerts(hook) if a["topic"] == "wall"]
    assert len(wall) == 2
    assert len({a["story"]["id"] for a in wall}) == 2  # type: ignore[index]


def test_a_restart_in_the_middle_keeps_story_membership(
    feed_server: FeedServer, hook: Receiver, tmp_path: Path
) -> None:
    paths = ["/rs-reuters.xml", "/rs-cnn.xml", "/rs-huff.xml"]
    feeds = [(name, feed_server.url(p)) for (name, _), p in zip(OUTLETS, paths, strict=False)]
    cfg = _config(tmp_path, feeds, _hook(hook))
    _baseline(feed_server, cfg, paths)
    first, second, third = _copies(paths)
    feed_server.add(paths[0], first)
    _run(cfg)  # one process: the first copy, its alerts sent
    assert len(_alerts(hook)) == 2
    feed_server.add(paths[1], second)
    feed_server.add(paths[2], third)
    # A new process: the index is rebuilt from the database (the three old items and the
    # first copy) from the features stored with them, and the copies join the first one's
    # story.
    restarted = run_cli("--config", str(cfg), "run", "--once")
    assert "stories.index_rebuilt decoded=4 extracted=0 reports=4" in restarted.stderr
    assert len(_alerts(hook)) == 2  # no new alert
    rows = _db(
        tmp_path, "SELECT id, story_id, join_matched FROM articles WHERE title LIKE '%wall%'"
    )
    assert len(rows) == 3 and len({r[1] for r in rows}) == 1
    # Each copy names the report it matched: one of the story's, the first one's before it.
    (began,) = [r[0] for r in rows if r[2] is None]
    assert all(r[2] in {x[0] for x in rows} - {r[0]} for r in rows if r[0] != began)


def test_story_wait_holds_an_alert_then_releases_it_with_the_later_outlets(
    feed_server: FeedServer, hook: Receiver, tmp_path: Path
) -> None:
    paths = ["/sw-reuters.xml", "/sw-cnn.xml"]
    feeds = [(name, feed_server.url(p)) for (name, _), p in zip(OUTLETS, paths, strict=False)]
    cfg = _config(tmp_path, feeds, _hook(hook, "    story_wait: 3s\n"))
    _baseline(feed_server, cfg, paths)
    first, second = _copies(paths)
    feed_server.add(paths[0], first)
    out = _run(cfg)
    assert _alerts(hook) == []  # held
    assert "waiting to be sent" in out
    feed_server.add(paths[1], second)
    # The hold counts from the ingest, which a loaded machine may reach seconds after the
    # process starts; wait for the stored hold to end, not for a guess of it.
    ((held_until,),) = _db(tmp_path, "SELECT max(not_before) FROM deliveries")
    assert isinstance(held_until, float)
    time.sleep(max(0.0, held_until + 0.2 - time.time()))
    _run(cfg)
    alerts = _alerts(hook)
    assert sorted(a["topic"] for a in alerts) == ["mexico", "wall"]
    for a in alerts:
        assert [r["feed"] for r in a["story"]["reports"]] == ["Reuters", "CNN"]  # type: ignore[index]


def test_an_update_is_threaded_to_the_first_alert(
    feed_server: FeedServer, hook: Receiver, smtp: SMTPServer, tmp_path: Path
) -> None:
    paths = ["/up-reuters.xml", "/up-cnn.xml", "/up-huff.xml"]
    feeds = [(name, feed_server.url(p)) for (name, _), p in zip(OUTLETS, paths, strict=False)]
    topics = "    updates: true\n    updates_outlets: 2"  # for the mexico topic
    cfg = _config(tmp_path, feeds, _mail(smtp) + _hook(hook), topics)
    _baseline(feed_server, cfg, paths)
    first, second, third = _copies(paths)
    feed_server.add(paths[0], first)
    _run(cfg)
    assert len(smtp.handler.messages) == 2 and len(_alerts(hook)) == 2
    (mexico,) = [m for m in smtp.handler.messages if m["X-Tracker-Topic"] == "mexico"]
    feed_server.add(paths[1], second)
    _run(cfg)  # one new outlet: below updates_outlets, nothing is sent
    assert len(smtp.handler.messages) == 2 and len(_alerts(hook)) == 2
    feed_server.add(paths[2], third)
    _run(cfg)  # the second new outlet: one update per channel, for mexico only
    assert len(smtp.handler.messages) == 3
    update = smtp.handler.messages[-1]
    assert update["X-Tracker-Topic"] == "mexico"
    assert update["In-Reply-To"] == mexico["Message-ID"]
    assert update["References"] == mexico["Message-ID"]
    assert update["Subject"].startswith("[tracker] Update: mexico: Mexico will not pay")
    text = " ".join(_text(update).split())
    assert "Reported by Reuters (en), CNN (en), HuffPost (en)" in text
    updates = [a for a in _alerts(hook) if a["update"]]
    assert len(updates) == 1 and updates[0]["topic"] == "mexico"
    _run(cfg)  # one update only
    assert len(smtp.handler.messages) == 3 and len(_alerts(hook)) == 3


def test_stories_test_assigns_in_publication_order_and_writes_nothing(
    tmp_path: Path, write_config
) -> None:  # type: ignore[no-untyped-def]
    cfg = write_config(f"database: {tmp_path / 'never.db'}\n")
    a, b = tmp_path / "a.xml", tmp_path / "b.xml"
    copies = _copies(["1", "2", "3"])
    a.write_bytes(copies[1])  # published 4 minutes ago
    b.write_bytes(
        rss(
            [
                Item(
                    "Mexico will not pay for the border wall, Peña Nieto says",
                    "https://r.example/1",
                    "r-1",
                    age_s=300,
                ),  # the earliest
                Item("Steel tariffs take effect", "https://r.example/2", "r-2", age_s=100),
            ]
        )
    )
    out = run_cli("--config", str(cfg), "stories", "test", "--json", str(a), str(b))
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(x["source"], x["id"]) for x in lines] == [
        (str(b), "r-1"),
        (str(a), "cnn.example-guid-1"),
        (str(b), "r-2"),
    ]
    assert set(lines[0]) == {"source", "id", "title", "lang", "story", "why"}
    assert lines[0]["story"] == lines[1]["story"] != lines[2]["story"]
    assert lines[0]["why"] == "new story" and lines[1]["why"].startswith("near_duplicate")
    assert lines[0]["lang"] == "en"
    assert not (tmp_path / "never.db").exists()
    missing = run_cli("--config", str(cfg), "stories", "test", str(tmp_path / "nope.xml"))
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and missing.stderr.startswith("error: ")
