"""README's configuration reference, generated from the schema (``make docs`` runs cog).

Every key's meaning is its field's docstring in schema.py (the string right after the field,
read from the module's source: :func:`description`) and its default is the field's own, so
the reference cannot drift from the code. A docstring may end in a ``Default: …``
paragraph: the text shown instead of a default that only says "unset" (``None`` or an empty
list), where unset means something, e.g. ``Default: `defaults.interval```.
"""

from __future__ import annotations

import ast
import functools
import inspect
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo

from tracker.config import schema
from tracker.config.schema import Config
from tracker.units import format_duration, format_size, parse_duration, parse_size

_SHOWN_DEFAULT = "\n\nDefault: "


@dataclass(frozen=True)
class Row:
    """One key of the reference."""

    key: str
    default: str
    meaning: str


def table(section: str = "", kind: str | None = None) -> str:
    """The Markdown table of one section: ``""`` (the top level), a top-level key such as
    ``"feeds"``, or ``("channels", "email")`` for the keys only that channel kind has."""
    lines = ["| key | default | meaning |", "|---|---|---|"]
    for row in rows(section, kind):
        cells = (f"`{row.key}`", row.default, row.meaning)
        lines.append("|" + "|".join(f" {_escape(c)} " if c else " " for c in cells) + "|")
    return "\n".join(lines) + "\n"


def _escape(cell: str) -> str:
    """A table cell's text: a ``|`` would end the cell."""
    return cell.replace("|", "\\|")


def rows(section: str = "", kind: str | None = None) -> list[Row]:
    """The rows of :func:`table`, in the schema's field order."""
    if not section:
        return list(_model_rows(Config, "", nested=False))
    field = Config.model_fields[section]
    origin = typing.get_origin(field.annotation)
    prefix = section + ("[]." if origin is list else ".<name>." if origin is dict else ".")
    union = _models_of(field.annotation)
    if not union:
        raise ValueError(f"{section!r} has no keys of its own: see the top-level table")
    if len(union) == 1:
        return list(_model_rows(union[0], prefix, nested=True))
    discriminator = _discriminator(field.annotation)
    if kind is None:
        return [_kind_row(union, discriminator, prefix), *_model_rows(_common_base(union), prefix)]
    return list(_kind_rows(union, discriminator, prefix, kind))


def _model_rows(model: type[BaseModel], prefix: str, nested: bool = True) -> Iterator[Row]:
    """A row per field of ``model``; with ``nested``, the fields of a sub-model follow its own."""
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        key = prefix + (field.alias or name)
        meaning, shown = _split(model, name)
        yield Row(key, shown or _default(field), meaning)
        subs = _models_of(field.annotation)
        if nested and len(subs) == 1 and typing.get_origin(field.annotation) not in (list, dict):
            yield from _model_rows(subs[0], key + ".")


def _kind_row(union: list[type[BaseModel]], discriminator: str, prefix: str) -> Row:
    """The discriminator's row: ``type`` is required and names every kind."""
    kinds = [f"`{_kind(m, discriminator)}`" for m in union]
    listed = ", ".join(kinds[:-1]) + f" or {kinds[-1]}" if len(kinds) > 1 else kinds[0]
    return Row(prefix + discriminator, "required", listed + ".")


def _kind_rows(
    union: list[type[BaseModel]], discriminator: str, prefix: str, kind: str
) -> Iterator[Row]:
    """The keys a kind adds to the common ones, unless an earlier kind's table has them.

    A key several kinds share is one row: its meanings joined, and its default per kind
    when they differ ("`30s` (email), `10s` (webhook)").
    """
    common = set(_common_base(union).model_fields) | {discriminator}
    index = [_kind(m, discriminator) for m in union].index(kind)
    shown = {n for m in union[:index] for n in m.model_fields}
    for name, field in union[index].model_fields.items():
        if name in common or name in shown:
            continue
        sharing = [m for m in union[index:] if name in m.model_fields]
        splits = [_split(m, name) for m in sharing]
        meanings = list(dict.fromkeys(meaning for meaning, _ in splits))
        defaults = [
            shown or _default(m.model_fields[name])
            for m, (_, shown) in zip(sharing, splits, strict=True)
        ]
        if len(set(defaults)) == 1:
            default = defaults[0]
        else:
            default = ", ".join(
                f"{d} ({_kind(m, discriminator)})" for d, m in zip(defaults, sharing, strict=True)
            )
        yield Row(prefix + (field.alias or name), default, " ".join(meanings))


