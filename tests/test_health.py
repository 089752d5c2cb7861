"""/metrics and /healthz served for real on 127.0.0.1, scraped with httpx."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tracker.service.http import (
    HealthServer,
    Metrics,
    all_of,
)
from tracker.store.sqlite.probe import database_writable
from tracker.units import parse_listen_address


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition as {(name, sorted labels): value}."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _record(metrics: Metrics) -> None:
    metrics.poll("ok", 0.2)
    metrics.poll("ok", 0.3)
    metrics.poll("not_modified", 0.01)
    metrics.poll("failed", 40.0)
    metrics.new_articles(5)
    metrics.new_articles(2)
    metrics.match("tariffs")
    metrics.match("tariffs")
    metrics.match("border wall")
    metrics.delivery("email", "sent")
    metrics.delivery("email", "retry")
    metrics.delivery("ntfy", "dead")
    metrics.set_outbox_depth(4)
    metrics.set_feeds_failing(2)
    metrics.tick(1_780_000_000.5)


def test_metrics_are_scraped_with_their_values() -> None:
    metrics = Metrics(topics=["tariffs", "nafta"], channels=["email"])
    _record(metrics)

    async def scrape() -> list[httpx.Response]:
        server = HealthServer(metrics, lambda: (True, "ok"), host="127.0.0.1", port=0)
        await server.start()
        try:
            assert server.port
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
                plain = await client.get("/metrics")
                openmetrics = await client.get(
                    "/metrics", headers={"Accept": "application/openmetrics-text"}
                )
                return [plain, openmetrics]
        finally:
            await server.stop()

    plain, openmetrics = asyncio.run(scrape())
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    samples = _samples(plain.text)
    assert samples[("tracker_polls_total", (("result", "ok"),))] == 2
    assert samples[("tracker_polls_total", (("result", "not_modified"),))] == 1
    assert samples[("tracker_polls_total", (("result", "failed"),))] == 1
    assert samples[("tracker_fetch_seconds_count", ())] == 4
    assert samples[("tracker_fetch_seconds_bucket", (("le", "0.25"),))] == 2
    assert samples[("tracker_fetch_seconds_bucket", (("le", "+Inf"),))] == 4
    assert samples[("tracker_fetch_seconds_sum", ())] == pytest.approx(40.51)
    assert samples[("tracker_new_articles_total", ())] == 7
    assert samples[("tracker_matches_total", (("topic", "tariffs"),))] == 2
    assert samples[("tracker_matches_total", (("topic", "border wall"),))] == 1
    assert samples[("tracker_matches_total", (("topic", "nafta"),))] == 0  # declared up front
    email = (("channel", "email"),)
    assert samples[("tracker_deliveries_total", (*email, ("status", "sent")))] == 1
    assert samples[("tracker_deliveries_total", (*email, ("status", "retry")))] == 1
    assert samples[("tracker_deliveries_total", (*email, ("status", "dead")))] == 0
    assert samples[("tracker_deliveries_total", (("channel", "ntfy"), ("status", "dead")))] == 1
    assert samples[("tracker_outbox_depth", ())] == 4
    assert samples[("tracker_feeds_failing", ())] == 2
    assert samples[("tracker_last_tick_timestamp_seconds", ())] == 1_780_000_000.5
    # render() is the same exposition, for callers without the listener.
    assert _samples(metrics.render().decode()) == samples


def test_metrics_have_their_own_registry() -> None:
    # Two instances (a reload, or two tests) must not clash over metric names.
    first, second = Metrics(), Metrics()
    first.new_articles(3)
    assert _samples(second.render().decode())[("tracker_new_articles_total", ())] == 0


def test_unknown_label_values_are_refused() -> None:
    metrics = Metrics()
    with pytest.raises(ValueError, match="unknown poll result"):
        metrics.poll("maybe", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown delivery status"):
        metrics.delivery("email", "lost")  # type: ignore[arg-type]


def test_healthz_follows_the_check() -> None:
    state: dict[str, object] = {"ok": True, "reason": "ok"}

    def check() -> tuple[bool, str]:
        if state.get("raise"):
            raise RuntimeError("boom")
        return bool(state["ok"]), str(state["reason"])

    async def probe() -> list[httpx.Response]:
        server = HealthServer(Metrics(), check, port=0)
        await server.start()
        responses = []
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
                responses.append(await client.get("/healthz"))
                state.update(ok=False, reason="scheduler stalled: no tick for 95s")
                responses.append(await client.get("/healthz"))
                state.update(ok=True, reason="ok")
                responses.append(await client.get("/healthz"))
                state["raise"] = True
                responses.append(await client.get("/healthz"))
                responses.append(await client.get("/nothing-here"))
        finally:
            await server.stop()
        return responses

    healthy, stalled, recovered, broken, missing = asyncio.run(probe())
    assert healthy.status_code == 200
    assert healthy.headers["content-type"].startswith("application/json")
    assert healthy.json() == {"status": "ok"}
    assert stalled.status_code == 503
    assert stalled.json() == {
        "status": "unhealthy",
        "reason": "scheduler stalled: no tick for 95s",
    }
    assert recovered.status_code == 200
    assert broken.status_code == 503
    assert broken.json()["reason"] == "health check failed: RuntimeError('boom')"
    assert missing.status_code == 404


def test_stop_closes_the_port_and_a_taken_port_fails_to_start() -> None:
    async def scenario() -> None:
        server = HealthServer(Metrics(), lambda: (True, "ok"), port=0)
        await server.start()
        assert server.port is not None
        clash = HealthServer(Metrics(), lambda: (True, "ok"), port=server.port)
        with pytest.raises(OSError):
            await clash.start()
        await server.stop()
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{server.port}/healthz")

    asyncio.run(scenario())


def test_all_of_reports_the_first_failure() -> None:
    ok = lambda: (True, "ok")  # noqa: E731
    stalled = lambda: (False, "scheduler stalled")  # noqa: E731
    locked = lambda: (False, "database locked")  # noqa: E731
    assert all_of(ok, ok)() == (True, "ok")
    assert all_of(ok, stalled, locked)() == (False, "scheduler stalled")


def _database(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=wal")
        conn.execute("CREATE TABLE t (x)")
    return path


def test_database_writable(tmp_path: Path) -> None:
    db = _database(tmp_path / "tracker.db")
    assert database_writable(db) == (True, "ok")
    # The check writes nothing: the data and the schema version are untouched.
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (0,)


def test_database_missing_or_a_directory(tmp_path: Path) -> None:
    ok, reason = database_writable(tmp_path / "missing.db")
    assert (ok, reason) == (False, f"database {tmp_path / 'missing.db'} does not exist")
    assert not (tmp_path / "missing.db").exists()  # the check never creates one
    ok, reason = database_writable(tmp_path)
    assert (ok, reason) == (False, f"database {tmp_path} is not a file")


def test_database_locked_by_a_stuck_writer(tmp_path: Path) -> None:
    db = _database(tmp_path / "tracker.db")
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        ok, reason = database_writable(db, timeout_s=0.05)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert not ok
    assert reason == f"database {db} is not writable: database is locked"


def test_database_on_a_read_only_file(tmp_path: Path) -> None:
    db = _database(tmp_path / "tracker.db")
    if os.geteuid() != 0:
        db.chmod(0o444)
        undo = None
    else:
        # Permissions do not stop root; the immutable flag does (if the filesystem has it).
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(db)]).returncode != 0:
            pytest.skip("running as root without chattr +i: cannot make a read-only file")
        undo = [chattr, "-i", str(db)]
    try:
        ok, reason = database_writable(db)
    finally:
        if undo:
            subprocess.run(undo, check=True)
    assert not ok
    assert reason.startswith(f"database {db} ")
    assert "readonly" in reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("[::1]:9464", ("::1", 9464)),
        (":9464", ("", 9464)),
        ("localhost:0", ("localhost", 0)),
        (" 0.0.0.0:80 ", ("0.0.0.0", 80)),
    ],
)
def test_parse_listen_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("127.0.0.1", "no port"),
        ("127.0.0.1:", "port must be a number from 0 to 65535"),
        ("127.0.0.1:http", "port must be a number from 0 to 65535"),
        ("127.0.0.1:65536", "port must be a number from 0 to 65535"),
        ("127.0.0.1:-1", "port must be a number from 0 to 65535"),
        ("::1:9464", "put an IPv6 address in brackets"),
        ("[::1:9464", "unbalanced brackets"),
        ("[nope]:9464", "'nope' is not an IPv6 address"),
    ],
)
def test_parse_listen_address_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_listen_address(text)
    assert str(caught.value).startswith(f"invalid listen address {text!r}: ")
    assert message in str(caught.value)
