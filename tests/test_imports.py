"""The architecture is enforced by import-linter's contracts (pyproject.toml): the stages
are layered, no package has an import cycle, and each library stays behind its module."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run the contracts on the package under ``root`` (PYTHONPATH puts it first)."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_every_contract() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # A backward edge: the store may not know the service that drives it.
        ("store/sqlite/feeds.py", "from tracker.service import daemon", "Stages are layered"),
        # A library outside its module: only the store talks to SQLite.
        ("topics/query.py", "import sqlite3", "Only the store talks to SQLite"),
        # Siblings of one layer stay independent: ingest and config.
        ("config/checks.py", "from tracker.ingest import fetch", "Stages are layered"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    shutil.copytree(ROOT / "tracker", tmp_path / "tracker")
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / "tracker" / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    result = _lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout
    broken = result.stdout.partition("Broken contracts")[2]
    assert contract in broken and f"tracker.{module[:-3].replace('/', '.')}" in broken


def test_config_checks_queries_without_the_matcher() -> None:
    # `tracker check` validates every topic query; the parser alone does that, so the
    # compiled matcher and its automaton library stay unloaded (and off the start time).
    code = (
        "import importlib, pkgutil, sys, tracker.config\n"
        "for module in pkgutil.iter_modules(tracker.config.__path__):\n"
        "    importlib.import_module(f'tracker.config.{module.name}')\n"
        "assert 'tracker.config.schema' in sys.modules\n"
        "loaded = {'ahocorasick', 'tracker.topics.matcher'} & set(sys.modules)\n"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_tests_use_public_names_only() -> None:
    """Tests import what tracker exports, not its private helpers (``_name``): a refactor
    that keeps behaviour may then rename anything private without touching a test."""
    import ast

    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tracker"):
                found += [
                    f"{path.name}: {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_")
                ]
    assert not found, found
