"""Load and validate config.yaml: every problem is reported at once, with key path and line.

``parse()`` reads YAML (keeping each key's line), substitutes ``${ENV}`` references, runs the
cross-key checks and the pydantic schema, and raises one ConfigError listing every problem.
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote_plus, urlsplit

import yaml
from pydantic import BaseModel, ValidationError

from tracker.config.checks import cross_key_problems
from tracker.config.paths import config_relative
from tracker.config.schema import Config, url_tokens
from tracker.errors import ConfigError
from tracker.heap import paused_gc
from tracker.redact import SECRET_PARAM

# libyaml's C loader reads a large file about ten times faster; the pure-Python one is the
# fallback where PyYAML was built without it. Both give the same data and the same marks.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _substitute_env(value: str, path: str, problems: list[str]) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, default = m.group(1), m.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        problems.append(f"{path}: environment variable {name} is not set")
        return ""

    return _ENV_REF.sub(repl, value)


def _walk_env(data: Any, path: str, problems: list[str]) -> Any:
    """``data`` with ``${ENV}`` substituted in every string: a copy, so that an aliased node is
    substituted once per use from its original text. Key paths are only spelled out for the
    strings that hold a ``$`` (a 100,000-feed file has no other use for them)."""
    return _walk(data, [path] if path else [], problems)


def _walk(data: Any, at: list[str | int], problems: list[str]) -> Any:
    if isinstance(data, str):
        if "$" not in data:
            return data
        path = ""
        for part in at:
            path = _join(path, part)
        return _substitute_env(data, path, problems)
    if isinstance(data, list):
        out: list[Any] = []
        for i, v in enumerate(data):
            at.append(i)
            out.append(_walk(v, at, problems))
            at.pop()
        return out
    if isinstance(data, dict):
        copy: dict[Any, Any] = {}
        for k, v in data.items():
            at.append(k)
            copy[k] = _walk(v, at, problems)
            at.pop()
        return copy
    return data


def _join(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _format_loc(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path = _join(path, part)
    return path


def _line_map(text: str) -> dict[str, int]:
    """Map each key path (``feeds[3].interval``) to its 1-based line in the YAML text."""
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, path: str) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = _join(path, key.value)
                lines[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, _join(path, i))

    root = yaml.compose(text, Loader=_Loader)
    if root is not None:
        walk(root, "")
    return lines


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """The allowed keys of the model found at ``loc`` (for did-you-mean hints)."""
    tp: Any = Config
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(part, int):
            args = typing.get_args(tp)
            tp = args[0] if args else None
        elif isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
            tp = tp.model_fields[part].annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [n for n, f in tp.model_fields.items() if not f.exclude]
    return []


def _unwrap(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else tp
    return tp


def _describe(err: Mapping[str, Any]) -> tuple[str, str]:
    loc: tuple[int | str, ...] = tuple(err["loc"])
    kind, msg = err["type"], str(err["msg"])
    if kind == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(allowed)})"
        return _format_loc(loc), f"unknown key{hint}"
    if kind == "missing":
        return _format_loc(loc), "required key is missing"
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return _format_loc(loc), msg


# Keys whose string values are secrets whatever their length (passwords, HMAC keys).
_SECRET_KEY = re.compile(r"password|secret|token|api_?key", re.I)


def raw_secrets(data: Any) -> tuple[str, ...]:
    """What looks like a secret in config data that may not validate: values of keys named
    like one, apprise URLs, long header values and webhook URL paths, credential-like
    URL parameters and URL passwords. ``Config.secrets()`` is exact, but only for a valid
    file; this is for masking the problems of a rejected one."""
    found: list[str] = []

    def walk(node: Any, key: str, parent: dict[Any, Any] | None) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k), node)
        elif isinstance(node, list):
            for item in node:
                walk(item, key, parent)
        elif isinstance(node, str) and node:
            kind = parent.get("type") if parent is not None else None
            if _SECRET_KEY.search(key) or (key == "url" and kind == "apprise"):
                found.append(node)
                if key == "url":
                    found.extend(url_tokens(node))
            elif key == "url" and kind == "webhook" and len(path := _path(node)) >= 12:
                found.append(path)
            elif parent is not None and len(node) >= 12 and _is_header(parent, key):
                found.append(node)
            found.extend(_url_secrets(node))

    walk(data, "", None)
    return tuple(dict.fromkeys(found))


def _is_header(parent: dict[Any, Any], key: str) -> bool:
    # Header maps hold header names: letters, digits and dashes, at least one dash or
    # named like a credential (X-Api-Key, Authorization).
    return "-" in key or key.lower() in ("authorization", "cookie")


def _path(url: str) -> str:
    try:
        return urlsplit(url).path
    except ValueError:
        return url  # not a URL we can split: all of it may be the token


def _url_secrets(text: str) -> list[str]:
    try:
        parts = urlsplit(text.strip())
        password = parts.password
    except ValueError:
        return []
    if not parts.scheme or not parts.netloc:
        return []
    found = [password] if password else []
    for pair in parts.query.split("&"):
        name, _, raw = pair.partition("=")
        if raw and SECRET_PARAM.search(unquote_plus(name)):
            found += [raw, unquote_plus(raw)]
    return found


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the config."""

    path: str
    message: str
    line: int | None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        sep = ": " if self.path else ""
        return f"{where}{self.path}{sep}{self.message}"


