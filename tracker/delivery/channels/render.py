"""Alerts to text people read: subjects, plain text and HTML bodies (jinja2), safe headers.

Everything from a feed is untrusted. Header values lose every control and line-break
character; in HTML, jinja2 autoescapes every feed-supplied fragment, and the one fragment
we build ourselves (an excerpt with its matched words in ``<mark>``) is cleaned with nh3
down to ``<mark>`` before it enters the template. The finished message is not cleaned
again: nh3 would drop the template's own ``<html>``, ``<head>`` and ``<body>`` (and with
them the styling and the viewport).

``view()`` turns one alert into what every channel shows (headline, link, outlets, time in
the channel's zone, an excerpt with its matched words marked, the reason in plain words);
email templates, chat presets and apprise all render from it.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
import markupsafe
import nh3

from tracker.models import Alert, NoticeKind
from tracker.text import fold, primary_subtag, word_spans

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("tracker.delivery.channels", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
# Text parts are wrapped here: 76 columns, URLs and long words never broken.
TEXT_WIDTH = 76
_ENV.filters["wrap"] = lambda text, indent="": "\n".join(
    textwrap.fill(
        para,
        TEXT_WIDTH,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    for para in str(text).split("\n")
)

_MARK = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_MARK_STYLE = "background:#fff1a8;color:inherit;padding:0 .1em;border-radius:2px"

# Links a feed leaves behind once its HTML is text: "Read more | Full story", "[…]",
# WordPress's "The post … appeared first on …". Removed at the end of a text, and the
# "Read more | Full story" pair anywhere.
_SEP = r"(?:\s*[|·•»›/\-–—:]\s*)"
_PHRASE = (
    r"(?:read\s+more|read\s+the\s+(?:full\s+)?(?:story|article)|full\s+(?:story|article)"
    r"|continue\s+reading|keep\s+reading|more\s*»|leer\s+m[aá]s|seguir\s+leyendo"
    r"|lire\s+la\s+suite|weiterlesen)"
)
_TAIL = re.compile(
    rf"(?:(?:{_SEP}|\s+|^)\b{_PHRASE}\b\s*(?:[.…»›>]+|\[(?:…|\.\.\.)\])?\s*)+{_SEP}*$"
    r"|\s*The post .{1,300}? appeared first on .{1,200}?$",
    re.IGNORECASE,
)
_PAIR = re.compile(rf"\b{_PHRASE}{_SEP}{_PHRASE}\b{_SEP}?", re.IGNORECASE)
_BRACKET_ELLIPSIS = re.compile(r"\s*\[(?:…|\.\.\.)\]\s*$")

EXCERPT_CHARS = 280  # a snippet the eye takes in at once: two or three lines
REASON_WORDS = 3  # "mentions “a”, “b” and “c”": more than three is noise


def clean_header(text: str, limit: int = 200) -> str:
    """A single-line header value: no CR, LF or other control/format characters."""
    cleaned = "".join(" " if unicodedata.category(c)[0] in "CZ" and c != " " else c for c in text)
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def strip_leftovers(text: str) -> str:
    """Text without the dead "Read more | Full story" a feed's removed links leave behind."""
    text = _PAIR.sub(" ", text)
    previous = None
    while previous != text:
        previous = text
        text = _TAIL.sub("", text).rstrip()
    return _BRACKET_ELLIPSIS.sub(" …", text).strip()


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:.") + " …"


# ---------------------------------------------------------------------------- the view


Segments = tuple[tuple[str, bool], ...]  # text, and whether it is a matched word


@dataclass(frozen=True)
class Outlet:
    """One outlet that carried the story, with the language of its report."""

    name: str
    lang: str  # primary subtag, "" when unknown

    def __str__(self) -> str:
        return f"{self.name} ({self.lang})" if self.lang else self.name


@dataclass(frozen=True)
class AlertView:
    """One alert as people read it, in plain parts each channel marks up its own way."""

    topic: str
    title: Segments
    link: str | None  # http(s) only, canonical (no tracking parameters) when known
    host: str | None
    outlets: tuple[Outlet, ...]
    published: str | None  # in the channel's time zone
    published_at: float | None
    excerpt: Segments
    words: tuple[str, ...]  # the matched words, as written in the article
    reason: str  # "mentions “aranceles” and “muro fronterizo”"
    key: str
    also: tuple[str, ...] = ()  # other topics of a digest this story matched
    notice: NoticeKind | None = None
    body: str = ""  # a notice's text
    update: bool = False  # a follow-up: the story gained a language or outlets

    @property
    def title_text(self) -> str:
        return "".join(t for t, _ in self.title)

    @property
    def excerpt_text(self) -> str:
        return "".join(t for t, _ in self.excerpt)

    @property
    def outlet_line(self) -> str:
        """``Reported by Los Angeles Times (en), El Universal (es), CNN (en)``."""
        if not self.outlets:
            return ""
        return "Reported by " + ", ".join(map(str, self.outlets))

    def marked(self, segments: Segments, before: str, after: str) -> str:
        """Segments as text with each matched word between ``before`` and ``after``."""
        return "".join(f"{before}{t}{after}" if hit else t for t, hit in segments)

    @property
    def title_html(self) -> markupsafe.Markup:
        return _segments_html(self.title)

    @property
    def excerpt_html(self) -> markupsafe.Markup:
        return _segments_html(self.excerpt)


