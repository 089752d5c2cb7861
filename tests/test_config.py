from pathlib import Path

import pytest

from tracker.config import loader as config
from tracker.errors import ConfigError

from conftest import ROOT, run_cli


def test_shipped_config_is_valid_and_useful() -> None:
    cfg = config.load(ROOT / "config.yaml")
    assert len(cfg.feeds) >= 9
    langs = {f.lang for f in cfg.feeds}
    assert {"en", "es"} <= langs
    assert set(cfg.topics) == {"nafta-rounds", "steel-tariffs", "border-wall"}
    assert all(f.url.startswith(("http://", "https://")) for f in cfg.feeds)


def test_defaults_apply(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(
        """
        defaults: {interval: 10m}
        feeds:
          - url: https://a.example/feed
          - url: https://b.example/rss
            interval: 90s
            alert_on_first_poll: true
        """
    )
    cfg = config.load(path)
    a, b = cfg.feed_specs()
    assert (a.name, a.interval_s, a.alert_on_first_poll) == ("a.example/feed", 600, False)
    assert (b.interval_s, b.alert_on_first_poll) == (90, True)
    assert cfg.database_path == path.parent / "tracker.db"


def test_every_problem_is_reported_with_key_path_and_line(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(
        """
        feeds:
          - url: https://a.example/feed
          - url: https://b.example/feed
          - url: https://c.example/feed
          - url: https://d.example/feed
            interval: 5 minuts
        fetch:
          concurency: 10
        topics:
          wall:
            query: '"border wall"'
            feeds: [nowhere]
        """
    )
    with pytest.raises(ConfigError) as info:
        config.load(path)
    err = info.value
    assert len(err.problems) == 3, err.problems
    text = str(err)
    assert "line 7: feeds[3].interval: invalid duration '5 minuts' (use 30s, 15m, 2h)" in text
    assert "line 9: fetch.concurency: unknown key (did you mean 'concurrency'?)" in text
    assert "topics.wall.feeds[0]: no feed named or at 'nowhere'" in text


def test_yaml_syntax_error_gives_line(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config("feeds:\n  - url: [unclosed\n")
    with pytest.raises(ConfigError, match=r"invalid YAML at line \d+, column \d+"):
        config.load(path)


def test_top_level_must_be_mapping(write_config) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        config.load(write_config("- a\n- b\n"))


def test_missing_file_has_hint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found") as info:
        config.load(tmp_path / "nope.yaml")
    assert "TRACKER_CONFIG" in str(info.value)


def test_env_substitution(write_config, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FEED_HOST", "news.example")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    path = write_config(
        """
        database: ${DB_DIR:-/tmp/x}/t.db
        feeds:
          - url: https://${FEED_HOST}/rss
            headers: {X-Price: "$$5"}
        """
    )
    cfg = config.load(path)
    assert cfg.feeds[0].url == "https://news.example/rss"
    assert cfg.feeds[0].headers == {"X-Price": "$5"}
    assert str(cfg.database_path) == "/tmp/x/t.db"
    bad = write_config("feeds:\n  - url: https://${NOT_SET_ANYWHERE}/rss\n", "bad.yaml")
    with pytest.raises(
        ConfigError,
        match=r"line 2: feeds\[0\]\.url: environment variable "
        r"NOT_SET_ANYWHERE is not set",
    ):
        config.load(bad)


def test_password_file_relative_to_config_and_credentials_dir(
    write_config,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    (tmp_path / "feed.pass").write_text("s3cret\n")
    path = write_config(
        """
        feeds:
          - url: https://paywalled.example/rss
            auth: {username: me, password_file: feed.pass}
        """
    )
    cfg = config.load(path)
    assert cfg.feed_auth("https://paywalled.example/rss") == ("me", "s3cret")
    assert cfg.secrets() == ["s3cret"]
    assert "s3cret" not in repr(cfg)

    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "feed.pass").write_text("from-systemd")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert config.load(path).feed_auth("https://paywalled.example/rss") == ("me", "from-systemd")


def test_unreadable_password_file(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(
        """
        feeds:
          - url: https://p.example/rss
            auth: {username: me, password_file: /nonexistent/pass}
        """
    )
    with pytest.raises(ConfigError, match=r"feeds\[0\]\.auth: cannot read password_file"):
        config.load(path)


def test_duplicate_feeds_and_bad_urls(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(
        """
        feeds:
          - url: https://a.example/feed
          - url: https://a.example/feed
          - url: ftp://a.example/feed
        """
    )
    with pytest.raises(ConfigError) as info:
        config.load(path)
    text = str(info.value)
    assert "feeds[1].url: duplicate of feeds[0]" in text
    assert "feeds[2].url: invalid feed URL 'ftp://a.example/feed'" in text


@pytest.mark.slow
def test_check_command_reports_three_mistakes_and_fails(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(
        """
        feeds:
          - url: https://a.example/feed
            interval: soon
          - url: not-a-url
        defaults:
          max_age: forever
        """
    )
    result = run_cli("--config", str(path), "check")
    assert result.returncode == 2
    assert "3 problems" in result.stderr
    assert "feeds[0].interval" in result.stderr
    assert "feeds[1].url" in result.stderr
    assert "defaults.max_age" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_check_command_prints_summary() -> None:
    result = run_cli("--config", str(ROOT / "config.yaml"), "check")
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert "topics: 3" in result.stdout
    assert "Mexico News Daily" in result.stdout


def test_hostile_or_odd_values_are_reported_not_crashed(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(
        """
        feeds:
          - url: https://bob:hunter2-secret@news.example/rss
          - url: http://[::1
        topics:
          t: {query: x, rate_limit: 0/h, notify: [[nested]], feeds: [{a: 1}]}
        delivery: {admin: [ops]}
        """
    )
    with pytest.raises(ConfigError) as info:
        config.load(path)
    text = str(info.value)
    assert "feeds[0].url: the feed URL contains credentials; move them to feeds[].auth" in text
    assert "hunter2" not in text
    assert "topics.t.rate_limit: invalid rate limit '0/h'" in text
    assert "delivery.admin" in text and "feeds[1].url" in text


def test_self_referencing_yaml(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config("a: &x [*x]\n")
    with pytest.raises(ConfigError):
        config.load(path)


def test_tokens_in_feed_query_strings_are_secrets(tmp_path: Path) -> None:
    cfg = config.parse(
        "feeds:\n  - url: 'https://p.example/feed?lang=en&api_key=abc123def&Token=zz9-zz9'\n",
        tmp_path,
    )
    secrets = cfg.secrets()
    assert "abc123def" in secrets and "zz9-zz9" in secrets
    assert "en" not in secrets  # an ordinary parameter stays readable in logs
    encoded = config.parse(
        "feeds:\n  - url: 'https://p.example/feed?token=Zm9vYmFy%2Bc2VjcmV0%3D%3D'\n", tmp_path
    )
    # As the URL is written (log lines) and decoded (what a server may echo).
    assert {"Zm9vYmFy%2Bc2VjcmV0%3D%3D", "Zm9vYmFy+c2VjcmV0=="} <= set(encoded.secrets())


@pytest.mark.parametrize("name", ["admin", "Admin"])
def test_a_topic_cannot_take_the_name_admin_notices_carry(write_config, name: str) -> None:  # type: ignore[no-untyped-def]
    # A notice would be filed with that topic's alerts (List-Id, X-Tracker-Topic, payloads).
    path = write_config(
        f"""
        feeds:
          - url: https://a.example/feed
        topics:
          {name}:
            query: wall
        """
    )
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert f"topics.{name}: '{name}' is the name admin notices carry" in str(info.value)
    check = run_cli("--config", str(path), "check")
    assert check.returncode == 2 and "rename it" in check.stdout + check.stderr


def test_shrink_problems_empty_all_gone_more_than_half() -> None:
    from tracker.config.checks import has_shrink_marker, shrink_problems

    four, two = {"a", "b", "c", "d"}, {"t1", "t2"}
    assert shrink_problems(four, two, {"a", "b"}, two) == []  # half is an edit
    assert shrink_problems({"a"}, two, {"z"}, two) == []  # the one feed replaced
    (halved,) = shrink_problems(four, two, {"a"}, two)
    assert (halved.key, halved.confirmable) == ("feeds", True)
    assert halved.message == "removes 3 of 4 feeds (more than half)"
    (no_topics,) = shrink_problems(four, two, four, set())
    assert no_topics.message == "no topics left (the running config has 2)"
    (empty,) = shrink_problems(four, two, set(), set())
    assert (empty.key, empty.confirmable) == ("config", False)
    assert shrink_problems(set(), set(), set(), set()) == []  # nothing was running
    assert has_shrink_marker("feeds: []\n  #  tracker: allow-shrink \n")
    assert not has_shrink_marker("feeds: [] # tracker: allow-shrink\n")
