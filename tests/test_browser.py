"""Alert email and chat mocks in a real browser (headless Chromium): the styles reach the
page, the column stays narrow, and nothing outside the message is requested.

``TRACKER_SCREENSHOTS=docs/screenshots pytest tests/test_browser.py`` also writes the
README's screenshots.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from browser import chromium, needs_browser, requested_urls, screenshot, serve
from chatmock import discord_html, slack_html

from tracker.delivery.channels.sample import EXAMPLE_CHANNEL, write_preview

from conftest import run_cli

pytestmark = [pytest.mark.slow, needs_browser]

SHOTS = os.environ.get("TRACKER_SCREENSHOTS")


def _style(driver: Any, selector: str, prop: str) -> str:
    return str(
        driver.execute_script(
            "return getComputedStyle(document.querySelector(arguments[0]))[arguments[1]]",
            selector,
            prop,
        )
    )


def _width(driver: Any, selector: str) -> float:
    return float(
        driver.execute_script(
            "return document.querySelector(arguments[0]).getBoundingClientRect().width",
            selector,
        )
    )


def test_alert_digest_and_notice_render_designed_and_self_contained(tmp_path: Path) -> None:
    # The preview command writes the pages, as a user would look at them.
    cfg = tmp_path / "config.yaml"
    cfg.write_text("feeds:\n  - url: https://a.example/feed\ntopics:\n  wall:\n    query: wall\n")
    out = tmp_path / "preview"
    result = run_cli("--config", str(cfg), "notify", "preview", "--out", str(out))
    assert result.returncode == 0, result.stderr
    pages = sorted(p.name for p in out.glob("*.html"))
    assert {"example-alert-1.html", "example-digest.html", "example-notice.html"} <= set(pages)
    with serve(out) as base, chromium() as driver:
        for page in pages:
            driver.get_log("performance")  # drop what came before
            driver.get(base + page)
            # A sans-serif family on the content, not the browser's Times.
            family = _style(driver, "h1, h2, h3", "fontFamily")
            assert family.rstrip().endswith("sans-serif"), (page, family)
            assert "sans-serif" in _style(driver, "body", "fontFamily")
            # One column, about 40em, even in a 1280 px window.
            width = _width(driver, "body > div")
            assert 500 <= width <= 700, (page, width)
            assert driver.execute_script(
                "return document.querySelector('meta[name=viewport]') !== null"
            )
            if "alert" in page or "digest" in page:
                mark = _style(driver, "mark", "backgroundColor")
                assert mark not in ("rgba(0, 0, 0, 0)", "transparent"), page
            # Nothing but the page itself is fetched: no image, font, script or tracker pixel.
            urls = requested_urls(driver, base + page)
            assert urls == [base + page], (page, urls)
            resources = driver.execute_script(
                "return performance.getEntriesByType('resource').map(e => e.name)"
                ".filter(n => !n.endsWith('/favicon.ico'))"
            )
            assert resources == [], (page, resources)
            if SHOTS and page in ("example-alert-2.html", "example-digest.html"):
                name = "alert-email.png" if "alert" in page else "digest-email.png"
                screenshot(driver, Path(SHOTS) / name, width=820)


def test_a_narrow_screen_gets_the_whole_column(tmp_path: Path) -> None:
    write_preview("example", EXAMPLE_CHANNEL, tmp_path)
    with serve(tmp_path) as base, chromium(width=380, height=800) as driver:
        driver.get(base + "example-digest.html")
        # The viewport tag and the max-width column: no sideways scrolling on a phone.
        scroll = driver.execute_script("return document.documentElement.scrollWidth")
        inner = driver.execute_script("return window.innerWidth")
        assert scroll <= inner


def test_chat_payloads_in_a_labelled_mock(tmp_path: Path) -> None:
    import json

    from tracker.settings import DeliveryMode, WebhookSettings

    pages = {}
    for fmt in ("slack", "discord"):
        ch = WebhookSettings(
            mode=DeliveryMode.IMMEDIATE,
            digest_at="08:00",
            timezone="America/Mexico_City",
            quiet_hours=None,
            url="https://hooks.example/x",
            format=fmt,  # type: ignore[arg-type]
            secret=None,
            headers=(),
            timeout_s=5.0,
        )
        for path in write_preview(fmt, ch, tmp_path):
            message = json.loads(path.read_text())
            mock = slack_html(message) if fmt == "slack" else discord_html(message)
            target = path.with_suffix(".html")
            target.write_text(mock, encoding="utf-8")
            pages[target.name] = target
    with serve(tmp_path) as base, chromium() as driver:
        for name in ("slack-alert-2.html", "discord-alert-3.html", "slack-digest.html"):
            driver.get(base + name)
            text = driver.find_element("tag name", "body").text
            assert re.search(r"MOCK rendering", text)
            # headline, outlet with its language, the snippet, the reason
            assert "(es)" in text or "(en)" in text
            assert "Why: mentions" in text
            if SHOTS and name != "slack-digest.html":
                shot = "slack-alert.png" if name.startswith("slack") else "discord-alert.png"
                screenshot(driver, Path(SHOTS) / shot, width=700)
