"""`tracker run` as a subprocess for the tests that need the real daemon: its stderr goes to
a file in the config's folder, which the tests read as the daemon writes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


class Daemon:
    """`tracker run` in a subprocess, its stderr collected in a file."""

    def __init__(self, cfg: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = cfg.parent / f"daemon-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tracker", "--config", str(cfg), "run"],
            stderr=self._log,
            stdout=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            assert self.proc.poll() is None, f"daemon exited:\n{self.log}"
            time.sleep(0.05)
        raise AssertionError(f"timed out; log:\n{self.log}")

    def wait_log(self, text: str, timeout: float = 20) -> None:
        self.wait_for(lambda: text in self.log, timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Signal the daemon (SIGTERM: a clean stop) and wait for its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._log.close()
        return code

    def close(self) -> None:
        """Kill the daemon if it still runs: the cleanup of a test that stopped it itself,
        or that failed before it could."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
