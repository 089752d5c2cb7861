"""One article as the compiled topics read it: key hits by word position, fields apart."""

from __future__ import annotations

from collections.abc import Sequence

# Positions between fields; larger than any NEAR distance so nothing spans two fields.
GAP = 1000

Span = tuple[int, int]  # first and last word position of an occurrence
Hits = dict[int, list[int]]  # key id -> word positions, fields GAP apart


class Doc:
    """Everything a compiled topic looks at for one article (flat: read in hot code)."""

    __slots__ = (
        "body_pos", "feed", "feed_hits", "folded", "hits", "keys", "lang", "segments",
        "snippets", "texts", "views",
    )  # fmt: skip

    def __init__(
        self,
        hits: Hits,
        segments: Sequence[list[str]],
        folded: Sequence[str | None],
        feed: str,
        feed_hits: Hits,
        lang: str,
    ) -> None:
        self.hits = hits
        # The keys hit, as a set: a set test against another set walks the smaller of the
        # two (against the dict, always the dict), so an OR's set of hundreds of words
        # costs what the article's few dozen keys cost, and one of a handful what those do.
        self.keys = set(hits)
        self.segments = segments  # words of the title, the summary and the content
        self.body_pos = len(segments[0]) + GAP  # position of the first body word
        self.folded = folded  # each segment as split_words_folded gives it
        self.feed = feed
        self.feed_hits = feed_hits
        self.lang = lang
        # The segments snippets are taken from (snippets.Text, made there on first use;
        # typed loosely so that this module, which snippets imports, imports nothing back).
        self.texts: dict[int, object] = {}
        # Snippets by the set of spans they highlight: topics that hit the same words of
        # an article share one (the snippet depends on nothing else).
        self.snippets: dict[object, str] = {}
        # The article as topics with a ``focus`` read it, by focus (runtime.focus_view);
        # None until such a topic is a candidate, so other articles allocate nothing.
        self.views: dict[object, Doc] | None = None


NO_HITS: Hits = {}
