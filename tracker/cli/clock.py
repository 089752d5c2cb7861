"""Times as the CLI prints them: in the user's local zone (or UTC), always with its name."""

from __future__ import annotations

from datetime import UTC, datetime

import click


def stamp(ts: float, utc: bool = False) -> str:
    """``2026-12-02 10:20 CST``: local time with its zone abbreviation, or UTC."""
    when = datetime.fromtimestamp(ts, UTC) if utc else datetime.fromtimestamp(ts).astimezone()
    return f"{when:%Y-%m-%d %H:%M} {when.tzname() or when.strftime('%z')}"


def _set_utc(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(dict)["utc"] = True


# `--utc` before or after the command name, like --config.
utc_option = click.option(
    "--utc",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_set_utc,
    help="Print times in UTC instead of the local zone.",
)


def wants_utc(ctx: click.Context) -> bool:
    obj = ctx.find_root().obj
    return bool(isinstance(obj, dict) and obj.get("utc"))
