"""README's YAML examples go through the loader, as urlwatch tests its filter documentation.

A block is a whole config, or a fragment the test wraps into one (feed entries), chosen by
its top-level keys. A block after ``<!-- invalid -->`` shows a mistake and must be refused.
Environment variables and secret files an example names are provided in a temp dir.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tracker.config.loader import parse
from tracker.config.schema import Config
from tracker.errors import ConfigError

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
# An optional marker comment on the line before the fence: <!-- invalid -->.
BLOCK = re.compile(r"(?:<!--\s*(?P<mark>[\w-]+)\s*-->\n)?```yaml\n(?P<body>.*?)^```", re.S | re.M)
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")
SHIPPED = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))


def _examples() -> list[Any]:
    found = []
    for m in BLOCK.finditer(README):
        line = README.count("\n", 0, m.start("body")) + 1
        found.append(pytest.param(m.group("body"), m.group("mark"), id=f"README.md:{line}"))
    return found


def _as_config(data: Any) -> dict[str, Any]:
    """A whole config from an example: feed entries become ``feeds:``; topics that name feeds
    without defining any refer to the shipped config.yaml's feeds."""
    if isinstance(data, list):
        return {"feeds": data}
    assert isinstance(data, dict), f"a YAML example must be a mapping or a list: {data!r}"
    if "url" in data:
        return {"feeds": [data]}
    unknown = set(data) - set(Config.model_fields)
    assert not unknown, f"cannot tell what this example is part of: {sorted(unknown)}"
    if "topics" in data and "feeds" not in data:
        return {**data, "feeds": SHIPPED["feeds"]}
    return data


def _secret_files(data: Any) -> list[str]:
    """Every relative path under a ``*_file`` key."""
    if isinstance(data, list):
        return [p for item in data for p in _secret_files(item)]
    if not isinstance(data, dict):
        return []
    found = []
    for key, value in data.items():
        if str(key).endswith("_file") and isinstance(value, str):
            found.append(value)
        found += _secret_files(value)
    return found


def test_readme_has_examples() -> None:
    marks = [p.values[1] for p in _examples()]
    assert len(marks) >= 4 and "invalid" in marks
    assert set(marks) <= {None, "invalid"}, marks


@pytest.mark.parametrize(("text", "mark"), _examples())
def test_readme_yaml_example(
    text: str, mark: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    for name in ENV_REF.findall(text):
        monkeypatch.setenv(name, f"example-{name.lower()}")
    data = yaml.safe_load(text)
    for path in _secret_files(data):
        (tmp_path / path).write_text("example-secret\n", encoding="utf-8")
    config = _as_config(data)
    # An example that is a whole config is loaded as written, comments and all.
    source = text if config is data else yaml.safe_dump(config, allow_unicode=True)
    if mark == "invalid":
        with pytest.raises(ConfigError):
            parse(source, tmp_path, source="README.md")
    else:
        parse(source, tmp_path, source="README.md")


def test_fragments_are_wrapped_by_their_keys() -> None:
    feed = {"url": "https://example.org/feed"}
    assert _as_config([feed]) == {"feeds": [feed]}
    assert _as_config(feed) == {"feeds": [feed]}
    assert _as_config({"topics": {}})["feeds"] == SHIPPED["feeds"]
    with pytest.raises(AssertionError, match="part of"):
        _as_config({"query": "x"})