def _segments_html(segments: Segments) -> markupsafe.Markup:
    # Feed text is escaped first; nh3 then keeps nothing but <mark> (defence in depth, on the
    # fragment: the template around it is ours), and only then does <mark> get its style.
    html = "".join(
        f"<mark>{markupsafe.escape(t)}</mark>" if hit else str(markupsafe.escape(t))
        for t, hit in segments
    )
    cleaned = nh3.clean(html, tags={"mark"}, attributes={})
    return markupsafe.Markup(cleaned.replace("<mark>", f'<mark style="{_MARK_STYLE}">'))


def _parse_marks(snippet: str) -> Segments:
    parts: list[tuple[str, bool]] = []
    pos = 0
    for m in _MARK.finditer(snippet):
        if m.start() > pos:
            parts.append((snippet[pos : m.start()], False))
        parts.append((m.group(1), True))
        pos = m.end()
    if pos < len(snippet):
        parts.append((snippet[pos:], False))
    return tuple(parts)


def highlight(text: str, words: Iterable[str]) -> Segments:
    """``text`` cut into segments, each occurrence of ``words`` (folded, whole words) marked."""
    targets = [fold_words(w) for w in words]
    targets = [t for t in targets if t]
    if not targets or not text:
        return ((text, False),) if text else ()
    spans = word_spans(text)
    folded = [fold(text[a:b]) for a, b in spans]
    parts: list[tuple[str, bool]] = []
    pos = i = 0
    while i < len(spans):
        hit = next(
            (len(t) for t in targets if tuple(folded[i : i + len(t)]) == t),
            0,
        )
        if hit:
            start, end = spans[i][0], spans[i + hit - 1][1]
            if start > pos:
                parts.append((text[pos:start], False))
            parts.append((text[start:end], True))
            pos = end
            i += hit
        else:
            i += 1
    if pos < len(text):
        parts.append((text[pos:], False))
    return tuple(parts)


def fold_words(text: str) -> tuple[str, ...]:
    """The folded words of ``text``, as a tuple (a phrase)."""
    return tuple(fold(text[a:b]) for a, b in word_spans(text))


def _plain_term(term: str) -> str:
    """A query term as words: ``title:"border wall"`` -> border wall, ``arancel*`` -> arancel…"""
    term = term.split(":", 1)[1] if re.match(r"^\w+:", term) else term
    term = term.strip('"')
    return term[:-1] + "…" if term.endswith("*") else term


def _reason(words: Sequence[str], terms: Sequence[str], topic: str) -> str:
    names = list(words) or [_plain_term(t) for t in terms if _plain_term(t)]
    if not names:
        return f"matches the topic {topic}"
    shown = [f"“{n}”" for n in names[:REASON_WORDS]]
    more = len(names) - len(shown)
    if more:
        return f"mentions {', '.join(shown)} and {more} more"
    if len(shown) == 1:
        return f"mentions {shown[0]}"
    return f"mentions {', '.join(shown[:-1])} and {shown[-1]}"


@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    """The channel's time zone (config validated it; UTC if this machine lacks it)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def local_time(ts: float, tz: str) -> str:
    """``1 May 2024, 14:03 CEST``: a time as people read it, in the channel's zone."""
    dt = datetime.fromtimestamp(ts, zone(tz))
    return f"{dt.day} {dt:%b %Y, %H:%M} {dt.tzname() or ''}".strip()


def _web(url: str | None) -> str | None:
    return url if url and url.lower().startswith(("http://", "https://")) else None


def outlets(a: Alert) -> tuple[Outlet, ...]:
    """Every outlet of the alert's story with its report's language, first seen first (the
    alert's own article when the story is not known)."""
    found = [Outlet(r.feed, primary_subtag(r.lang)) for r in a.reports]
    return tuple(dict.fromkeys(found)) or (Outlet(a.feed, primary_subtag(a.lang)),)