def _with_opml_feeds(data: dict[str, Any], base_dir: Path, found: list[tuple[str, str]]) -> Any:
    """``data`` with the feeds of its ``feeds_from:`` OPML files appended to ``feeds``.

    A feed the YAML lists already keeps its YAML entry; one listed twice across the OPML
    files (one feed in two folders) is one feed with both tags. A title another feed
    already goes by is not used as a name (the feed is called by host and path instead):
    feed readers allow duplicate titles, tracker's names are unique."""
    sources = data.get("feeds_from")
    if not isinstance(sources, list) or not sources:
        return data  # absent, or pydantic reports the wrong type
    from tracker.config.opml import OpmlError, read_opml  # the XML parser only when used

    yaml_feeds = data.get("feeds", [])
    if not isinstance(yaml_feeds, list):
        return data  # pydantic reports it
    taken_urls = {f.get("url", "").strip() for f in yaml_feeds if isinstance(f, dict)}
    taken_names = {f.get("name") for f in yaml_feeds if isinstance(f, dict)}
    merged: dict[str, dict[str, Any]] = {}
    for i, source in enumerate(sources):
        if not isinstance(source, str):
            continue
        try:
            outlines = read_opml(config_relative(Path(source), {"base_dir": base_dir}))
        except OpmlError as exc:
            found.append((f"feeds_from[{i}]", str(exc)))
            continue
        for o in outlines:
            if o.url in taken_urls:
                continue
            if (feed := merged.get(o.url)) is not None:
                feed["tags"] = list(dict.fromkeys([*feed["tags"], *o.tags]))
                continue
            feed = {"url": o.url, "tags": list(o.tags)}
            if o.title and o.title not in taken_names:
                feed["name"] = o.title
                taken_names.add(o.title)
            merged[o.url] = feed
    return {**data, "feeds": [*yaml_feeds, *merged.values()]}


def _validation_problems(exc: ValidationError) -> Iterator[tuple[str, str]]:
    for err in exc.errors():
        yield _describe(err)


def _nearest_line(path: str, lines: dict[str, int]) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        parent = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", path)
        if parent == path:
            return None  # a top-level key the map does not hold
        path = parent
    return None


_SELF_REFERENCE = "{source}: the YAML refers to itself (an alias inside its own anchor)"


def parse(text: str, base_dir: Path, source: str = "config") -> Config:
    """Validate config text; raise one ConfigError listing every problem found.

    Line numbers cost a second pass over the file (composing it into nodes), so that pass
    runs only when there is a problem to place."""
    with paused_gc():
        try:
            return _parse(text, base_dir, source)
        except RecursionError as exc:  # an alias inside its own anchor, met by any walk
            raise ConfigError(_SELF_REFERENCE.format(source=source)) from exc


def _parse(text: str, base_dir: Path, source: str) -> Config:
    try:
        raw = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}") from exc
    except RecursionError as exc:
        raise ConfigError(_SELF_REFERENCE.format(source=source)) from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys, not a list or value")
    env_problems: list[str] = []
    try:
        # Without a "$" in the text (nor a backslash, for a "\x24" escape) no value can
        # hold a reference: the walk would copy every node for nothing.
        data = raw if "$" not in text and "\\" not in text else _walk_env(raw, "", env_problems)
    except RecursionError as exc:
        raise ConfigError(_SELF_REFERENCE.format(source=source)) from exc
    found: list[tuple[str, str]] = [
        (path, message) for path, _, message in (p.partition(": ") for p in env_problems)
    ]
    data = _with_opml_feeds(data, base_dir, found)
    found += cross_key_problems(data)
    config: Config | None = None
    try:
        config = Config.model_validate(
            {**data, "base_dir": base_dir}, context={"base_dir": base_dir}
        )
    except ValidationError as exc:
        found += _validation_problems(exc)
    if found or config is None:
        try:
            lines = _line_map(text)  # the file parsed once already: only its shape is new
        except RecursionError:
            lines = {}
        problems = [Problem(path, msg, _nearest_line(path, lines)) for path, msg in found]
        problems.sort(key=lambda p: (p.line or 0, p.path))
        count = len(problems)
        raise ConfigError(
            f"{source}: {count} problem{'s' if count != 1 else ''}",
            [str(p) for p in problems],
            secrets=raw_secrets(data),
        )
    return config


def load(path: Path) -> Config:
    """Read and validate the config file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"config file not found: {path}", hint="pass --config FILE or set TRACKER_CONFIG"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    return parse(text, path.resolve().parent, source=str(path))
