"""What every command shares: loading the config, opening the database, errors as exit codes,
and printing untrusted text safely."""

from __future__ import annotations

import functools
import sys
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tracker.config import loader as config_mod
from tracker.config.schema import Config
from tracker.errors import ConfigError, TrackerError
from tracker.redact import Redactor
from tracker.text import clean_text
from tracker.units import format_duration

if TYPE_CHECKING:
    from tracker.store.facade import Store

F = TypeVar("F", bound=Callable[..., Any])

EXIT_ERROR = 1
EXIT_CONFIG = 2


def handle_errors(func: F) -> F:
    """Turn errors into one clear message (no traceback) and a non-zero exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            # A file that does not validate: mask what looks like a secret in it.
            echo(Redactor(exc.secrets)(f"error: {exc}"), err=True)
            sys.exit(EXIT_CONFIG)
        except TrackerError as exc:
            echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def _set_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(dict)["config_path"] = value


# Also accepted after the command name: `tracker topics test --config FILE …`.
config_option = click.option(
    "--config",
    "-c",
    type=click.Path(path_type=Path, dir_okay=False),
    expose_value=False,
    is_eager=True,
    callback=_set_config,
    help="Config file (overrides the one given before the command).",
)


def existing_store(config: Config, required: bool = False, write: bool = False) -> Store | None:
    """The database, for commands that use what a run stored; None (after saying so) when no
    run has created it yet, or an error when the command cannot do without it. Without
    ``write`` it is opened read-only (a read-only mount works), unless its schema is older
    than this tracker's, which only a writable open can migrate."""
    path, redact = config.database_path, Redactor(config.secrets())
    if path.exists():
        from tracker.store.facade import SCHEMA_VERSION, Store  # sqlite-utils: not for `check`

        if write:
            return Store(path, redact)
        store = Store(path, redact, read_only=True)
        if store.schema_version >= SCHEMA_VERSION:
            return store
        store.close()
        return Store(path, redact)
    message = f"no database yet at {config.database_path}: run `tracker run` first"
    if required:
        raise TrackerError(message)
    echo(message)
    return None


def load(ctx: click.Context) -> Config:
    """The config; from now on everything the command prints masks its secrets."""
    path: Path = ctx.obj["config_path"]
    config = config_mod.load(path)
    ctx.obj["redact"] = Redactor(config.secrets())
    folder = config.database_path.parent
    if not folder.is_dir():
        # Never created silently: a typo in the path would start an empty database.
        raise ConfigError(
            f"{path}: database: folder {folder} does not exist (create it, or fix the path)"
        )
    return config


def ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "never"
    delta = now - ts
    if delta < 0:
        return "in " + format_duration(round(-delta))
    return format_duration(round(delta)) + " ago"


def print_table(rows: Sequence[tuple[str, ...]]) -> None:
    """Aligned columns; the last one (an error message) is left ragged. Feed titles and
    server answers are untrusted: control characters (ANSI escapes) are shown as ``?``,
    NUL and bidirectional controls removed."""
    table = [tuple(printable(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        cells = [cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)]
        echo("  ".join([*cells, row[-1]]).rstrip())


def printable(text: str) -> str:
    """Text for the terminal: NUL and bidirectional controls removed (an override makes a
    title or an error read backwards), other control characters shown as ``?``."""
    text = clean_text(text)
    return "".join("?" if unicodedata.category(c) == "Cc" else c for c in text)


def echo(text: str, err: bool = False) -> None:
    """click.echo for text that may carry feed or server bytes: no control character but
    the line breaks reaches the terminal (an ESC could rewrite the screen), and no secret
    of the loaded config (nor a credential-like URL parameter) is shown."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    redact: Redactor = obj.get("redact", _NO_CONFIG) if isinstance(obj, dict) else _NO_CONFIG
    text = redact(text)
    click.echo("\n".join(printable(line) for line in text.split("\n")), err=err)


# Before a config is loaded there are no configured secrets, but URL credentials are masked.
_NO_CONFIG = Redactor()
