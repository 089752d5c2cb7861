"""The command line: click commands; every TrackerError becomes a clear message and exit code."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from tracker import log
from tracker.config import loader as config_mod
from tracker.config.schema import DEFAULT_USER_AGENT, Config, default_feed_name
from tracker.config.settings import to_settings
from tracker.delivery.channels import sample as delivery_test
from tracker.errors import ConfigError, TrackerError
from tracker.ingest import source as feed_source
from tracker.models import DeliveryStatus, HealthStatus
from tracker.service.daemon import run_forever, run_once
from tracker.store.facade import FeedRow, Store
from tracker.topics import explore
from tracker.topics.matcher import Matcher
from tracker.topics.query import QuerySyntaxError
from tracker.units import format_duration

F = TypeVar("F", bound=Callable[..., Any])

EXIT_ERROR = 1
EXIT_CONFIG = 2


def _handle_errors(func: F) -> F:
    """Turn errors into one clear message (no traceback) and a non-zero exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            _echo(f"error: {exc}", err=True)
            sys.exit(EXIT_CONFIG)
        except TrackerError as exc:
            _echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def _set_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(dict)["config_path"] = value


# Also accepted after the command name: `tracker topics test --config FILE …`.
config_option = click.option(
    "--config",
    "-c",
    type=click.Path(path_type=Path, dir_okay=False),
    expose_value=False,
    is_eager=True,
    callback=_set_config,
    help="Config file (overrides the one given before the command).",
)


def _existing_store(config: Config, required: bool = False) -> Store | None:
    """The database, for commands that only read what a run stored; None (after saying so)
    when no run has created it yet, or an error when the command cannot do without it."""
    if config.database_path.exists():
        return Store(config.database_path)
    message = f"no database yet at {config.database_path}: run `tracker run` first"
    if required:
        raise TrackerError(message)
    _echo(message)
    return None


