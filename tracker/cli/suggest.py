"""`tracker topics suggest TOPIC`: terms a topic may be missing, from the reports of its own
stories that it did not match (store: store/sqlite/suggest.py; ranking: topics/suggest.py)."""

from __future__ import annotations

import json
import time

import click

from tracker.cli.common import config_option, echo, existing_store, handle_errors, load
from tracker.models import MatchInput
from tracker.topics.matcher import Matcher
from tracker.topics.query import parse
from tracker.topics.suggest import Missed, suggest, used_terms

# At most this many stored articles weigh each term (the newest of the window).
BACKGROUND_LIMIT = 20000


@click.command("suggest")
@config_option
@click.argument("topic")
@click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="How far back to look (by when an article was first seen).",
)
@click.option("-n", "limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many terms.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="One JSON object per term per line.")
@click.pass_context
@handle_errors
def topics_suggest(ctx: click.Context, topic: str, days: float, limit: int, as_json: bool) -> None:
    """Terms TOPIC may be missing: the frequent words and two-word phrases of the reports it
    did not match in stories it matched through another report, with example headlines."""
    config = load(ctx)
    if topic not in config.topics:
        known = ", ".join(config.topics) or "none"
        raise click.BadParameter(
            f"no topic named '{topic}' (configured: {known})", param_hint="TOPIC"
        )
    used = used_terms(parse(config.topics[topic].query, config.lists))
    store = existing_store(config, required=True)
    assert store is not None
    since = time.time() - days * 86400
    try:
        missed = [(m.story_id, Missed(m.title, m.text)) for m in store.missed_reports(topic, since)]
        copies = store.retitled_copies(topic, since)
        if copies:
            # A copy's own headline counts as missed only when the topic does not match it.
            spec = [t for t in config.topic_specs() if t.name == topic]
            matcher = Matcher.from_topics(spec, config.lists)
            missed += [
                (c.story_id, Missed(c.title, ""))
                for c in copies
                if not matcher.match(MatchInput(c.title, "", "", c.feed, c.lang), explain=False)
            ]
        background = store.background_texts(since, BACKGROUND_LIMIT) if missed else []
    finally:
        store.close()
    found = suggest([m for _, m in missed], background, used, limit=limit)
    if as_json:
        for s in found:
            record = {
                "term": s.term,
                "reports": s.reports,
                "background": s.background,
                "score": s.score,
                "examples": list(s.examples),
            }
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    stories = len({story for story, _ in missed})
    if not found:
        echo(f"{topic}: no unmatched reports in its stories of the last {days:g} days")
        return
    echo(
        f"{topic}: {len(missed)} unmatched {'report' if len(missed) == 1 else 'reports'}"
        f" in {stories} {'story' if stories == 1 else 'stories'} of the last {days:g} days"
        f" (background: {len(background)} articles)"
    )
    for s in found:
        echo(f"  {s.term}  ·  {s.reports} of {len(missed)} missed, {s.background} of all"
             f"  ·  score {s.score:g}")  # fmt: skip
        for title in s.examples:
            echo(f"       e.g. {title}")
