import re

from tracker.delivery.channels import digest_key
from tracker.delivery.channels.render import clean_header, render_html, render_text, subject
from tracker.models import Alert


def _alert(topic: str, title: str, key: str = "k1", digest: bool = False) -> Alert:
    return Alert(
        1,
        key,
        "c",
        digest,
        topic,
        title,
        "javascript:alert(1)",
        "sum",
        "Feed",
        None,
        "en",
        ("x",),
        "a **x** b <img src=x onerror=alert(1)>",
        0.0,
    )


def test_clean_header_removes_every_line_break_and_control() -> None:
    hostile = "a\r\nBcc: x@y\u2028c\u0085d\x00e\tf\u200bg"
    assert clean_header(hostile) == "a Bcc: x@y c d e f g"
    assert len(clean_header("x" * 500)) == 200


def test_subjects() -> None:
    assert subject([_alert("wall", "Title\nBcc: z")], "[t]") == "[t] wall: Title Bcc: z"
    two = [_alert("wall", "a", "k1", True), _alert("steel", "b", "k2", True)]
    assert subject(two) == "2 alerts: wall (1), steel (1)"


def test_bodies_escape_feed_text_and_drop_unsafe_links() -> None:
    alerts = [_alert("wall", "<b>bold</b> & co")]
    html = render_html(alerts, "k1", "s")
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in html
    assert (
        re.search(r"<mark style=\"[^\"<>]*\">x</mark>", html) and "<img" not in html
    )  # escaped text, not a tag
    assert "&lt;img src=x onerror" in html
    assert "javascript:" not in html
    text = render_text(alerts, "k1", "s")
    assert "<b>bold</b> & co" in text  # plain text needs no escaping


def test_digest_key_is_stable_for_a_set() -> None:
    a, b = _alert("w", "a", "k1"), _alert("w", "b", "k2")
    assert digest_key([a, b]) == digest_key([b, a]) != digest_key([a])


def test_a_slack_link_cannot_carry_a_label_chosen_by_the_feed() -> None:
    from dataclasses import replace

    from tracker.delivery.channels.webhook import payload

    alert = replace(_alert("wall", "Border wall"), url="https://evil.example/x|Click for your bank")
    blocks = payload("slack", [alert], "k", False)["blocks"]
    headline = blocks[1]["text"]["text"].split("\n")[0]
    assert headline == "*<https://evil.example/x%7CClick for your bank|Border wall>*"
