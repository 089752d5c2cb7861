"""What `topics test` runs on: one topic (`--topic`), a configured feed's name as a SOURCE,
and the query warnings it prints (lowercase and/or/not) before matching."""

from __future__ import annotations

from pathlib import Path

import click

from tracker.cli.common import echo
from tracker.config.lint import query_warnings
from tracker.config.schema import Config


def only_topic(config: Config, name: str | None, query: str | None) -> Config:
    """The config with only topic ``name`` (all when None); warns, on stderr, about the
    queries that will run."""
    if name is not None:
        if query is not None:
            raise click.UsageError("give --topic or --query, not both")
        if name not in config.topics:
            known = ", ".join(config.topics) or "none"
            raise click.BadParameter(
                f"no topic named '{name}' (configured: {known})", param_hint="--topic"
            )
        config = config.model_copy(update={"topics": {name: config.topics[name]}})
    queries = {"--query": query} if query is not None else {
        f"topics.{n}.query": t.query for n, t in config.topics.items()
    }  # fmt: skip
    for where, text in queries.items():
        for warning in query_warnings(text):
            echo(f"warning: {where}: {warning}", err=True)
    return config


def feed_url(config: Config, source: str) -> str:
    """A configured feed's name stands for its URL (a local file of that name wins)."""
    if Path(source).exists():
        return source
    for feed in config.feeds:
        if feed.display_name == source:
            return feed.url
    return source
