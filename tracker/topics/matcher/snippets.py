"""Snippets: an excerpt of the field a topic hit, the hits wrapped in ``**``.

Snippets are made once per set of spans per article, with word offsets found in the
folded text that ``split_words_folded`` already produced (same offsets as the original
text), not by re-tokenizing the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tracker.models import MatchInput
from tracker.text import word_spans
from tracker.topics.matcher.article import GAP, Doc, Span

SNIPPET_CHARS = 200
SNIPPET_LEAD = 60


def make_snippet(doc: MatchInput, ctx: Doc, spans: list[Span]) -> str:
    """Excerpt of the field holding the first hit, hits wrapped in ``**``."""
    if not spans:
        return _render(doc.title or doc.summary, [])
    first, last = spans[0] if len(spans) == 1 else min(spans)
    body = ctx.body_pos  # the segments start at 0, body and body + len(summary) + GAP
    if first < body:
        segment, base = 0, 0
    elif first < body + len(ctx.segments[1]):
        segment, base = 1, body
    else:
        segment, base = 2, body + len(ctx.segments[1]) + GAP
    text = ctx.texts.get(segment)
    if not isinstance(text, Text):
        text = ctx.texts[segment] = Text(doc, ctx, segment)
    if len(spans) == 1:
        return text.snippet(first - base, last - base)
    limit = base + len(text.words)
    ranges = [text.char_range(a - base, b - base) for a, b in spans if base <= a < limit]
    return _render(text.text, ranges, text.plain)


_FIND_WORDS_MAX = 200  # longer segments get a table of all word offsets instead
_WORD_STARTS: dict[int, Callable[[str], re.Match[str] | None]] = {}


class Text:
    """One field of an article as snippets need it: made on the first snippet from it."""

    __slots__ = ("folded", "plain", "table", "text", "words")

    def __init__(self, doc: MatchInput, ctx: Doc, segment: int) -> None:
        self.text = text = (doc.title, doc.summary, doc.content)[segment]
        self.words = ctx.segments[segment]
        folded = ctx.folded[segment]
        self.folded = "" if folded is None else folded
        self.table: list[Span] | None = None
        if folded is None or len(self.words) > _FIND_WORDS_MAX:
            self.table = word_spans(text)
        # Without runs of spaces or line breaks (printable: no control chars) no snippet
        # of the text has them either, and _layout has nothing to do.
        self.plain = text.isprintable() and "  " not in text

    def snippet(self, first: int, last: int) -> str:
        """``_render`` for one span, words ``first`` to ``last``: the usual snippet."""
        if self.table is not None:
            a, b = self.table[first][0], self.table[last][1]
        else:
            a = self.word_start(last)
            b = a + len(self.words[last])
            if first != last:
                a = self.word_start(first)
        text = self.text
        size = len(text)
        if size <= SNIPPET_CHARS:
            snippet = f"{text[:a]}**{text[a:b]}**{text[b:]}"
        else:
            start, end = _window(text, (a, b))
            snippet = f"{text[start:a]}**{text[a:b]}**{text[b:end]}"
            if start > 0:
                snippet = "…" + snippet
            if end < size:
                snippet += "…"
        return snippet.strip() if self.plain else _layout(snippet)

    def char_range(self, first: int, last: int) -> Span:
        """Offsets in the text from the start of word ``first`` to the end of ``last``."""
        if self.table is not None:
            return self.table[first][0], self.table[last][1]
        start = self.word_start(last)
        return (start if first == last else self.word_start(first)), start + len(self.words[last])

    def word_start(self, index: int) -> int:
        """Where word ``index`` starts: the folded text has the same offsets.

        The folded text is the words with runs of spaces between: the first and the last
        word are found by the spaces around them, a word's first occurrence as `` word ``
        by a C-level search, and a repeated word by a regex that counts the words before.
        """
        folded, words = self.folded, self.words
        word = words[index]
        if index == 0:
            return len(folded) - len(folded.lstrip(" "))
        if index == len(words) - 1:
            return len(folded.rstrip(" ")) - len(word)
        # Found between spaces, the word is a whole word; if it is not the first or last
        # word and occurs once, that is word ``index``.
        needle = f" {word} "
        found_at = folded.find(needle)
        if words[0] != word != words[-1] and folded.find(needle, found_at + 1) == -1:
            return found_at + 1
        match = _WORD_STARTS.get(index)
        if match is None:
            match = _WORD_STARTS[index] = re.compile(rf" *(?:[^ ]+ +){{{index}}}").match
        counted = match(folded)
        assert counted is not None  # the segment has more than ``index`` words
        return counted.end()


def _merge(ranges: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _window(text: str, first: Span) -> Span:
    """About SNIPPET_CHARS of ``text`` starting a little before ``first``, on word breaks."""
    size = len(text)
    if size <= SNIPPET_CHARS:
        return 0, size
    # Plain comparisons rather than min() and max(): this runs for most snippets.
    start = first[0] - SNIPPET_LEAD
    if start > size - SNIPPET_CHARS:
        start = size - SNIPPET_CHARS
    if start > 0:
        space = text.find(" ", start, first[0])
        start = space + 1 if space != -1 else start
    else:
        start = 0
    end = start + SNIPPET_CHARS
    if end < first[1]:
        end = first[1]
    if end < size:
        space = text.rfind(" ", first[1], end)
        end = space if space != -1 else end
    else:
        end = size
    return start, end


def _render(text: str, ranges: list[Span], plain: bool = False) -> str:
    """``text`` or a window of it with ``ranges`` in ``**``; ``plain``: no layout spaces."""
    size = len(text)
    if len(ranges) > 1:
        ranges = _merge(ranges)
    start, end = (0, size) if size <= SNIPPET_CHARS else _window(text, (ranges or [(0, 0)])[0])
    if len(ranges) == 1:  # the usual case; the window always holds the first range
        a, b = ranges[0]
        snippet = f"{text[start:a]}**{text[a:b]}**{text[b:end]}"
        if start > 0:
            snippet = "…" + snippet
        if end < size:
            snippet += "…"
    else:
        parts = ["…"] if start > 0 else []
        cursor = start
        for a, b in ranges:
            if start <= a and b <= end:
                parts += [text[cursor:a], "**", text[a:b], "**"]
                cursor = b
        parts.append(text[cursor:end])
        if end < size:
            parts.append("…")
        snippet = "".join(parts)
    return snippet.strip() if plain else _layout(snippet)


def _layout(snippet: str) -> str:
    """Collapse the runs of spaces and line breaks that summaries can carry."""
    # Substring tests beat a regex here.
    if "  " in snippet or "\n" in snippet or "\t" in snippet or "\r" in snippet:
        return " ".join(snippet.split())
    return snippet.strip()
