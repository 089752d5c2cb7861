"""`tracker stories`: recent stories, one story's reports and why each joined, and `stories
test`, the tuning loop over feed files or URLs (nothing is stored)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import click

from tracker.cli.common import ago, config_option, echo, existing_store, handle_errors, load
from tracker.config.schema import DEFAULT_USER_AGENT, default_feed_name
from tracker.errors import TrackerError
from tracker.ingest import source as feed_source
from tracker.models import FeedItem, StoryReport
from tracker.store.facade import StoryMember, StoryRow
from tracker.stories import trial
from tracker.stories.index import Joined, JoinKind
from tracker.text import primary_subtag


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts else None


def _outlets(reports: tuple[StoryReport, ...]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((r.feed, primary_subtag(r.lang)) for r in reports))


def _outlet_line(reports: tuple[StoryReport, ...]) -> str:
    return ", ".join(f"{feed} ({lang})" if lang else feed for feed, lang in _outlets(reports))


def _story_json(s: StoryRow) -> dict[str, object]:
    return {
        "id": s.id,
        "headline": s.headline,
        "outlets": [{"feed": f, "lang": lang or None} for f, lang in _outlets(s.reports)],
        "articles": s.articles,
        "topics": list(s.topics),
        "first_seen": _iso(s.first_seen),
        "last_seen": _iso(s.last_seen),
    }


def why(m: StoryMember) -> str:
    """How an article joined its story, as `stories show` prints it."""
    if m.kind is None:
        return "began the story"
    joined = Joined(0, cast(JoinKind, m.kind), m.matched or 0, m.score or 0.0, m.shared)
    return joined.describe()


@click.group(invoke_without_command=True)
@config_option
@click.option("--topic", "-t", help="Only stories this topic matched.")
@click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True),
    default=3.0,
    show_default=True,
    help="How far back to look (by when a story was last seen).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per story per line.")
@click.pass_context
@handle_errors
def stories(ctx: click.Context, topic: str | None, days: float, as_json: bool) -> None:
    """Recent stories: headline, outlets with languages, articles, topics, first and last seen."""
    if ctx.invoked_subcommand is not None:
        return
    config = load(ctx)
    store = existing_store(config, required=True)
    assert store is not None
    now = time.time()
    try:
        rows = store.list_stories(now - days * 86400, topic)
    finally:
        store.close()
    for s in rows:
        if as_json:
            click.echo(json.dumps(_story_json(s), ensure_ascii=False))
            continue
        echo(f"#{s.id}  {s.headline}")
        echo(f"     Reported by {_outlet_line(s.reports)}")
        topics = f" · topics: {', '.join(s.topics)}" if s.topics else ""
        noun = "article" if s.articles == 1 else "articles"
        echo(
            f"     {s.articles} {noun}{topics} · first seen {ago(s.first_seen, now)}"
            f" · last seen {ago(s.last_seen, now)}"
        )
    if not as_json:
        echo(f"{len(rows)} {'story' if len(rows) == 1 else 'stories'} in the last {days:g} days")


@stories.command("show")
@config_option
@click.argument("story_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per article per line.")
@click.pass_context
@handle_errors
def stories_show(ctx: click.Context, story_id: int, as_json: bool) -> None:
    """One story's reports, and why each joined it."""
    config = load(ctx)
    store = existing_store(config, required=True)
    assert store is not None
    try:
        story = store.story(story_id)
        members = store.story_members(story_id) if story is not None else []
    finally:
        store.close()
    if story is None:
        raise TrackerError(f"no story #{story_id}")
    if as_json:
        for m in members:
            record = {
                "article": m.article_id,
                "title": m.title,
                "lang": m.lang,
                "feeds": list(m.feeds),
                "link": m.link,
                "published": _iso(m.published_at),
                "why": why(m),
            }
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    now = time.time()
    echo(f"#{story.id}  {story.headline}")
    echo(f"Reported by {_outlet_line(story.reports)}")
    topics = ", ".join(story.topics) or "none"
    echo(f"first seen {ago(story.first_seen, now)} · last seen {ago(story.last_seen, now)}"
         f" · topics: {topics}")  # fmt: skip
    for m in members:
        lang = f" ({primary_subtag(m.lang)})" if m.lang else ""
        echo(f"  #{m.article_id} [{', '.join(m.feeds)}]{lang} {m.title}")
        if m.link:
            echo(f"       {m.link}")
        echo(f"       why: {why(m)}")


@stories.command("test")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry per line.")
@click.argument("sources", nargs=-1, required=True)
@click.pass_context
@handle_errors
def stories_test(ctx: click.Context, as_json: bool, sources: tuple[str, ...]) -> None:
    """Assign stories to the entries of every SOURCE (feed URLs or local feed files) as if they
    arrived in publication order, all sources together. Nothing is stored."""
    path: Path = ctx.obj["config_path"]
    config = load(ctx) if path.exists() else None
    langs = {f.url: f.lang for f in config.feeds} if config else {}
    read: list[tuple[str, list[FeedItem]]] = []
    for source in sources:
        read.append(
            (
                source,
                feed_source.read_feed(
                    source,
                    feed_lang=langs.get(source),
                    timeout_s=config.fetch.timeout if config else 30.0,
                    max_bytes=config.fetch.max_bytes if config else 10 * 1000**2,
                    user_agent=DEFAULT_USER_AGENT,
                ),
            )
        )
    window = config.stories.window if config else trial.DEFAULT_WINDOW_S
    lists = {k: tuple(v) for k, v in config.lists.items()} if config else None
    assigned = trial.assign(read, time.time(), window, lists)
    if as_json:
        for a in assigned:
            click.echo(json.dumps(a.as_json(), ensure_ascii=False))
        return
    names = {f.url: f.display_name for f in config.feeds} if config else {}
    for a in assigned:
        feed = names.get(a.source) or _source_name(a.source)
        lang = f" ({primary_subtag(a.item.article.lang)})" if a.item.article.lang else ""
        echo(f"s{a.story:<5} [{feed}]{lang} {a.item.article.title}")
        echo(f"       why: {a.why}")
    count = len({a.story for a in assigned})
    echo(f"{len(assigned)} entries, {count} {'story' if count == 1 else 'stories'}")


def _source_name(source: str) -> str:
    if feed_source.is_url(source):
        return default_feed_name(source)
    return Path(source).name
