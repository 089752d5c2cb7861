"""The docs cannot drift: every config key, CLI command and module must be documented."""

import typing
from pathlib import Path

import click
from cogapp import Cog
from pydantic import BaseModel

from tracker.cli.main import cli
from tracker.config import reference
from tracker.config.schema import Config

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
ARCHITECTURE = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")


def _models_of(annotation: object) -> list[type[BaseModel]]:
    """Every pydantic model inside an annotation (a union of channel kinds gives several)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += [m for m in _models_of(arg) if m not in found]
    return found


def _keys(model: type[BaseModel], prefix: str) -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        key = f"{prefix}{field.alias or name}"
        keys.append(key)
        origin = typing.get_origin(field.annotation)
        for sub in _models_of(field.annotation):
            if origin is list:
                keys += _keys(sub, f"{key}[].")
            elif origin is dict:
                keys += _keys(sub, f"{key}.<name>.")
            else:
                keys += _keys(sub, f"{key}.")
    return sorted(set(keys))


def test_every_config_key_is_in_the_readme() -> None:
    keys = _keys(Config, "")
    assert "feeds[].auth.password_file" in keys and "topics.<name>.query" in keys
    missing = [k for k in keys if f"`{k}`" not in README]
    assert not missing, f"README.md does not document: {missing}"


def test_every_config_key_has_a_description() -> None:
    """The reference's meanings are the fields' docstrings (schema.py)."""
    undescribed = []
    for model in _all_models(Config):
        for name, field in model.model_fields.items():
            if not field.exclude and not reference.description(model, name).strip():
                undescribed.append(f"{model.__name__}.{name}")
    assert not undescribed, f"fields without a docstring: {undescribed}"


def _all_models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for field in model.model_fields.values():
        for sub in _models_of(field.annotation):
            found += [m for m in _all_models(sub) if m not in found]
    return found


def test_config_reference_is_generated_from_the_schema() -> None:
    """README's config tables are cog output; ``make docs`` brings them up to date."""
    assert README.count("[[[cog") >= 10
    status = Cog().main(["cog", "--check", str(ROOT / "README.md")])
    assert status == 0, "README.md's config reference is stale: run make docs"


def _commands(group: click.Group, prefix: str) -> list[str]:
    out = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # click's API: the CLI imports commands lazily
        command = group.get_command(ctx, name)
        out.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            out += _commands(command, f"{prefix} {name}")
    return out


def test_every_cli_command_is_in_the_readme() -> None:
    commands = _commands(cli, "tracker")
    assert "tracker run" in commands
    missing = [c for c in commands if f"`{c}" not in README]
    assert not missing, f"README.md does not document: {missing}"


def _documented_modules() -> set[str]:
    """The first cells of docs/ARCHITECTURE.md's module table."""
    section = ARCHITECTURE.partition("## Modules")[2].partition("\n## ")[0]
    return {
        line.split("|")[1].strip().strip("`")
        for line in section.splitlines()
        if line.startswith("| `")
    }


def _tree_modules() -> set[str]:
    """Every module of the package, as a path under tracker/ (packages' __init__ aside;
    a folder documented as a whole, such as ``delivery/channels/``, covers its modules)."""
    return {
        p.relative_to(ROOT / "tracker").as_posix()
        for p in (ROOT / "tracker").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    }


def test_architecture_module_table_matches_the_tree() -> None:
    documented = _documented_modules()
    folders = {d for d in documented if d.endswith("/")}
    tree = _tree_modules()
    missing = sorted(m for m in tree if m not in documented and not m.startswith(tuple(folders)))
    stale = sorted(d for d in documented - folders if d not in tree) + sorted(
        f for f in folders if not (ROOT / "tracker" / f).is_dir()
    )
    assert not missing, f"docs/ARCHITECTURE.md does not describe: {missing}"
    assert not stale, f"docs/ARCHITECTURE.md describes modules that do not exist: {stale}"


def test_quick_start_is_two_commands() -> None:
    assert "make run" in README and "make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_shipped_config_keys_are_documented() -> None:
    import yaml

    data = yaml.safe_load((ROOT / "config.yaml").read_text())
    for key in data:
        assert f"`{key}`" in README
    assert Path(ROOT / "systemd" / "tracker.service").exists()


def test_architecture_shows_the_contracts_layers() -> None:
    """The layer diagram in docs/ARCHITECTURE.md is the import-linter contract's, in order."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    block = ARCHITECTURE.partition("layers (pyproject.toml [tool.importlinter], highest first):")[2]
    shown = [line.strip() for line in block.partition("```")[0].splitlines() if line.strip()]
    assert shown == layers
