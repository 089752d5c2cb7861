"""No configured secret leaks through an error: every failure path, every output, the database.

One config holds each kind of secret; each goes through the failures that used to leak it (a
feed redirecting to ``ftp://…?token=…``, an SMTP server answering ``535 … <base64 of the
login>``, a webhook answering 500 with its secret, a rejected config edit adding a new token,
``tracker check``). Then the daemon's log, every CLI output and the database file (and its
WAL) are scanned for each secret in clear, percent-encoded and in base64 (at each of the three
offsets it can have inside a longer base64 string). The forms are computed here, not by the
code under test.
"""

from __future__ import annotations

import base64
import ssl
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import trustme
from test_daemon import Daemon

from conftest import run_cli
from feedserver import FeedServer
from rss import Item, rss
from smtpserver import SMTPServer
from webhookserver import start_receiver

pytestmark = pytest.mark.slow

SMTP_ASCII = "ascii-Pa55word-77"
SMTP_UTF8 = "contraseña-ñ"
HOOK_SECRET = "hook-secret-0123456789"
APPRISE_TOKEN = "apprisetok-5551234"
FEED_PASSWORD = "feed-pass-4321xyz"
FEED_TOKEN = "qtok987654321"
NEW_TOKEN = "newtoken-from-a-rejected-edit-42"
SECRETS = [SMTP_ASCII, SMTP_UTF8, HOOK_SECRET, APPRISE_TOKEN, FEED_PASSWORD, FEED_TOKEN, NEW_TOKEN]


def forms(secret: str) -> list[bytes]:
    """The secret as a server, a URL or an encoder may write it."""
    out = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret, safe="").lower()}
    data = secret.encode()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode().rstrip("=")
        start, end = -(-8 * offset // 6), (8 * (offset + len(data))) // 6
        out.add(encoded[start:end])
    return sorted(o.encode() for o in out)


def leaks(blob: bytes) -> list[str]:
    return [f"{s!r} as {f!r}" for s in SECRETS for f in forms(s) if f in blob]


def test_no_secret_in_any_log_output_or_database_byte(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    pytest.importorskip("apprise")
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    # Servers that refuse and echo: SMTP 535 with the AUTH PLAIN base64 and the password,
    # the webhook (and the apprise JSON endpoint) 500 with the secret in the body.
    smtp_a = SMTPServer(starttls=tls, users={"u": "other"}, echo_failed_login=True).start()
    smtp_b = SMTPServer(starttls=tls, users={"u": "other"}, echo_failed_login=True).start()
    hook = start_receiver()
    hook.script = [(500, {})] * 1000
    hook.answer = f"bad signature; my key is {HOOK_SECRET} and {APPRISE_TOKEN}".encode()
    # Feeds: one that works and alerts, one whose URL carries a token and redirects to
    # ftp:// with it, one with basic auth that redirects to ftp://user:password@.
    feed_server.add("/news.xml", rss([Item("Border wall talks", "https://n.example/1")]))
    feed_server.fail("/private", 302, {"Location": f"ftp://127.0.0.1/x?token={FEED_TOKEN}"})
    feed_server.fail(
        "/authfeed", 302, {"Location": f"ftp://tracker:{FEED_PASSWORD}@127.0.0.1/feed"}
    )
    private = feed_server.url(f"/private?token={FEED_TOKEN}")
    apprise_url = hook.url.replace("http://", f"json://tracker:{APPRISE_TOKEN}@")
    cfg = tmp_path / "config.yaml"
    config = (
        f"database: {tmp_path / 't.db'}\n"
        "defaults: {interval: 1s, jitter: 0s, alert_on_first_poll: true}\n"
        "feeds:\n"
        f"  - url: {feed_server.url('/news.xml')}\n"
        f"  - url: {private}\n"
        f"  - url: {feed_server.url('/authfeed')}\n"
        f"    auth: {{username: tracker, password: {FEED_PASSWORD}}}\n"
        "topics:\n  wall:\n    query: '\"border wall\"'\n"
        "feed_health: {fail_after: 1}\n"
        "delivery: {admin: hook, retry_base: 1s, retry_max: 1s}\n"
        "channels:\n"
        + "".join(
            f"  {name}:\n    type: email\n    host: 127.0.0.1\n    port: {server.port}\n"
            f"    username: u\n    password: '{password}'\n    ca_file: ca.pem\n"
            "    from: t@example.org\n    to: [d@example.org]\n    timeout: 5s\n"
            for name, server, password in (
                ("mail-a", smtp_a, SMTP_ASCII),
                ("mail-b", smtp_b, SMTP_UTF8),
            )
        )
        + f"  hook:\n    type: webhook\n    url: {hook.url}\n    secret: {HOOK_SECRET}\n"
        f"  phone:\n    type: apprise\n    url: '{apprise_url}'\n    timeout: 5s\n"
    )
    cfg.write_text(config, encoding="utf-8")
    outputs: dict[str, str] = {}
    try:

        def cli(name: str, *args: str) -> None:
            out = run_cli("--config", str(cfg), *args)
            outputs[name] = out.stdout + out.stderr

        cli("check", "check")
        assert "OK" in outputs["check"], outputs["check"]
        cli("run --once", "run", "--once")
        assert "failed" in outputs["run --once"], outputs["run --once"]
        assert "535" in outputs["run --once"], outputs["run --once"]
        for channel in ("mail-a", "mail-b", "hook", "phone"):
            cli(f"notify test {channel}", "notify", "test", channel)
        cli("topics test", "topics", "test", private)
        # The daemon: retries, notices, and an edit adding a new token that is rejected.
        daemon = Daemon(cfg)
        try:
            daemon.wait_log("delivery.", timeout=30)
            rejected = config.replace(
                "feeds:\n", f"feeds:\n  - url: ftp://example.org/feed?token={NEW_TOKEN}\n"
            )
            cfg.write_text(rejected, encoding="utf-8")
            daemon.wait_log("config.rejected", timeout=30)
            time.sleep(1.5)  # the rejected notice's delivery attempt to the admin hook
        finally:
            assert daemon.stop() == 0, daemon.log
        cfg.write_text(config, encoding="utf-8")
        outputs["daemon log"] = daemon.log
        cli("alerts", "alerts")
        cli("feeds", "feeds")
        # The scriptable forms too (issue 14): JSON is masked like the tables.
        cli("alerts --json", "alerts", "--json")
        cli("feeds --json", "feeds", "--json")
        cli("check --json", "check", "--json")
        cli("matches --json", "matches", "--json")
    finally:
        smtp_a.stop()
        smtp_b.stop()
        hook.http.stop()
    # The failures happened (the test would prove nothing otherwise) ...
    assert "config.rejected" in outputs["daemon log"]
    assert "refusing redirect to a non-HTTP URL" in outputs["run --once"]
    assert "bad signature; my key is ***" in outputs["notify test hook"], outputs
    assert "SMTP 535 5.7.8 Authentication failed" in outputs["notify test mail-b"], outputs
    assert "token=***" in outputs["check"]
    assert "token=***" in outputs["check --json"] and "token=***" in outputs["feeds --json"]
    # ... and no secret shows, in any form.
    found = {name: leaks(text.encode()) for name, text in outputs.items()}
    assert not any(found.values()), found
    for path in tmp_path.glob("t.db*"):
        assert not leaks(path.read_bytes()), (path.name, leaks(path.read_bytes()))
    assert (tmp_path / "t.db").stat().st_size > 0
