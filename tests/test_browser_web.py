"""The status page in a real browser (headless Chromium), served by a real daemon over a
database that `run --once` filled from hostile local feeds: what each page shows, and that
the feeds' <script>, onerror=, javascript: and CSS payloads neither run nor change the page.

``TRACKER_SCREENSHOTS=docs/screenshots pytest tests/test_browser_web.py`` also writes the
README's screenshots of every page.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import chromium, needs_browser, screenshot
from webdata import fill

from feedserver import FeedServer
from smtpserver import free_port

pytestmark = [pytest.mark.slow, needs_browser]

SHOTS = os.environ.get("TRACKER_SCREENSHOTS")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("webui")
    with FeedServer() as server:
        config = fill(server, folder)
        port = free_port()
        text = config.read_text() + f"web:\n  listen: 127.0.0.1:{port}\n"
        config.write_text(text)
        log = (folder / "daemon.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "tracker", "--config", str(config), "run"],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=2).read()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise AssertionError((folder / "daemon.log").read_text()) from None
                    time.sleep(0.2)
            yield base, folder
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def _no_dialog(driver: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 (raises when no dialog is open)


def _untouched(driver: Any, page: str) -> None:
    """Nothing from a feed became markup: no dialog, script, image, style or injected node."""
    _no_dialog(driver)
    counts = driver.execute_script(
        "return ['script', 'img', 'style', 'iframe', 'object', '#injected', '[onerror]',"
        " '[onload]', '[onmouseover]', 'a[href^=\"javascript:\"]']"
        ".map(s => [s, document.querySelectorAll(s).length])"
    )
    assert all(n == 0 for _, n in counts), (page, counts)
    # The page's own stylesheet applies (the payload's body{display:none} does not).
    assert driver.execute_script("return getComputedStyle(document.body).display") == "block"
    assert driver.execute_script(
        "return document.styleSheets.length === 1"
        " && document.styleSheets[0].href.endsWith('/static/style.css')"
    ), page


def _story(folder: Path, where: str, arg: str) -> int:
    db = sqlite3.connect(folder / "tracker.db")
    row = db.execute(f"SELECT story_id FROM articles WHERE {where}", [arg]).fetchone()
    db.close()
    return int(row[0])


def test_every_page_shows_its_facts_and_no_payload_runs(site: tuple[str, Path]) -> None:
    base, folder = site
    hostile = _story(folder, "title LIKE ? || '%'", "Border wall <script>")
    wall = _story(folder, "url = ?", "https://news.example/wall")
    pages = {
        "overview": ("/", ["border-wall", "Polling", "failing", "hook"]),
        "stories": ("/stories", ["El Universal (es)", "The Times (en)", "border-wall"]),
        "story": (f"/stories/{wall}", ["Source:", "El Universal (es)", "began the story"]),
        "story-hostile": (
            f"/stories/{hostile}",
            ["Border wall <script>alert('title')</script> vote", "onmouseover=alert('name')"],
        ),
        "feeds": ("/feeds", ["Broken", "HTTP 500", "backoff after", "The Times"]),
        "alerts": ("/alerts?channel=hook", ["pending", "ConnectError", "border-wall"]),
        "query": ("/query?q=wall+OR+muro&days=3", ["matches in", "href=\"javascript:alert('a')\""]),
    }
    with chromium() as driver:
        for name, (path, expected) in pages.items():
            driver.get(base + path)
            text = driver.find_element("tag name", "body").text
            for fact in expected:
                assert fact in text, (name, fact, text)
            _untouched(driver, name)
            if name == "query":
                marks = driver.find_elements("tag name", "mark")
                assert marks and all(m.text.lower() in ("wall", "muro") for m in marks)
            if name == "overview":
                assert driver.find_elements("css selector", "svg.chart rect")
            if SHOTS and name != "story-hostile":
                screenshot(driver, Path(SHOTS) / f"web-{name}.png", width=1100)
        # The pager and the filters work without JavaScript: plain links and a GET form.
        driver.get(base + "/alerts")
        from selenium.webdriver.support.select import Select

        Select(driver.find_element("name", "status")).select_by_visible_text("pending")
        driver.find_element("css selector", "form.filters button").click()
        from selenium.webdriver.support.wait import WebDriverWait

        WebDriverWait(driver, 10).until(lambda d: "status=pending" in d.current_url)
        assert "sent" not in {
            e.text for e in driver.find_elements("css selector", "#alerts td.st-sent")
        }
        # Hovering the hostile link (its quote tried to break out into onmouseover) is inert.
        driver.get(base + "/query?q=click&days=3")
        from selenium.webdriver.common.action_chains import ActionChains

        link = driver.find_element("css selector", "#results a")
        assert link.get_attribute("href").startswith("https://evil.example/")
        ActionChains(driver).move_to_element(link).perform()
        _no_dialog(driver)


def test_the_csp_blocks_what_is_not_the_pages_own_and_reports_it(site: tuple[str, Path]) -> None:
    base, _ = site
    with chromium() as driver:
        driver.get(base + "/")
        # What a payload would try if it ever became markup: an inline script and a foreign
        # image. The CSP blocks both; the browser reports each to /csp-report.
        driver.execute_script(
            "const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
            "document.body.appendChild(s);"
            "const i = document.createElement('img'); i.src = 'http://127.0.0.1:9/pixel.gif';"
            "document.body.appendChild(i);"
        )
        assert driver.execute_script("return window.ran === undefined")
        deadline = time.monotonic() + 10
        reports: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            reports = json.loads(urllib.request.urlopen(base + "/csp-reports").read())
            directives = {r.get("csp-report", {}).get("effective-directive") for r in reports}
            if {"script-src-elem", "img-src"} <= directives:
                break
            time.sleep(0.2)
        directives = {r.get("csp-report", {}).get("effective-directive") for r in reports}
        assert {"script-src-elem", "img-src"} <= directives, reports