def _load(ctx: click.Context) -> Config:
    path: Path = ctx.obj["config_path"]
    return config_mod.load(path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default="config.yaml",
    envvar="TRACKER_CONFIG",
    show_default=True,
    help="Config file (or $TRACKER_CONFIG).",
)
@click.version_option(package_name="tracker")
@click.pass_context
def cli(ctx: click.Context, config_path: Path) -> None:
    """tracker: watch news feeds for your topics and send one alert per story."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


@cli.command()
@config_option
@click.option("--once", is_flag=True, help="Do one full poll cycle, print a summary and exit.")
@click.pass_context
@_handle_errors
def run(ctx: click.Context, once: bool) -> None:
    """Run the daemon (logs to stderr), or one cycle with --once."""
    settings = to_settings(_load(ctx))
    log.setup(settings.log_level, list(settings.secrets))
    if once:
        summary = asyncio.run(run_once(settings))
        _echo(summary.render())
        return
    asyncio.run(run_forever(ctx.obj["config_path"], settings))


@cli.command()
@config_option
@click.pass_context
@_handle_errors
def check(ctx: click.Context) -> None:
    """Validate the config and print what it sets up."""
    config = _load(ctx)
    path = ctx.obj["config_path"]
    _echo(f"{path}: OK")
    _echo(f"  database: {config.database_path}")
    _echo(f"  feeds: {len(config.feeds)}")
    for spec in config.feed_specs():
        _echo(f"    - {spec.name}  every {format_duration(spec.interval_s)}  {spec.url}")
    _echo(f"  topics: {len(config.topics)}")
    for name, topic in config.topics.items():
        _echo(f"    - {name}: {' '.join(topic.query.split())}")
    if not config.channels:
        _echo("  channels: 0 (alerts are kept in the database and written to the log)")
    else:
        _echo(f"  channels: {len(config.channels)}")
        for name, ch in config.channels.items():
            routed = [t for t in config.topics if name in config.routes(t)]
            _echo(f"    - {name}: {ch.kind()}, {ch.mode}, topics: {', '.join(routed) or '-'}")
        if config.delivery.admin:
            _echo(f"  admin notices: {config.delivery.admin}")


def _ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "never"
    delta = now - ts
    if delta < 0:
        return "in " + format_duration(round(-delta))
    return format_duration(round(delta)) + " ago"


def _status(row: FeedRow) -> str:
    if not row.active:
        return "removed"
    if row.last_checked_at is None:
        return "new"
    if row.consecutive_errors:
        return f"failing×{row.consecutive_errors}"
    if row.health is HealthStatus.SILENT:
        return "silent"
    return "ok"


@cli.command()
@config_option
@click.pass_context
@_handle_errors
def feeds(ctx: click.Context) -> None:
    """Show every feed: status, last success, last error, articles."""
    store = _existing_store(_load(ctx))
    if store is None:
        return
    try:
        rows = store.feeds()
    finally:
        store.close()
    now = time.time()
    table = [("FEED", "STATUS", "LAST SUCCESS", "NEXT CHECK", "ARTICLES", "LAST ERROR")]
    for r in rows:
        table.append(
            (
                r.name,
                _status(r),
                _ago(r.last_success_at, now),
                _ago(r.next_check_at, now) if r.active else "-",
                str(r.articles),
                (r.last_error or "")[:80],
            )
        )
    _print_table(table)


def _print_table(rows: Sequence[tuple[str, ...]]) -> None:
    """Aligned columns; the last one (an error message) is left ragged. Feed titles and
    server answers are untrusted: control characters (ANSI escapes) are shown as ``?``."""
    table = [tuple(_printable(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        cells = [cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)]
        _echo("  ".join([*cells, row[-1]]).rstrip())


@cli.group()
def topics() -> None:
    """Tune topics: try them on feeds or on stored articles."""


def _print_tested(item: explore.Tested, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(item.as_json(), ensure_ascii=False))
        return
    if not item.hits:
        _echo(f"  -  {item.title}")
        return
    for hit in item.hits:
        _echo(f"  ✔  [{hit.topic}] {item.title}")
        _echo(f"       terms: {', '.join(hit.terms)}")
        if hit.snippet:
            _echo(f"       {hit.snippet}")


@topics.command("test")
@config_option
@click.option("--query", "-q", help="Try this expression instead of the configured topics.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry per line.")
@click.argument("sources", nargs=-1, required=True)
@click.pass_context
@_handle_errors
def topics_test(
    ctx: click.Context, query: str | None, as_json: bool, sources: tuple[str, ...]
) -> None:
    """Show which topics match each entry of SOURCE (a feed URL or a local feed file)."""
    config = _load_or_default(ctx, needed=query is None)
    matcher = _matcher(config, query)
    names = {f.url: f.display_name for f in config.feeds}
    langs = {f.url: f.lang for f in config.feeds}
    for source in sources:
        # Read by ingest (the pipeline's own path from bytes to articles), matched by topics.
        feed_items = feed_source.read_feed(
            source,
            feed_lang=langs.get(source),
            timeout_s=config.fetch.timeout,
            max_bytes=config.fetch.max_bytes,
            user_agent=DEFAULT_USER_AGENT,
        )
        feed = names.get(source) or _source_name(source)
        items = explore.test_articles(feed_items, matcher, feed)
        if not as_json:
            matched = sum(1 for i in items if i.hits)
            _echo(f"{source}: {len(items)} entries, {matched} matched")
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
@click.option("--json", "as_json", is_flag=True, help="One JSON object per match per line.")
@click.pass_context
@_handle_errors
def topics_backtest(
    ctx: click.Context, topic: str | None, query: str | None, days: float, as_json: bool
) -> None:
    """Show which stored articles TOPIC (or --query) would have matched."""
    if (topic is None) == (query is None):
        raise click.UsageError("give a TOPIC or --query EXPR (one of them)")
    config = _load(ctx)
    if topic is not None and topic not in config.topics:
        known = ", ".join(config.topics) or "none"
        raise TrackerError(f"no topic named '{topic}' (configured: {known})")
    specs = [t for t in config.topic_specs() if t.name == topic]
    matcher = explore.build_matcher(specs, config.lists, query)
    store = _existing_store(config, required=True)
    assert store is not None
    since = time.time() - days * 86400
    matched = 0
    try:
        for item in explore.backtest(store.articles_since(since), matcher):
            matched += 1
            _print_tested(item, as_json)
        scanned = store.count_since(since)
    finally:
        store.close()
    if not as_json:
        _echo(f"{matched} of {scanned} articles from the last {days:g} days would have matched")


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
    return _load(ctx)


def _matcher(config: Config, query: str | None) -> Matcher:
    try:
        return explore.build_matcher(config.topic_specs(), config.lists, query)
    except QuerySyntaxError as exc:
        raise ConfigError(f"invalid --query:\n{exc}") from exc


@cli.group(invoke_without_command=True)
@config_option
@click.option("--status", type=click.Choice(["pending", "sent", "dead"]), help="Only these.")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=30, show_default=True)
@click.pass_context
@_handle_errors
def alerts(ctx: click.Context, status: str | None, limit: int) -> None:
    """Recent deliveries: channel, topic, status, attempts, last error."""
    if ctx.invoked_subcommand is not None:
        return
    store = _existing_store(_load(ctx))
    if store is None:
        return
    try:
        rows = store.deliveries(limit, DeliveryStatus(status) if status else None)
        counts = store.delivery_counts()
    finally:
        store.close()
    now = time.time()
    table = [("ID", "CREATED", "CHANNEL", "TOPIC", "STATUS", "TRIES", "TITLE", "LAST ERROR")]
    for r in rows:
        state: str = r.status
        if r.status is DeliveryStatus.PENDING:
            when = max(r.not_before, r.next_attempt_at)
            state = f"pending ({'digest ' if r.digest else ''}{_ago(when, now)})"
        table.append(
            (
                str(r.id),
                _ago(r.created_at, now),
                r.channel,
                r.topic,
                state,
                str(r.attempts),
                r.title[:50],
                (r.last_error or "")[:100],
            )
        )
    _print_table(table)
    _echo(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no deliveries yet")


@alerts.command("retry")
@config_option
@click.argument("ids", nargs=-1, type=int)
@click.option("--dead", "all_dead", is_flag=True, help="Every dead-lettered delivery.")
@click.pass_context
@_handle_errors
def alerts_retry(ctx: click.Context, ids: tuple[int, ...], all_dead: bool) -> None:
    """Queue deliveries again (ID..., or --dead), due now with their attempts reset."""
    if bool(ids) == all_dead:
        raise click.UsageError("give delivery IDs or --dead (one of them)")
    store = _existing_store(_load(ctx), required=True)
    assert store is not None
    try:
        n = store.retry_deliveries(ids, all_dead=all_dead, now=time.time())
    finally:
        store.close()
    _echo(
        f"{n} {'delivery' if n == 1 else 'deliveries'} queued again"
        " (sent by the running daemon, or by the next `tracker run --once`)"
    )


@cli.group()
def notify() -> None:
    """Check alert channels."""


@notify.command("test")
@config_option
@click.argument("channel")
@click.pass_context
@_handle_errors
def notify_test(ctx: click.Context, channel: str) -> None:
    """Send a sample alert through CHANNEL and print what the server answered."""
    config = _load(ctx)
    if channel not in config.channels:
        known = ", ".join(config.channels) or "none configured"
        raise TrackerError(f"no channel named '{channel}' (channels: {known})")
    result = asyncio.run(delivery_test.send_sample(channel, config.channels[channel].settings()))
    _echo(f"{channel}: {'ok' if result.ok else 'FAILED'}: {result.detail}")
    if not result.ok:
        sys.exit(EXIT_ERROR)


def _printable(text: str) -> str:
    return "".join("?" if unicodedata.category(c) == "Cc" else c for c in text)


def _echo(text: str, err: bool = False) -> None:
    """click.echo for text that may carry feed or server bytes: no control character but
    the line breaks reaches the terminal (an ESC could rewrite the screen)."""
    click.echo("\n".join(_printable(line) for line in text.split("\n")), err=err)


def main() -> None:
    """Console-script entry point."""
    try:
        cli(obj={})
    except Exception as exc:  # last resort: one line, never a traceback
        _echo(f"error: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(70)
