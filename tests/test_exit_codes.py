"""Every command's main failure, through the CLI as a subprocess, exits as README's table says:
0 done, 1 a runtime error, 2 a config or usage error; 70 is kept for bugs."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from conftest import run_cli

pytestmark = pytest.mark.slow

README = (Path(__file__).parent.parent / "README.md").read_text()


def _config(tmp_path: Path, extra: str = "") -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"database: {tmp_path / 't.db'}\n"
        "feeds:\n  - url: http://127.0.0.1:9/feed\n"
        "topics:\n  wall:\n    query: wall\n"
        "channels:\n  hook:\n    type: webhook\n    url: http://127.0.0.1:9/hook\n"
        "    timeout: 2s\n" + extra
    )
    return cfg


def _documented() -> dict[str, int]:
    """README's exit-code table: the situation's words -> its code."""
    block = README.partition("### Exit codes")[2].partition("\n## ")[0]
    rows = re.findall(r"^\| `?(\d+)`? \| (.+?) \|$", block, re.M)
    return {text: int(code) for code, text in rows}


def test_readme_documents_the_three_codes() -> None:
    assert sorted(set(_documented().values())) == [0, 1, 2, 70]


def test_each_command_fails_with_the_documented_code(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds: [{url: ftp://x}]\n")
    not_a_db = tmp_path / "dir.db"
    not_a_db.mkdir()
    broken_db = tmp_path / "broken.yaml"
    broken_db.write_text(cfg.read_text().replace(str(tmp_path / "t.db"), str(not_a_db)))
    c = ("--config", str(cfg))
    cases: list[tuple[tuple[str, ...], int, str]] = [
        # config and usage errors: 2
        (("--config", str(bad), "check"), 2, "invalid feed URL"),
        (("--config", str(tmp_path / "missing.yaml"), "check"), 2, "config file not found"),
        (("--config", str(bad), "run", "--once"), 2, "problem"),
        (("--config", str(bad), "feeds"), 2, "problem"),
        ((*c, "alerts", "retry"), 2, "give delivery IDs or --dead"),
        ((*c, "notify", "test", "nope"), 2, "no channel named 'nope'"),
        ((*c, "topics", "backtest", "nope"), 2, "no topic named 'nope'"),
        ((*c, "topics", "test", "--query", "a AND (", "x.xml"), 2, "invalid --query"),
        ((*c, "no-such-command"), 2, "No such command"),
        # runtime errors: 1
        ((*c, "alerts", "retry", "1"), 1, "no database yet"),
        ((*c, "notify", "test", "hook"), 1, "hook: FAILED"),
        ((*c, "topics", "test", str(tmp_path / "missing.xml")), 1, "cannot read"),
        (("--config", str(broken_db), "feeds"), 1, "cannot open database"),
        # done: 0, even when feeds fail (news about the feeds, not a failed run)
        ((*c, "check"), 0, "OK"),
        ((*c, "run", "--once"), 0, "1 failed"),
    ]
    wrong = []
    for args, code, text in cases:
        out = run_cli(*args, timeout=60)
        if out.returncode != code or text not in out.stdout + out.stderr:
            wrong.append((args[2:], code, out.returncode, (out.stdout + out.stderr)[-300:]))
        assert "Traceback" not in out.stderr
    assert not wrong, wrong


def test_a_metrics_port_in_use_is_a_clear_error_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        cfg = _config(tmp_path, f"metrics: {{listen: '{listen}'}}\n")
        out = run_cli("--config", str(cfg), "run", timeout=60)
    assert out.returncode == 1, out.stderr
    assert f"error: metrics.listen {listen}: address already in use" in out.stderr
    assert "Traceback" not in out.stderr
