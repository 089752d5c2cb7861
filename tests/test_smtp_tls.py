"""SMTP over STARTTLS and implicit TLS, against aiosmtpd with certificates from a throwaway CA.

Each test sends through ``tracker notify test`` (the CLI as a subprocess) and checks what
reached the server: over TLS, logged in, and never the password over a clear connection.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import run_cli
from smtpserver import SMTPServer

# Every test here runs tracker as a subprocess (make test-fast skips them).
pytestmark = pytest.mark.slow

USER, PASSWORD = "tracker", "s3cret-Pa55"


def _config(tmp_path: Path, port: int, security: str, extra: str = "") -> Path:
    (tmp_path / "smtp-password").write_text(PASSWORD + "\n")
    path = tmp_path / "config.yaml"
    path.write_text(
        f"database: {tmp_path / 't.db'}\n"
        "feeds:\n  - url: https://unused.example/rss\n"
        "topics:\n  wall:\n    query: '\"border wall\"'\n"
        "channels:\n  mail:\n    type: email\n    host: 127.0.0.1\n"
        f"    port: {port}\n    security: {security}\n"
        f"    username: {USER}\n    password_file: smtp-password\n"
        "    from: tracker@example.org\n    to: [desk@example.org]\n    timeout: 5s\n" + extra
    )
    return path


@pytest.fixture
def starttls_server(server_tls: ssl.SSLContext) -> Iterator[SMTPServer]:
    with SMTPServer(starttls=server_tls, users={USER: PASSWORD}) as server:
        yield server


def test_starttls_with_a_private_ca_logs_in_and_delivers_encrypted(
    starttls_server: SMTPServer, ca_file: Path, tmp_path: Path
) -> None:
    cfg = _config(tmp_path, starttls_server.port, "starttls", f"    ca_file: {ca_file.name}\n")
    out = run_cli("--config", str(cfg), "notify", "test", "mail")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "mail: ok: accepted" in out.stdout
    assert starttls_server.handler.logins == [(USER, PASSWORD)]
    assert starttls_server.handler.encrypted == [True]
    assert PASSWORD not in out.stdout + out.stderr


# aiosmtpd warns about AUTH without STARTTLS; over implicit TLS there is no STARTTLS to require.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_delivers(server_tls: ssl.SSLContext, ca_file: Path, tmp_path: Path) -> None:
    with SMTPServer(implicit_tls=server_tls, users={USER: PASSWORD}) as server:
        cfg = _config(tmp_path, server.port, "tls", f"    ca_file: {ca_file}\n")
        out = run_cli("--config", str(cfg), "notify", "test", "mail")
        assert out.returncode == 0, out.stdout + out.stderr
        assert server.handler.logins == [(USER, PASSWORD)]
        assert server.handler.encrypted == [True]


def test_a_certificate_from_an_unknown_ca_is_refused(
    starttls_server: SMTPServer, tmp_path: Path
) -> None:
    cfg = _config(tmp_path, starttls_server.port, "starttls")  # no ca_file: system CAs only
    out = run_cli("--config", str(cfg), "notify", "test", "mail")
    assert out.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in out.stdout and "set ca_file" in out.stdout
    assert starttls_server.handler.logins == [] and starttls_server.handler.messages == []


def test_starttls_never_falls_back_to_a_clear_connection(tmp_path: Path) -> None:
    # A server (or an attacker stripping the STARTTLS line) that offers no STARTTLS: the
    # password and the alert must not go out in clear.
    with SMTPServer(users={USER: PASSWORD}) as server:
        cfg = _config(tmp_path, server.port, "starttls")
        out = run_cli("--config", str(cfg), "notify", "test", "mail")
        assert out.returncode == 1
        assert "STARTTLS extension not supported" in out.stdout
        assert server.handler.logins == [] and server.handler.messages == []


def test_a_password_over_a_clear_connection_is_a_config_error(tmp_path: Path) -> None:
    cfg = _config(tmp_path, 2525, "none")
    text = cfg.read_text().replace("host: 127.0.0.1", "host: smtp.example.org")
    cfg.write_text(text)
    out = run_cli("--config", str(cfg), "check")
    assert out.returncode == 2
    assert "would send the password in clear to smtp.example.org" in out.stderr
    # On the same machine there is no network to read it from: allowed.
    cfg.write_text(text.replace("host: smtp.example.org", "host: localhost"))
    assert run_cli("--config", str(cfg), "check").returncode == 0


def test_an_unreadable_ca_file_is_a_config_error(tmp_path: Path) -> None:
    cfg = _config(tmp_path, 2525, "starttls", "    ca_file: missing.pem\n")
    out = run_cli("--config", str(cfg), "check")
    assert out.returncode == 2
    assert "channels.mail" in out.stderr and "cannot load CA certificates from" in out.stderr
    (tmp_path / "missing.pem").write_text("not a certificate\n")
    out = run_cli("--config", str(cfg), "check")
    assert out.returncode == 2 and "cannot load CA certificates" in out.stderr
