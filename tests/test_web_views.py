"""The status page's rendering helpers: only http(s) links, escaped highlights, a chart with
no inline style, and autoescape on every template."""

from __future__ import annotations

import pytest

from tracker.service.web.app import authorized
from tracker.service.web.views import bars, environment, highlight, safe_url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:x",
        "//evil.example/x",
        "http:///nohost",
        "",
        None,
    ],
)
def test_links_that_are_not_http_are_not_links(url: str | None) -> None:
    assert safe_url(url) is None


def test_http_links_are_kept() -> None:
    assert safe_url("https://news.example/a?b=1") == "https://news.example/a?b=1"
    assert safe_url("HTTP://news.example/") == "HTTP://news.example/"


def test_highlight_escapes_and_marks_only_the_hits() -> None:
    out = str(highlight("a <b>**wall**</b> & **muro<script>**"))
    assert out == "a &lt;b&gt;<mark>wall</mark>&lt;/b&gt; &amp; <mark>muro&lt;script&gt;</mark>"
    # An odd number of markers (the text's own **): all of it escaped, nothing marked.
    assert str(highlight("**a <i>")) == "**a &lt;i&gt;"


def test_chart_has_a_bar_per_nonzero_day_and_no_style() -> None:
    svg = str(bars([0, 2, 4], [0, 1, 0]))
    assert svg.count("<rect") == 3 and "style" not in svg
    assert 'aria-label="6 in 3 days, 1 alerts"' in svg


def test_every_template_autoescapes() -> None:
    env = environment()
    t = env.from_string("{{ x }}")
    assert t.render(x="<script>") == "&lt;script&gt;"


def test_token_check() -> None:
    assert authorized("Bearer tok", "tok")
    assert not authorized("Bearer tok2", "tok")
    assert not authorized("Bearer ", "tok")
    assert authorized("Basic dTp0b2s=", "tok")  # u:tok
    assert not authorized("Basic !!", "tok")
    assert not authorized("", "tok")
