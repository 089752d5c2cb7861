"""Delivery end to end: real SMTP (aiosmtpd), a real webhook receiver, the CLI as a subprocess."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import run_cli
from feedserver import FeedServer
from rss import Item, rss
from smtpserver import SMTPServer
from webhookserver import Receiver, start_receiver

# Every test here runs tracker as a subprocess (make test-fast skips them).
pytestmark = pytest.mark.slow

HOSTILE = "Hi\r\nBcc: victim@example.com"


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


@pytest.fixture
def hook() -> Iterator[Receiver]:
    receiver = start_receiver()
    yield receiver
    receiver.stop()


def _config(tmp_path: Path, feed_url: str, channels: str, extra: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"database: {tmp_path / 't.db'}\n"
        "defaults: {jitter: 0s}\n"
        f"feeds:\n  - url: {feed_url}\n    name: Wire\n"
        'topics:\n  wall:\n    query: \'"border wall" OR "muro fronterizo" OR hostile\'\n'
        f"channels:\n{channels}\n"
        "delivery: {max_attempts: 4, retry_base: 1s, retry_max: 5s}\n" + extra
    )
    return path


def _email_channel(smtp: SMTPServer, extra: str = "") -> str:
    return (
        "  team-email:\n    type: email\n    host: 127.0.0.1\n"
        f"    port: {smtp.port}\n    security: none\n"
        "    from: 'tracker <tracker@example.org>'\n    to: [desk@example.org]\n" + extra
    )


def _hook_channel(hook: Receiver, extra: str = "") -> str:
    return f"  ops-hook:\n    type: webhook\n    url: {hook.url}\n" + extra


def _baseline_then(feed_server: FeedServer, cfg: Path, path: str, new: list[Item]) -> None:
    """First run is the silent baseline; then the feed gains ``new`` items."""
    old = [Item("Old news", "https://n.example/old", "old")]
    feed_server.add(path, rss(old))
    assert run_cli("--config", str(cfg), "run", "--once").returncode == 0
    feed_server.add(path, rss(new + old))


def _statuses(cfg_dir: Path) -> list[tuple[str, int]]:
    conn = sqlite3.connect(cfg_dir / "t.db")
    try:
        return list(conn.execute("SELECT status, attempts FROM deliveries ORDER BY id"))
    finally:
        conn.close()


def test_email_alert_is_safe_multipart_and_idempotent(
    feed_server: FeedServer, smtp: SMTPServer, tmp_path: Path
) -> None:
    url = feed_server.url("/mail.xml")
    cfg = _config(tmp_path, url, _email_channel(smtp))
    _baseline_then(
        feed_server,
        cfg,
        "/mail.xml",
        [
            Item(
                HOSTILE + " hostile",
                "https://n.example/h",
                "h",
                "<script>alert(1)</script><img src=x onerror=alert(2)> hostile text",
            ),
            Item(
                "México: el muro fronterizo costará más",
                "https://n.example/m",
                "m",
                "Peña Nieto reitera que no pagará.",
            ),
        ],
    )
    result = run_cli("--config", str(cfg), "run", "--once")
    assert result.returncode == 0, result.stderr
    assert "deliveries: 2 sent, 0 to retry, 0 dead, 0 pending" in result.stdout
    assert len(smtp.handler.messages) == 2
    assert smtp.handler.sessions == 1  # one connection for the batch
    hostile, spanish = smtp.handler.messages
    # The hostile title cannot add a header: no Bcc, and the subject is one line.
    assert hostile["Bcc"] is None
    assert [k.lower() for k in hostile].count("bcc") == 0
    assert "\n" not in str(hostile["Subject"]) and "\r" not in str(hostile["Subject"])
    assert str(hostile["Subject"]).startswith("[tracker] wall: Hi Bcc: victim@example.com")
    assert smtp.handler.envelopes[0][1] == ["desk@example.org"]
    html = hostile.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<script" not in html and "onerror" not in html and "alert(1)" not in html
    text = hostile.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "hostile text" in text
    # Non-ASCII survives encoding both in the subject and the body.
    assert str(spanish["Subject"]) == "[tracker] wall: México: el muro fronterizo costará más"
    assert "Peña Nieto" in spanish.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = spanish.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert re.search(r"<mark style=\"[^\"]*\">muro fronterizo</mark>", html)
    # Message-IDs are the stable idempotency keys, in the From address's domain.
    ids = [str(m["Message-ID"]) for m in smtp.handler.messages]
    assert all(re.fullmatch(r"<trk-[0-9a-f]{24}@example\.org>", i) for i in ids)
    # A mail rule can file by topic; the message says it was sent by a machine.
    assert str(spanish["List-Id"]) == '"tracker: wall" <wall.topic.tracker.example.org>'
    assert str(spanish["X-Tracker-Topic"]) == "wall"
    assert str(spanish["Auto-Submitted"]) == "auto-generated"
    assert not spanish.defects and all(not p.defects for p in spanish.walk())
    assert len(set(ids)) == 2
    again = run_cli("--config", str(cfg), "run", "--once")
    assert "deliveries: 0 sent" in again.stdout and len(smtp.handler.messages) == 2


def test_smtp_outage_then_451_then_delivered_once(feed_server: FeedServer, tmp_path: Path) -> None:
    smtp = SMTPServer()  # not started: connections are refused
    url = feed_server.url("/out.xml")
    cfg = _config(tmp_path, url, _email_channel(smtp))
    _baseline_then(
        feed_server,
        cfg,
        "/out.xml",
        [
            Item("Border wall funding vote", "https://n.example/1", "1"),
            Item("Muro fronterizo: licitación", "https://n.example/2", "2"),
        ],
    )
    down = run_cli("--config", str(cfg), "run", "--once")
    assert down.returncode == 0
    assert "deliveries: 0 sent, 2 to retry" in down.stdout
    assert "SMTP connection failed" in down.stdout
    with smtp:
        smtp.handler.temp_failures = 1  # the first message gets 451
        busy = run_cli("--config", str(cfg), "run", "--once")
        # A temporary failure ends the batch: the second alert is not tried against a
        # server that just said "later", and spends no attempt.
        assert "deliveries: 0 sent, 2 to retry" in busy.stdout
        assert "SMTP 451" in busy.stdout
        back = run_cli("--config", str(cfg), "run", "--once")
        assert "deliveries: 2 sent, 0 to retry, 0 dead, 0 pending" in back.stdout
    ids = [str(m["Message-ID"]) for m in smtp.handler.messages]
    assert len(ids) == 2 and len(set(ids)) == 2
    assert sorted(_statuses(tmp_path)) == [("sent", 1), ("sent", 3)]


def test_webhook_500s_then_success_signed(
    feed_server: FeedServer, hook: Receiver, tmp_path: Path
) -> None:
    secret = tmp_path / "hook.secret"
    secret.write_text("s3cr3t-value\n")
    url = feed_server.url("/wh.xml")
    cfg = _config(tmp_path, url, _hook_channel(hook, f"    secret_file: {secret}\n"))
    _baseline_then(
        feed_server,
        cfg,
        "/wh.xml",
        [Item("Border wall", "https://n.example/w", "w", "A border wall story")],
    )
    hook.script = [(500, {}), (500, {})]
    for _ in range(2):
        out = run_cli("--config", str(cfg), "run", "--once")
        assert "1 to retry" in out.stdout and "HTTP 500 server says no" in out.stdout
        assert "s3cr3t-value" not in out.stdout + out.stderr
    done = run_cli("--config", str(cfg), "run", "--once")
    assert "deliveries: 1 sent" in done.stdout
    (ok,) = hook.accepted()
    keys = {r.headers["Idempotency-Key"] for r in hook.received}
    assert len(hook.received) == 3 and len(keys) == 1  # three tries, one key
    body = ok.json
    assert body["version"] == 2 and body["type"] == "alert" and body["topic"] == "wall"
    assert body["idempotency_key"] == ok.headers["Idempotency-Key"]
    assert body["article"]["url"] == "https://n.example/w"
    assert body["match"]["terms"] == ['"border wall"']  # as written in the query
    assert body["match"]["snippet"] == "**Border wall**"
    # The README's verification recipe.
    timestamp = ok.headers["X-Tracker-Timestamp"]
    expected = hmac.new(
        b"s3cr3t-value", timestamp.encode() + b"." + ok.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(ok.headers["X-Tracker-Signature"], f"sha256={expected}")


def test_webhook_permanent_4xx_is_dead_lettered_and_retryable(
    feed_server: FeedServer, hook: Receiver, tmp_path: Path
) -> None:
    url = feed_server.url("/dead.xml")
    cfg = _config(tmp_path, url, _hook_channel(hook, "    format: slack\n"))
    _baseline_then(feed_server, cfg, "/dead.xml", [Item("Border wall", "https://n.example/d", "d")])
    hook.script = [(404, {})]
    out = run_cli("--config", str(cfg), "run", "--once")
    assert "0 sent, 0 to retry, 1 dead" in out.stdout
    listing = run_cli("--config", str(cfg), "alerts")
    assert listing.returncode == 0
    assert "dead" in listing.stdout and "HTTP 404 server says no" in listing.stdout
    retry = run_cli("--config", str(cfg), "alerts", "retry", "--dead")
    assert retry.returncode == 0 and "1 delivery queued again" in retry.stdout
    again = run_cli("--config", str(cfg), "run", "--once")
    assert "deliveries: 1 sent" in again.stdout
    message = hook.accepted()[0].json
    assert message["text"] == "wall: Border wall"
    # IDs that name nothing to retry are refused by name, all or nothing; one too large for
    # SQLite is a usage error (it used to exit 70).
    conn = sqlite3.connect(tmp_path / "t.db")
    ((sent_id,),) = conn.execute("SELECT id FROM deliveries").fetchall()
    conn.close()
    bad = run_cli("--config", str(cfg), "alerts", "retry", str(sent_id), "999999")
    assert bad.returncode == 1, bad.stderr
    assert f"no delivery 999999; already sent: {sent_id}: nothing queued" in bad.stderr
    huge = run_cli("--config", str(cfg), "alerts", "retry", str(2**64))
    assert huge.returncode == 2 and "is not in the range" in huge.stderr, huge.stderr
    assert "*<https://n.example/d|Border wall>*" in json.dumps(message["blocks"])


def test_run_once_honours_retry_after_instead_of_spending_attempts(
    feed_server: FeedServer, hook: Receiver, tmp_path: Path
) -> None:
    # cron runs every few minutes while the server asked for an hour (Slack does this):
    # each run used to post again and spend an attempt, down to a dead letter.
    url = feed_server.url("/ra1.xml")
    cfg = _config(tmp_path, url, _hook_channel(hook))
    _baseline_then(feed_server, cfg, "/ra1.xml", [Item("Border wall", "https://n.example/w", "w")])
    hook.script = [(429, {"Retry-After": "3600"})] * 10
    for _ in range(5):
        out = run_cli("--config", str(cfg), "run", "--once")
        assert out.returncode == 0
    assert len(hook.received) == 1
    assert (
        "1 pending" in out.stdout and "dead" not in run_cli("--config", str(cfg), "alerts").stdout
    )


def test_daemon_honours_retry_after_and_delivers_fast(
    feed_server: FeedServer, hook: Receiver, tmp_path: Path
) -> None:
    import subprocess
    import sys
    import time

    url = feed_server.url("/ra.xml")
    cfg = _config(tmp_path, url, _hook_channel(hook), extra="")
    cfg.write_text(
        cfg.read_text().replace("defaults: {jitter: 0s}", "defaults: {jitter: 0s, interval: 1s}")
    )
    _baseline_then(feed_server, cfg, "/ra.xml", [Item("Border wall", "https://n.example/r", "r")])
    hook.script = [(429, {"Retry-After": "3"})]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracker", "--config", str(cfg), "run"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not hook.accepted() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert len(hook.received) == 2, err
    first, second = hook.received
    gap = float(second.headers["X-Tracker-Timestamp"]) - float(first.headers["X-Tracker-Timestamp"])
    assert gap >= 2  # waited for Retry-After (timestamps have 1 s resolution)
    assert "delivery.pending" in err and "delivery.sent" in err


def test_digest_waits_for_its_time(feed_server: FeedServer, hook: Receiver, tmp_path: Path) -> None:
    url = feed_server.url("/dg.xml")
    cfg = _config(
        tmp_path,
        url,
        _hook_channel(
            hook, "    mode: daily\n    digest_at: '08:00'\n    timezone: America/Mexico_City\n"
        ),
    )
    _baseline_then(feed_server, cfg, "/dg.xml", [Item("Border wall", "https://n.example/g", "g")])
    out = run_cli("--config", str(cfg), "run", "--once")
    assert "deliveries: 0 sent, 0 to retry, 0 dead, 1 pending" in out.stdout
    assert "waiting for its digest" in out.stdout
    assert hook.received == []


def test_notify_test_prints_the_server_answer(
    smtp: SMTPServer, hook: Receiver, tmp_path: Path
) -> None:
    cfg = _config(
        tmp_path, "https://unused.example/rss", _email_channel(smtp) + _hook_channel(hook)
    )
    mail = run_cli("--config", str(cfg), "notify", "test", "team-email")
    assert mail.returncode == 0, mail.stderr
    assert "accepted" in mail.stdout
    assert str(smtp.handler.messages[0]["Subject"]).startswith("[tracker] test:")
    hook.script = [(503, {})]
    failed = run_cli("--config", str(cfg), "notify", "test", "ops-hook")
    assert failed.returncode == 1 and "HTTP 503" in failed.stdout
    unknown = run_cli("--config", str(cfg), "notify", "test", "nope")
    assert unknown.returncode == 2 and "no channel named 'nope'" in unknown.stderr


def test_apprise_channel_reaches_a_json_endpoint(
    feed_server: FeedServer, hook: Receiver, tmp_path: Path
) -> None:
    pytest.importorskip("apprise")
    target = hook.url.replace("http://", "json://")
    url = feed_server.url("/ap.xml")
    cfg = _config(tmp_path, url, f"  phone:\n    type: apprise\n    url: '{target}'\n")
    _baseline_then(feed_server, cfg, "/ap.xml", [Item("Border wall", "https://n.example/a", "a")])
    out = run_cli("--config", str(cfg), "run", "--once")
    assert "deliveries: 1 sent" in out.stdout, out.stdout + out.stderr
    (got,) = hook.accepted()
    assert got.json["title"] == "wall: Border wall"
    assert "https://n.example/a" in got.json["message"]
