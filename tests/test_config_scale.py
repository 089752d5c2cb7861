"""Config handling at scale: linear work per feed (counted, not timed), libyaml's loader,
line numbers computed only for a file with problems, and a 100,000-feed config that loads.

Timings live in bench/bench_config.py; here the work is counted, so a slow machine cannot
fail the test and a quadratic step cannot pass it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml

from tracker.config import loader
from tracker.config.settings import to_settings
from tracker.errors import ConfigError
from tracker.service.daemon import poll_settings


def write_config(path: Path, feeds: int) -> Path:
    """``feeds`` feeds as a large user has them: names, some intervals and basic auth, some
    unnamed, and a topic restricted to two of them."""
    lines = [
        f"database: {path.parent / 't.db'}",
        "topics:",
        "  t1:",
        "    query: 'ukraine OR tariffs'",
        "    feeds: [Feed 1, Feed 7]",
        "feeds:",
    ]
    for i in range(feeds):
        lines.append(f"  - url: http://127.0.0.{1 + i % 8}:8080/f/{i}.xml")
        if i % 3:
            lines.append(f"    name: Feed {i}")
        if i % 10 == 0:
            lines.append("    interval: 30m")
        if i % 50 == 0:
            lines.append("    auth: {username: u, password: p}")
        if i % 70 == 0:
            lines.append("    headers: {X-Api-Key: abcdefghijklmnop}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _traced_lines(fn: Any) -> int:
    """How many Python lines ``fn()`` executes (every loop iteration counts): the work,
    whatever the machine's speed."""
    count = 0

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


def _build(path: Path) -> None:
    settings = to_settings(loader.load(path))
    poll_settings(settings)


def test_config_to_poller_work_is_linear_in_feeds(tmp_path: Path) -> None:
    small = write_config(tmp_path / "small.yaml", 400)
    large = write_config(tmp_path / "large.yaml", 1600)
    _build(small)  # first use: imports and caches are not the feeds' work
    a = _traced_lines(lambda: _build(small))
    b = _traced_lines(lambda: _build(large))
    # 4× the feeds: 4× the work, plus the fixed part; a step quadratic in the feeds (a scan
    # of every feed per feed) would make it 16×.
    assert b / a < 4.6, (a, b)


def test_reading_uses_libyaml_when_present() -> None:
    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML was built without libyaml here: the Python loader is the one")
    assert loader._Loader is yaml.CSafeLoader


def test_a_valid_file_is_composed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    composed: list[str] = []
    real = yaml.compose

    def compose(text: str, Loader: Any) -> Any:
        composed.append(text)
        return real(text, Loader=Loader)

    monkeypatch.setattr(yaml, "compose", compose)
    path = write_config(tmp_path / "c.yaml", 20)
    loader.load(path)
    assert composed == []  # line numbers are for problems only
    path.write_text(path.read_text() + "fetch: {concurency: 3}\n")
    with pytest.raises(ConfigError, match=r"line \d+: fetch.concurency: unknown key"):
        loader.load(path)
    assert len(composed) == 1


@pytest.mark.parametrize("name", ["CSafeLoader", "SafeLoader"])
def test_both_loaders_place_problems_on_the_same_lines(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not hasattr(yaml, name):
        pytest.skip(f"PyYAML has no {name} here")
    monkeypatch.setattr(loader, "_Loader", getattr(yaml, name))
    text = (
        "feeds:\n"
        "  - url: https://a.example/feed\n"
        "  - url: https://b.example/feed\n"
        "    interval: 5 minuts\n"
        "topics:\n"
        "  wall: {query: wall, feeds: [nowhere]}\n"
        "database: ${TRACKER_TEST_UNSET_VAR}\n"
    )
    with pytest.raises(ConfigError) as info:
        loader.parse(text, tmp_path)
    assert info.value.problems == [
        "line 4: feeds[1].interval: invalid duration '5 minuts' (use 30s, 15m, 2h)",
        "line 6: topics.wall.feeds[0]: no feed named or at 'nowhere'",
        "line 7: database: environment variable TRACKER_TEST_UNSET_VAR is not set",
    ]
    with pytest.raises(ConfigError, match=r"invalid YAML at line 3, column 1: .*expected ','"):
        loader.parse("feeds:\n  - url: [unclosed\n", tmp_path)


def test_env_references_still_substituted_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_TEST_HOST", "c.example")
    config = loader.parse(
        "feeds:\n"
        "  - url: https://${TRACKER_TEST_HOST}/feed\n"
        '    name: "price \\x24$5"\n'  # an escaped "$" takes part too
        "  - url: https://d.example/${TRACKER_TEST_UNSET:-rss}\n",
        tmp_path,
    )
    assert [f.url for f in config.feeds] == ["https://c.example/feed", "https://d.example/rss"]
    assert config.feeds[0].name == "price $5"


@pytest.mark.slow
def test_a_100000_feed_config_loads_and_builds(tmp_path: Path) -> None:
    path = write_config(tmp_path / "big.yaml", 100_000)
    settings = to_settings(loader.load(path))
    poll = poll_settings(settings)
    assert len(settings.feeds) == len(poll.feeds) == 100_000
    assert len(settings.feed_auth) == 2_000
    assert settings.feeds[3].name == "127.0.0.4:8080/f/3.xml"
    assert settings.feeds[4].name == "Feed 4"
    assert settings.topics["t1"].spec.feeds == ("Feed 1", "Feed 7")
