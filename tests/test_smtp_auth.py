"""SMTP login with UTF-8 credentials, and the hints for TLS set up the wrong way round.

Against aiosmtpd with an authenticator, over STARTTLS with certificates from a throwaway CA
(trustme), through ``tracker notify test`` as a subprocess.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from conftest import run_cli
from smtpserver import SMTPServer

pytestmark = pytest.mark.slow

USER = "tracker"
PASSWORDS = {"ascii": "s3cret-Pa55", "non-ascii": "contraseña-ñ"}


def _config(
    tmp_path: Path, port: int, security: str, password: str, ca_file: Path | None, timeout: str
) -> Path:
    (tmp_path / "smtp-password").write_text(password + "\n", encoding="utf-8")
    path = tmp_path / "config.yaml"
    path.write_text(
        f"database: {tmp_path / 't.db'}\n"
        "channels:\n  mail:\n    type: email\n    host: 127.0.0.1\n"
        f"    port: {port}\n    security: {security}\n"
        f"    username: {USER}\n    password_file: smtp-password\n"
        "    from: tracker@example.org\n    to: [desk@example.org]\n"
        f"    timeout: {timeout}\n" + (f"    ca_file: {ca_file}\n" if ca_file else ""),
        encoding="utf-8",
    )
    return path


def _notify(cfg: Path) -> tuple[int, str]:
    out = run_cli("--config", str(cfg), "notify", "test", "mail")
    return out.returncode, out.stdout + out.stderr


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
@pytest.mark.parametrize("kind", sorted(PASSWORDS))
def test_ascii_and_non_ascii_passwords_log_in_over_starttls(
    server_tls: ssl.SSLContext, ca_file: Path, tmp_path: Path, kind: str, mechanism: str
) -> None:
    password = PASSWORDS[kind]
    others = tuple(m for m in ("PLAIN", "LOGIN") if m != mechanism)
    with SMTPServer(
        starttls=server_tls, users={USER: password}, exclude_mechanisms=others
    ) as server:
        code, out = _notify(_config(tmp_path, server.port, "starttls", password, ca_file, "5s"))
        assert code == 0, out
        assert "mail: ok: accepted" in out
        assert server.handler.logins == [(USER, password)]
        assert server.handler.encrypted == [True]
        assert password not in out


def test_a_refused_login_exits_1_and_shows_no_secret_the_server_echoes(
    server_tls: ssl.SSLContext, ca_file: Path, tmp_path: Path
) -> None:
    password = PASSWORDS["non-ascii"]
    with SMTPServer(
        starttls=server_tls, users={USER: "something-else"}, echo_failed_login=True
    ) as server:
        code, out = _notify(_config(tmp_path, server.port, "starttls", password, ca_file, "5s"))
    assert code == 1, out
    assert "mail: FAILED: SMTP 535 5.7.8 Authentication failed for" in out
    assert password not in out and "contrase" not in out
    # The base64 of "\0tracker\0contraseña-ñ" is masked too (what is left is the username's).
    assert "Y29udHJhc2XDsWEtw7E" not in out


def test_tls_against_a_starttls_port_hints_starttls(
    server_tls: ssl.SSLContext, ca_file: Path, tmp_path: Path
) -> None:
    with SMTPServer(starttls=server_tls, users={USER: "pw"}) as server:
        code, out = _notify(_config(tmp_path, server.port, "tls", "pw", ca_file, "5s"))
        assert server.handler.logins == []
    assert code == 1, out
    assert "the server speaks plain SMTP first: use security: starttls" in out


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_starttls_against_an_implicit_tls_port_hints_tls(
    server_tls: ssl.SSLContext, ca_file: Path, tmp_path: Path
) -> None:
    with SMTPServer(implicit_tls=server_tls, users={USER: "pw"}) as server:
        code, out = _notify(_config(tmp_path, server.port, "starttls", "pw", ca_file, "2s"))
        assert server.handler.logins == []
    assert code == 1, out
    assert "use security: tls" in out
    assert "starttls" not in out.split("(")[-1]  # the hint does not suggest what was tried


def test_a_ca_file_that_did_not_sign_the_certificate_says_so(
    server_tls: ssl.SSLContext, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with SMTPServer(starttls=server_tls, users={USER: "pw"}) as server:
        code, out = _notify(_config(tmp_path, server.port, "starttls", "pw", other, "5s"))
        assert server.handler.logins == []
    assert code == 1, out
    assert "CERTIFICATE_VERIFY_FAILED" in out
    assert "not signed by the CA in ca_file" in out and "set ca_file" not in out