def view(a: Alert, tz: str = "UTC", also: Sequence[str] = ()) -> AlertView:
    """What every channel shows of one alert: the story's headline and every outlet."""
    link = _web(a.canonical_url) or _web(a.url)
    host = urlsplit(link).hostname if link else None
    if host and host.startswith("www."):
        host = host[4:]
    base = AlertView(
        topic=a.topic,
        title=((a.title, False),),
        link=link,
        host=host,
        outlets=outlets(a) if a.notice is None else (),
        published=local_time(a.published_at, tz) if a.published_at else None,
        published_at=a.published_at,
        excerpt=(),
        words=(),
        reason="",
        key=a.key,
        update=a.update,
    )
    if a.notice is not None:
        return replace(base, notice=a.notice, body=a.summary)
    snippet = strip_leftovers(a.snippet)
    marked = _parse_marks(snippet)
    words: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for text, hit in marked:
        if hit and (key := fold_words(text)) and key not in seen:
            seen.add(key)
            words.append(text)
    plain = "".join(t for t, _ in marked).strip(" …")
    in_title = not plain or plain in a.title or fold_words(plain) == fold_words(a.title)
    if in_title:
        # The title matched (or nothing was marked): the headline shows the words, and the
        # excerpt is the article's own text, never the title again.
        body = strip_leftovers(a.summary) or strip_leftovers(a.content)
        if fold_words(body) == fold_words(a.title):
            body = strip_leftovers(a.content) if a.summary else ""
        excerpt = highlight(_shorten(body, EXCERPT_CHARS), words)
    else:
        excerpt = marked
    return replace(
        base,
        title=highlight(a.headline or a.title, words),
        excerpt=excerpt,
        words=tuple(words),
        reason=_reason(words, a.terms, a.topic),
        also=tuple(also),
    )


@dataclass
class Group:
    """One topic's results in a message."""

    topic: str
    items: list[AlertView] = field(default_factory=list)


def group(alerts: Sequence[Alert], tz: str) -> list[Group]:
    """Alerts by topic, in order of first appearance; a story matched by several topics
    appears once, under the first, naming the others."""
    by_story: dict[str, list[Alert]] = defaultdict(list)
    for a in alerts:
        story = (
            f"story:{a.story_id}"
            if a.story_id is not None
            else _web(a.canonical_url) or _web(a.url) or " ".join(fold_words(a.title)) or a.key
        )
        by_story[story].append(a)
    groups: dict[str, Group] = {}
    for members in by_story.values():
        first = members[0]
        others = tuple(dict.fromkeys(m.topic for m in members[1:] if m.topic != first.topic))
        groups.setdefault(first.topic, Group(first.topic)).items.append(
            view(first, tz, also=others)
        )
    return list(groups.values())


# ---------------------------------------------------------------------------- messages

NOTICE_LABELS = {
    NoticeKind.FEED_FAILING: "Feed failing",
    NoticeKind.FEED_SILENT: "Feed silent",
    NoticeKind.FEED_RECOVERED: "Feed recovered",
    NoticeKind.CONFIG_REJECTED: "Config edit rejected",
    NoticeKind.STORAGE_DEGRADED: "Storage degraded",
    NoticeKind.STORAGE_RECOVERED: "Storage recovered",
    NoticeKind.OTHER: "Notice",
}


def subject(alerts: list[Alert], prefix: str = "") -> str:
    """``[tracker] border-wall: Headline`` for one alert; counts by topic for a digest;
    ``[tracker] notice: feed failing: …`` for an admin notice."""
    lead = f"{prefix} " if prefix else ""
    if len(alerts) == 1 and not alerts[0].digest:
        a = alerts[0]
        if a.notice is not None:
            return clean_header(f"{lead}notice: {a.title}")
        update = "Update: " if a.update else ""
        return clean_header(f"{lead}{update}{a.topic}: {a.headline or a.title}")
    counts: dict[str, int] = defaultdict(int)
    for a in alerts:
        counts[a.topic] += 1
    topics = ", ".join(f"{t} ({n})" for t, n in counts.items())
    noun = "alert" if len(alerts) == 1 else "alerts"
    return clean_header(f"{lead}{len(alerts)} {noun}: {topics}")


def is_digest(alerts: Sequence[Alert]) -> bool:
    return len(alerts) > 1 or any(a.digest for a in alerts)


def _context(alerts: list[Alert], key: str, subj: str, tz: str) -> dict[str, object]:
    groups = group(alerts, tz)
    digest = is_digest(alerts)
    notice = alerts[0].notice if len(alerts) == 1 else None
    return {
        "groups": groups,
        "digest": digest,
        "notice": notice,
        "notice_label": NOTICE_LABELS.get(notice, "") if notice else "",
        "item": groups[0].items[0] if groups and not digest else None,
        "topics": [g.topic for g in groups],
        "count": sum(len(g.items) for g in groups),
        "key": key,
        "subject": subj,
    }


def _template(alerts: list[Alert], ext: str) -> jinja2.Template:
    kind = "notice" if len(alerts) == 1 and alerts[0].notice is not None else "alert"
    return _ENV.get_template(f"{kind}.{ext}.j2")


def render_text(alerts: list[Alert], key: str, subj: str, tz: str = "UTC") -> str:
    """The plain-text part: no leading blank line, wrapped at 76, a ``-- `` signature."""
    text = _template(alerts, "txt").render(_context(alerts, key, subj, tz))
    return re.sub(r"\n{3,}", "\n\n", text).lstrip("\n")


def render_html(alerts: list[Alert], key: str, subj: str, tz: str = "UTC") -> str:
    """The HTML part: one column, inline styles, feed text escaped and cleaned."""
    return _template(alerts, "html").render(_context(alerts, key, subj, tz))
