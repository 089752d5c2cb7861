"""An article as the story index sees it: the one place a ``Report`` is built from one."""

from __future__ import annotations

from tracker.models import Article
from tracker.stories.index import Report


def report_of(key: int, article: Article, first_seen: float) -> Report:
    """The report of ``article`` (stored as ``key``): title, summary (else content), language,
    publication time (first-seen time when the feed gives none) and canonical URL."""
    published = article.published_at.timestamp() if article.published_at else first_seen
    return Report(
        key=key,
        title=article.title,
        text=article.summary or article.content,
        lang=article.lang,
        published_at=published,
        canonical_url=article.canonical_url,
    )
