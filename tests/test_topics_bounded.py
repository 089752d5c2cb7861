"""`tracker topics test` on bad input, as a user runs it: every failure is one line naming
its source and exit 1 (never 70), the other sources are still tested, and the fetch and
the parse keep their limits (`fetch.deadline`, `parse.timeout`)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from rawserver import DripServer
from test_isolate import attribute_item, slow_feed

from conftest import run_cli

pytestmark = pytest.mark.slow

JSON_HEAD = b'{"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": ['

# The issue's inputs that exited 70 ("internal error") or lost the feed, each still read.
READABLE = {
    "surrogate-ns.xml": (
        b'<?xml version="1.0" encoding="utf-8"?>'
        b'<rss version="2.0" xmlns:dc="http://purl.org/\xed\xa0\x80dc/"><channel><title>x</title>'
        b"<item><title>kept</title><dc:creator>me</dc:creator></item></channel></rss>"
    ),
    "bad-byte.json": JSON_HEAD + b'{"id": "1", "title": "kept \xff"}]}',
    "deep.json": JSON_HEAD
    + b'{"id": "1", "title": "kept", "x": '
    + b"[" * 1000
    + b"]" * 1000
    + b"}]}",
    "digits.json": JSON_HEAD + b'{"id": ' + b"1" * 100_000 + b', "title": "kept"}]}',
}


def test_the_issues_bad_values_lose_only_themselves(tmp_path: Path) -> None:
    paths = []
    for name, body in READABLE.items():
        (tmp_path / name).write_bytes(body)
        paths.append(str(tmp_path / name))
    result = run_cli("topics", "test", "-q", "kept", *paths)
    assert result.returncode == 0, result.stderr
    for path in paths:
        assert f"{path}: 1 entries, 1 matched" in result.stdout


def test_each_failing_source_is_one_line_and_the_others_are_still_tested(
    tmp_path: Path,
) -> None:
    good = tmp_path / "good.xml"
    good.write_bytes(READABLE["surrogate-ns.xml"])
    garbage = tmp_path / "garbage.xml"
    garbage.write_bytes(b"\x00\x01 not a feed <<<")
    flood = tmp_path / "flood.xml"
    flood.write_bytes(attribute_item(100_000))
    missing = tmp_path / "missing.xml"
    started = time.monotonic()
    result = run_cli(
        "topics", "test", "-q", "kept", str(garbage), str(flood), str(missing), str(good)
    )
    assert time.monotonic() - started < 60
    assert result.returncode == 1, result.stderr
    errors = result.stderr.splitlines()
    assert len(errors) == 3, result.stderr
    assert errors[0].startswith(f"error: {garbage}: not a feed")
    assert errors[1] == f"error: {flood}: refused: an element has more than 1,000 attributes"
    assert errors[2].startswith(f"error: cannot read {missing}")
    assert f"{good}: 1 entries, 1 matched" in result.stdout


def test_a_slow_parse_stops_at_parse_timeout(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("parse: {timeout: 1s}\ntopics: {t: {query: t}}\n")
    slow = tmp_path / "slow.xml"
    slow.write_bytes(slow_feed(600))  # ~12 s of feedparser
    started = time.monotonic()
    result = run_cli("topics", "test", "--config", str(cfg), str(slow))
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert result.stderr == f"error: {slow}: parse exceeded 1s (parse.timeout)\n"


def test_a_url_source_is_fetched_within_fetch_deadline(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("fetch: {timeout: 5s, deadline: 1s}\ntopics: {t: {query: t}}\n")
    with DripServer() as drip:
        url = drip.url("/f.xml")
        started = time.monotonic()
        result = run_cli("topics", "test", "--config", str(cfg), url)
        took = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"error: {url}: ")
    assert "fetch.deadline" in result.stderr and len(result.stderr.splitlines()) == 1
    assert took < 10  # the drip never ends: without the deadline this would hang
