"""`tracker topics`: tune topics on feeds (`test`) or on stored articles (`backtest`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from tracker.cli.clock import stamp, utc_option, wants_utc
from tracker.cli.common import (
    EXIT_ERROR,
    config_option,
    echo,
    existing_store,
    handle_errors,
    load,
)
from tracker.cli.mute import list_topics
from tracker.cli.progress import counting, on_terminal
from tracker.cli.topicsel import feed_url, only_topic
from tracker.config import loader as config_mod
from tracker.config.schema import DEFAULT_USER_AGENT, Config, default_feed_name
from tracker.errors import ConfigError, TrackerError
from tracker.ingest import source as feed_source
from tracker.ingest.isolate import ParsePool
from tracker.models import FeedItem
from tracker.settings import ParseSettings
from tracker.topics import explore
from tracker.topics.matcher import Matcher
from tracker.topics.query import QuerySyntaxError


@click.group(invoke_without_command=True)
@config_option
@utc_option
@click.pass_context
@handle_errors
def topics(ctx: click.Context) -> None:
    """List topics (routes, muted or not); tune them on feeds or on stored articles."""
    if ctx.invoked_subcommand is None:
        list_topics(ctx)


def _print_tested(item: explore.Tested, as_json: bool, where: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(item.as_json(), ensure_ascii=False))
        return
    if not item.hits:
        echo(f"  -  {item.title}")
        return
    for hit in item.hits:
        echo(f"  ✔  [{hit.topic}] {item.title}")
        if where:
            echo(f"       {where}")
        echo(f"       terms: {', '.join(hit.terms)}")
        if hit.snippet:
            echo(f"       {hit.snippet}")


@topics.command("test")
@config_option
@click.option("--query", "-q", help="Try this expression instead of the configured topics.")
@click.option("--topic", "-t", "only", help="Only this configured topic.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry per line.")
@click.argument("sources", nargs=-1, required=True)
@click.pass_context
@handle_errors
def topics_test(
    ctx: click.Context,
    query: str | None,
    only: str | None,
    as_json: bool,
    sources: tuple[str, ...],
) -> None:
    """Show which topics match each entry of SOURCE (a feed URL, a configured feed's name,
    or a local feed file).

    A source that cannot be read is one error line; the others are still tested, and the
    exit status is 1."""
    config = _load_or_default(ctx, needed=query is None)
    matcher = _matcher(only_topic(config, only, query), query)
    names = {f.url: f.display_name for f in config.feeds}
    langs = {f.url: f.lang for f in config.feeds}
    limits = ParseSettings(config.parse.timeout, config.parse.max_memory)
    # Parsed as the daemon parses: in a worker process, under parse.timeout and max_memory
    # (forked: this process has no threads when it parses, and fetches with asyncio.run).
    parser = ParsePool(1, start_method="fork")
    failed = 0
    try:
        for source in sources:
            source = feed_url(config, source)
            try:
                # Read by ingest (the pipeline's own path from bytes to articles).
                feed_items = feed_source.read_feed(
                    source,
                    feed_lang=langs.get(source),
                    timeout_s=config.fetch.timeout,
                    deadline_s=config.fetch.deadline,
                    max_bytes=config.fetch.max_bytes,
                    user_agent=DEFAULT_USER_AGENT,
                    parser=parser,
                    limits=limits,
                )
            except TrackerError as exc:
                failed += 1
                echo(f"error: {exc}", err=True)
                continue
            _print_source(source, names.get(source), feed_items, matcher, as_json)
    finally:
        parser.close()
    if failed:
        raise click.exceptions.Exit(EXIT_ERROR)


def _print_source(
    source: str,
    name: str | None,
    feed_items: list[FeedItem],
    matcher: Matcher,
    as_json: bool,
) -> None:
    """One source's entries, matched by topics."""
    feed = name or _source_name(source)
    items = explore.test_articles(feed_items, matcher, feed)
    if not as_json:
        matched = sum(1 for i in items if i.hits)
        echo(f"{source}: {len(items)} entries, {matched} matched")
    for item in items:
        _print_tested(item, as_json)


@topics.command("backtest")
@config_option
@click.argument("topic", required=False)
@click.option("--query", "-q", help="Try this expression instead of a configured topic.")
@click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="How far back to look (by when articles were stored).",
)
@click.option("--limit", "-n", type=click.IntRange(min=1), help="Show at most N matches.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per match per line.")
@utc_option
@click.pass_context
@handle_errors
def topics_backtest(
    ctx: click.Context,
    topic: str | None,
    query: str | None,
    days: float,
    limit: int | None,
    as_json: bool,
) -> None:
    """Show which stored articles TOPIC (or --query) would have matched."""
    if (topic is None) == (query is None):
        raise click.UsageError("give a TOPIC or --query EXPR (one of them)")
    config = load(ctx)
    if topic is not None and topic not in config.topics:
        known = ", ".join(config.topics) or "none"
        # A name the config does not have is a usage error (exit 2), like a bad --query.
        raise click.BadParameter(
            f"no topic named '{topic}' (configured: {known})", param_hint="TOPIC"
        )
    specs = [t for t in config.topic_specs() if t.name == topic]
    matcher = explore.build_matcher(specs, config.lists, query)
    store = existing_store(config, required=True)
    assert store is not None
    since = time.time() - days * 86400
    matched = 0
    try:
        articles = store.articles_since(since)
        if on_terminal():  # how far it got, on stderr; nothing extra on a pipe
            articles = counting(articles, store.count_since(since), "scanned")
        for item in explore.backtest(articles, matcher):
            matched += 1
            if limit is None or matched <= limit:
                _print_tested(item, as_json, _where(item, wants_utc(ctx)))
        scanned = store.count_since(since)
    finally:
        store.close()
    if not as_json:
        echo(f"{matched} of {scanned} articles from the last {days:g} days would have matched")
        if limit is not None and matched > limit:
            echo(f"(showing the first {limit}; --limit to see more)")


def _where(item: explore.Tested, utc: bool) -> str:
    """feed · published time · link, for a backtest match."""
    when = stamp(item.published_at.timestamp(), utc) if item.published_at else "undated"
    return " · ".join(p for p in (item.feed, when, item.link or "") if p)


def _source_name(source: str) -> str:
    """The feed name `topics test` gives a source not in the config."""
    if feed_source.is_url(source):
        return default_feed_name(source)
    return Path(source).name


def _load_or_default(ctx: click.Context, needed: bool) -> Config:
    """The config; with --query and no config file, an empty one (no lists, no feeds)."""
    path: Path = ctx.obj["config_path"]
    if not needed and not path.exists():
        return config_mod.parse("{}", Path.cwd())
    return load(ctx)


def _matcher(config: Config, query: str | None) -> Matcher:
    try:
        return explore.build_matcher(config.topic_specs(), config.lists, query)
    except QuerySyntaxError as exc:
        raise ConfigError(f"invalid --query:\n{exc}") from exc
