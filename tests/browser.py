"""Headless Chromium for tests that look at HTML meant for people (Debian's chromium and
chromium-driver, driven by selenium), and a loopback server for the pages."""

from __future__ import annotations

import functools
import http.server
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

MISSING = (
    "needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver;"
    " .ci/run installs them)"
)


def browser_paths() -> tuple[str, str] | None:
    """(chromium, chromedriver), or None when either is missing."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
    )
    return (binary, driver) if binary and driver else None


needs_browser = pytest.mark.skipif(browser_paths() is None, reason=MISSING)


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A fresh headless Chromium that records its network requests (the performance log)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    paths = browser_paths()
    if paths is None:
        pytest.skip(MISSING)
    binary, driver_path = paths
    with tempfile.TemporaryDirectory(prefix="tracker-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        # No network here: background networking would only flood refused connections.
        for arg in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            f"--window-size={width},{height}",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
        try:
            yield driver
        finally:
            driver.quit()


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1; yields the base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def requested_urls(driver: Any, page: str) -> list[str]:
    """What ``page`` made the browser fetch since the last call (from the performance log):
    the page itself and everything it loads, but not the browser's own requests (its start
    page, the site's favicon, which no mail client asks for)."""
    import json

    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") != "Network.requestWillBeSent":
            continue
        params = message["params"]
        url = params["request"]["url"]
        if params.get("documentURL") != page or url.endswith("/favicon.ico"):
            continue
        urls.append(url)
    return urls


def screenshot(driver: Any, path: Path, width: int = 900) -> None:
    """A screenshot of the whole page at ``width`` CSS pixels (the viewport resized to it)."""
    metrics = {"width": width, "height": 100, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    metrics["height"] = min(int(height), 4000)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    path.write_bytes(driver.get_screenshot_as_png())
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
