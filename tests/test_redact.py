"""The Redactor: each secret masked in the forms servers echo; the store masks what it writes."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from tracker.config.loader import raw_secrets
from tracker.models import FeedSpec
from tracker.redact import MASK, Redactor, mask_url
from tracker.store.facade import Store

PASSWORD = "contraseña-ñ"


@pytest.mark.parametrize(
    "echo",
    [
        PASSWORD,
        quote(PASSWORD, safe=""),
        quote(PASSWORD, safe="").lower(),
        json.dumps(PASSWORD),
        repr(PASSWORD.encode()),
        repr(UnicodeEncodeError("ascii", "\0me\0" + PASSWORD, 8, 9, "no")),
        base64.b64encode(("\0tracker\0" + PASSWORD).encode()).decode(),
        base64.b64encode(("tracker:" + PASSWORD).encode()).decode(),
        base64.b64encode(("\0u\0" + PASSWORD).encode()).decode(),
        base64.urlsafe_b64encode(("\0ab\0" + PASSWORD).encode()).decode(),
        "SMTP 535 bad answer, cut: " + PASSWORD[:7],
    ],
)
def test_every_echoed_form_is_masked(echo: str) -> None:
    masked = Redactor([PASSWORD])(f"error: {echo} (end)" if "cut" not in echo else echo)
    assert "***" in masked
    assert "contrase" not in masked and "Y29udHJhc2XDsWEtw7E" not in masked


def test_credential_parameters_and_url_passwords_are_masked_unconfigured() -> None:
    assert mask_url("ftp://h/x?token=abc&page=2") == "ftp://h/x?token=***&page=2"
    assert (
        mask_url("https://h/?api_key=1&access_token=2") == "https://h/?api_key=***&access_token=***"
    )
    assert mask_url("ftp://tracker:pw@h/") == "ftp://tracker:***@h/"
    assert mask_url("https://h/a?author=me&q=wall") == "https://h/a?author=me&q=wall"


def test_a_union_masks_both_and_nothing_else() -> None:
    both = Redactor(["old-secret"]) | Redactor(["new-secret"])
    assert both("old-secret new-secret other") == "*** *** other"
    assert Redactor()("nothing here") == "nothing here"


def test_a_rejected_file_s_secrets_are_found_in_its_raw_data() -> None:
    raw = {
        "feeds": [{"url": "ftp://x/feed?token=tok123456", "auth": {"password": "pw1"}}],
        "channels": {
            "hook": {"type": "webhook", "url": "https://h/services/T0/B0/XXXXXXXX", "secret": "s"},
            "app": {"type": "apprise", "url": "tgram://bot123456789/chat"},
        },
    }
    found = set(raw_secrets(raw))
    assert {"tok123456", "pw1", "s", "/services/T0/B0/XXXXXXXX", "bot123456789"} <= found


def test_the_store_masks_what_it_writes_and_keeps_feed_tokens_out(tmp_path: Path) -> None:
    url = "https://h.example/feed?token=tok123456"
    store = Store(tmp_path / "t.db", Redactor(["tok123456", PASSWORD]))
    store.sync_feeds([FeedSpec(url, "private", 60.0)], 0.0)
    (state,) = store.due_feeds(1.0, 10)
    assert state.url == url  # fetched with the real URL
    store.record_failure(state.id, now=1, next_check_at=2, status=None, error=f"x {PASSWORD}")
    store.add_notice("k", f"{url} failing", f"body {url}", "admin", 1.0)
    (row,) = store.feeds()
    assert row.last_error == "x ***" and "tok123456" not in row.url
    assert store.query("SELECT subject, body FROM notices") == [
        (f"{row.url.partition('#')[0]} failing", f"body {row.url.partition('#')[0]}")
    ]
    store.close()
    for path in tmp_path.glob("t.db*"):
        assert b"tok123456" not in path.read_bytes() and PASSWORD.encode() not in path.read_bytes()


@pytest.mark.parametrize(
    "text",
    [
        "https://user:pw@host.example/feed",  # '@' alone is what the userinfo needs
        "see https://host.example/f?token=abc&x=1",  # '=' alone is what a parameter needs
        "no url: a=b; ?key=value",
    ],
)
def test_text_with_a_url_credential_is_masked_and_plain_text_left_alone(text: str) -> None:
    masked = Redactor()(text)
    assert masked != text and MASK in masked
    plain = "Border wall vote: 12 senators, 3 votes short (https://n.example/a/b.xml)"
    assert Redactor()(plain) == plain