def _split(model: type[BaseModel], name: str) -> tuple[str, str]:
    """A field's meaning (one line) and the shown default its docstring gives, if any."""
    meaning, _, shown = description(model, name).partition(_SHOWN_DEFAULT)
    return " ".join(meaning.split()), shown.strip()


def description(model: type[BaseModel], name: str) -> str:
    """Field ``name``'s docstring, from the class of ``model`` (or the nearest base) that
    declares it; ``""`` when it has none."""
    docs = _docstrings()
    for cls in model.__mro__:
        if name in getattr(cls, "__annotations__", {}):
            return docs.get(cls.__name__, {}).get(name, "")
    return ""


@functools.cache
def _docstrings() -> dict[str, dict[str, str]]:
    """Each schema class's field docstrings, by class and field name: the string literal
    right after an annotated assignment (the convention pydantic's use_attribute_docstrings
    reads, cleaned the same way)."""
    found: dict[str, dict[str, str]] = {}
    for node in ast.parse(inspect.getsource(schema)).body:
        if not isinstance(node, ast.ClassDef):
            continue
        docs = found.setdefault(node.name, {})
        for field, after in zip(node.body, node.body[1:], strict=False):
            if (
                isinstance(field, ast.AnnAssign)
                and isinstance(field.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[field.target.id] = inspect.cleandoc(after.value.value)
    return found


def _default(field: FieldInfo) -> str:
    """The field's default in the form config.yaml takes it: ``15m``, ``10MB``, ``false``."""
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "none"
    if isinstance(value, BaseModel):
        return ""  # a section: its keys have their own rows
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif _has_validator(field, parse_duration):
        text = format_duration(value)
    elif _has_validator(field, parse_size):
        text = format_size(value)
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, list | dict) and not value:
        text = "[]" if isinstance(value, list) else "{}"
    elif isinstance(value, Path | str | int | float):
        text = str(value)
    else:
        raise TypeError(f"no display form for the default {value!r}")
    return f"`{text}`"


def _has_validator(field: FieldInfo, func: Any) -> bool:
    """Whether the field's type runs ``func`` first (``Duration`` and ``Size`` do)."""

    def found(metadata: list[Any]) -> bool:
        return any(isinstance(m, BeforeValidator) and m.func is func for m in metadata)

    def walk(tp: Any) -> bool:
        if typing.get_origin(tp) is Annotated and found(list(tp.__metadata__)):
            return True
        return any(walk(arg) for arg in typing.get_args(tp))

    return found(field.metadata) or walk(field.annotation)


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    """Every model inside an annotation: one for a sub-model, several for a union of kinds."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += [m for m in _models_of(arg) if m not in found]
    return found


def _discriminator(annotation: Any) -> str:
    """The field that tells a union's kinds apart (``type`` for channels)."""
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is Annotated:
            for meta in arg.__metadata__:
                if isinstance(meta, FieldInfo) and isinstance(meta.discriminator, str):
                    return meta.discriminator
        elif typing.get_args(arg):
            return _discriminator(arg)
    raise TypeError(f"{annotation} is not a discriminated union")


def _common_base(union: list[type[BaseModel]]) -> type[BaseModel]:
    """The most derived model every kind inherits from: it holds the keys they share."""
    for base in union[0].__mro__:
        if issubclass(base, BaseModel) and all(issubclass(m, base) for m in union):
            return base
    raise TypeError(f"{union} have no common model")  # BaseModel always is one


def _kind(model: type[BaseModel], discriminator: str) -> str:
    """The discriminator's value for one kind, e.g. ``email``."""
    annotation = model.model_fields[discriminator].annotation
    if typing.get_origin(annotation) is not Literal:
        raise TypeError(f"{model.__name__}.{discriminator} is not a Literal")
    return str(typing.get_args(annotation)[0])
