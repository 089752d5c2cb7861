"""A fast start: each command imports only what it uses (the CLI's commands, the HTTP
listener, apscheduler, the notifiers' libraries are loaded lazily). Checked on the modules
a real `tracker` process ends with, not on timings (those are in bench/bench_start.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Runs the CLI in-process and, at exit, prints which of the watched modules got imported.
_PROBE = """
import atexit, json, sys
WATCH = {watch!r}
atexit.register(lambda: print(json.dumps(sorted(m for m in WATCH if m in sys.modules))))
sys.argv = ["tracker", *{argv!r}]
from tracker.cli.main import main
main()
"""

HEAVY = [
    "aiohttp",
    "aiohttp.web",
    "httpx",
    "pydantic",
    "yaml",
    "sqlite_utils",
    "feedparser",
    "apscheduler.schedulers.asyncio",
    "apscheduler.triggers.cron",
    "prometheus_client",
    "jinja2",
    "apprise",
    "tracker.service.http",
    "tracker.cli.notify",
    "defusedxml",
]


def _imported(argv: list[str], cwd: Path) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(watch=HEAVY, argv=argv)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.slow
def test_each_command_imports_only_what_it_needs(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        f"database: {tmp_path}/t.db\n"
        "feeds:\n  - url: http://127.0.0.1:9/feed.xml\n"
        "topics:\n  t: {query: tariffs}\n"
    )
    assert _imported(["--version"], tmp_path) == set()
    assert _imported(["check"], tmp_path) == {"pydantic", "yaml"}
    once = _imported(["run", "--once"], tmp_path)
    # What a one-shot poll cycle uses: config, the HTTP client, the store.
    assert {"pydantic", "yaml", "httpx", "aiohttp", "sqlite_utils"} <= once
    # What it does not: the metrics listener, the job scheduler, digests, notifiers, and
    # (its one feed refuses the connection) the parser, which only parse workers import.
    assert not once & {
        "feedparser",
        "aiohttp.web",
        "prometheus_client",
        "tracker.service.http",
        "apscheduler.schedulers.asyncio",
        "apscheduler.triggers.cron",
        "jinja2",
        "apprise",
        "tracker.cli.notify",
    }, once
