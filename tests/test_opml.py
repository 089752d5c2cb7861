"""OPML in and out: real exports of Miniflux, rss2email, Feedly and Inoreader (provenance in
tests/data/opml/SOURCES.tsv) read as feeds through ``feeds_from:``, written back by
`tracker feeds export`, and read again to the same feeds; malformed and unsafe files
rejected with their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.config import loader
from tracker.config.opml import OpmlError, parse_opml, read_opml, to_opml
from tracker.config.settings import to_settings
from tracker.errors import ConfigError

from conftest import run_cli

DATA = Path(__file__).parent / "data" / "opml"
SAMPLES = ["miniflux.opml", "rss2email.opml", "feedly.opml", "inoreader.opml"]


def test_the_samples_are_read_with_names_urls_and_folders() -> None:
    (mini,) = read_opml(DATA / "miniflux.opml")
    assert (mini.url, mini.title, mini.tags) == (
        "https://miniflux.app/feed.xml",
        "Miniflux",
        ("My category",),
    )
    (r2e,) = read_opml(DATA / "rss2email.opml")
    assert (r2e.url, r2e.title, r2e.tags) == ("https://example.com/feed.xml", "test", ())
    feedly = read_opml(DATA / "feedly.opml")
    assert len(feedly) == 389
    gowers = next(f for f in feedly if f.url == "http://gowers.wordpress.com/feed/")
    assert (gowers.title, gowers.tags) == ("Gowers's Weblog", ("math",))
    assert feedly[0].title == "Nature Structural & Molecular Biology"  # entities decoded
    ino = read_opml(DATA / "inoreader.opml")
    assert len(ino) == 17  # the commented-out outlines are not feeds
    assert {f.tags for f in ino} >= {("cs",), ("info",)}
    plos = next(f for f in feedly if f.title == "PLOS ONE Cell Biology")
    assert plos.url.endswith("sort=Date%2C+newest+first") and "&sort=" in plos.url


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"database: {tmp_path}/t.db\n{body}", encoding="utf-8")
    return path


@pytest.mark.parametrize("sample", SAMPLES)
def test_import_export_import_round_trips(sample: str, tmp_path: Path) -> None:
    (tmp_path / sample).write_bytes((DATA / sample).read_bytes())
    first = loader.load(_config(tmp_path, f"feeds_from: [{sample}]\n"))
    exported = to_opml((f.url, f.display_name, f.tags) for f in first.feeds)
    (tmp_path / "again.opml").write_text(exported, encoding="utf-8")
    again = loader.load(_config(tmp_path / ".", "feeds_from: [again.opml]\n"))

    def view(c: loader.Config) -> list[tuple[str, str, list[str]]]:
        return [(f.url, f.display_name, f.tags) for f in c.feeds]

    assert view(again) == view(first)
    assert len(first.feeds) == len({o.url for o in read_opml(DATA / sample)})


def test_feeds_from_merges_with_yaml_feeds_and_topics_name_tags(tmp_path: Path) -> None:
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "feedly.opml").write_bytes((DATA / "feedly.opml").read_bytes())
    cfg = _config(
        tmp_path,
        "feeds_from: [subs/feedly.opml]\n"
        "feeds:\n"
        "  - url: http://gowers.wordpress.com/feed/\n"
        "    name: Gowers\n"
        "topics:\n"
        "  maths: {query: theorem, feeds: [Journal, Gowers]}\n",
    )
    config = loader.load(cfg)
    gowers = [f for f in config.feeds if f.url == "http://gowers.wordpress.com/feed/"]
    assert [(f.name, f.tags) for f in gowers] == [("Gowers", [])]  # the YAML entry wins
    names = [f.display_name for f in config.feeds]
    assert len(names) == len(set(names))  # duplicate titles fall back to host and path
    settings = to_settings(config)
    # The folder "Journal" holds one feed; "Gowers" is the YAML feed's name.
    assert settings.topics["maths"].spec.feeds == (
        "Nature Structural & Molecular Biology",
        "Gowers",
    )


def test_a_topic_naming_an_unknown_tag_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "m.opml").write_bytes((DATA / "miniflux.opml").read_bytes())
    cfg = _config(tmp_path, "feeds_from: [m.opml]\ntopics:\n  t: {query: x, feeds: [Nope]}\n")
    with pytest.raises(ConfigError, match=r"topics.t.feeds\[0\]: no feed named or at 'Nope'"):
        loader.load(cfg)
    cfg.write_text(cfg.read_text().replace("Nope", "My category"))
    assert loader.load(cfg).topic_specs()[0].feeds == ("Miniflux",)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (b"<opml><body>\n<outline xmlUrl='https://a.example/rss'>\n</body></opml>", r"line 3"),
        (b"<html><body/></html>", r"line 1: not an OPML file \(its root is <html>\)"),
        (
            b'<?xml version="1.0"?>\n<!DOCTYPE opml [\n<!ENTITY a "aaaa">\n]>\n'
            b"<opml><body><outline text='&a;' xmlUrl='https://a.example/'/></body></opml>",
            r"refused: .*EntitiesForbidden|refused",
        ),
        (
            b"<opml><body>\n<outline text='x'/>\n<outline text='f' xmlUrl='ftp://a.example/'/>"
            b"\n</body></opml>",
            r"line 3: xmlUrl 'ftp://a.example/' is not an http\(s\) URL",
        ),
        (b"", r"not well-formed XML at line 1"),
    ],
)
def test_malformed_or_unsafe_opml_is_refused_with_its_line(text: bytes, error: str) -> None:
    with pytest.raises(OpmlError, match=error):
        parse_opml(text, "subs.opml")


def test_a_broken_opml_file_is_a_config_problem_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad.opml").write_bytes(b"<opml>\n<body>\n<outline text='a'\n</body></opml>")
    with pytest.raises(ConfigError) as info:
        loader.load(_config(tmp_path, "feeds_from: [bad.opml, missing.opml]\n"))
    problems = "\n".join(info.value.problems)
    assert "feeds_from[0]:" in problems and "bad.opml: not well-formed XML at line 4" in problems
    assert "feeds_from[1]: cannot read OPML file" in problems


@pytest.mark.slow
def test_feeds_export_writes_opml_the_config_reads_back(tmp_path: Path) -> None:
    (tmp_path / "ino.opml").write_bytes((DATA / "inoreader.opml").read_bytes())
    cfg = _config(
        tmp_path,
        "feeds_from: [ino.opml]\nfeeds:\n  - url: https://b.example/rss\n    tags: [x, y]\n",
    )
    out = tmp_path / "export.opml"
    result = run_cli("--config", str(cfg), "feeds", "export", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "18 feeds written" in result.stdout
    back = read_opml(out)
    assert back[0].url == "https://b.example/rss" and back[0].tags == ("x", "y")
    stdout = run_cli("--config", str(cfg), "feeds", "export")
    assert stdout.stdout == out.read_text(encoding="utf-8")
