"""systemd/tracker.service: valid, sandboxed (exposure ≤ 2.0), and still able to do its job."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT

UNIT = ROOT / "systemd" / "tracker.service"
INSTALLED_BINARY = "/opt/tracker/bin/tracker"
MAX_EXPOSURE = 2.0

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def _settings() -> dict[str, list[str]]:
    """The [Service] settings, each key with every value it is given (keys may repeat)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]":
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=60)


def test_the_unit_is_a_watched_notify_service() -> None:
    s = _settings()
    assert s["Type"] == ["notify"]
    assert s["NotifyAccess"] == ["main"]
    assert s["WatchdogSec"] == ["60s"]
    assert s["Restart"] == ["on-failure"]
    assert s["ExecStart"] == [
        f"{INSTALLED_BINARY} --config ${{CONFIGURATION_DIRECTORY}}/config.yaml run"
    ]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["StateDirectory"] == ["tracker"] and s["ConfigurationDirectory"] == ["tracker"]
    assert s["DynamicUser"] == ["yes"]


def test_the_sandbox_leaves_what_the_daemon_needs() -> None:
    s = _settings()
    # Feeds and alert channels are on the network; the notify socket and journald are AF_UNIX.
    assert set(s["RestrictAddressFamilies"][0].split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert "IPAddressDeny" not in s and "PrivateNetwork" not in s
    # Everything is read-only except the state directory, which systemd makes writable.
    assert s["ProtectSystem"] == ["strict"]
    assert "ReadOnlyPaths" not in s and "InaccessiblePaths" not in s


@pytest.mark.slow
@needs_analyze
def test_security_exposure_is_at_most_two() -> None:
    result = _analyze("security", "--offline=yes", str(UNIT))
    found = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    assert found, result.stdout + result.stderr
    exposure = float(found.group(1))
    assert exposure <= MAX_EXPOSURE, result.stdout


@pytest.mark.slow
@needs_analyze
def test_unit_verifies(tmp_path: Path) -> None:
    # verify checks that ExecStart's binary exists; outside an install it does not, so a copy
    # of the unit points at this Python instead. Everything else is checked as shipped.
    copy = tmp_path / "tracker.service"
    copy.write_text(UNIT.read_text().replace(INSTALLED_BINARY, sys.executable))
    result = _analyze("verify", str(copy))
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stderr

    # And the shipped unit has no other complaint than the missing install.
    shipped = _analyze("verify", str(UNIT))
    complaints = [line for line in shipped.stderr.splitlines() if line.strip()]
    assert all(INSTALLED_BINARY in line for line in complaints), shipped.stderr


# MemoryDenyWriteExecute=yes kills nothing only if no library maps W+X memory (a JIT, ctypes
# callbacks). Linux ≥ 6.3 enforces the same rule per process (PR_SET_MDWE), so: run the
# libraries the daemon uses under it.
_UNDER_MDWE = textwrap.dedent(
    """
    import ctypes, sys
    PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0):
        sys.exit(77)
    import asyncio, sqlite3
    import ahocorasick, feedparser, httpx, nh3, yaml
    from tracker.service.http import HealthServer, Metrics

    rss = "<rss><channel><item><title>Steel tariffs</title></item></channel></rss>"
    feed = feedparser.parse(rss)
    assert feed.entries[0].title == "Steel tariffs"
    automaton = ahocorasick.Automaton()
    automaton.add_word("steel", 1)
    automaton.make_automaton()
    assert list(automaton.iter("steel tariffs"))
    assert nh3.clean("<b>x</b><script>y</script>") == "<b>x</b>"
    assert yaml.safe_load("a: 1") == {"a": 1}
    assert sqlite3.connect(":memory:").execute("select 1").fetchone() == (1,)

    async def main():
        server = HealthServer(Metrics(), lambda: (True, "ok"), port=0)
        await server.start()
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{server.port}/metrics")
        await server.stop()
        assert response.status_code == 200

    asyncio.run(main())
    print("ok")
    """
)


@pytest.mark.slow
def test_python_runs_under_memory_deny_write_execute() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _UNDER_MDWE], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    if result.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux < 6.3)")
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr
