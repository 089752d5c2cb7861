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


# ---------------------------------------------------------------- messages designed for reading

from dataclasses import replace as _replace  # noqa: E402
from email import message_from_bytes, policy  # noqa: E402

import pytest  # noqa: E402

from tracker.delivery.channels.email import build_message, fold_subject  # noqa: E402
from tracker.delivery.channels.render import strip_leftovers, view  # noqa: E402
from tracker.delivery.channels.sample import (  # noqa: E402
    EXAMPLE_CHANNEL,
    preview_alerts,
    preview_notice,
)
from tracker.models import NoticeKind  # noqa: E402

from webhookserver import schema_errors  # noqa: E402


def _real(**changes: object) -> Alert:
    base = Alert(
        1,
        "k1",
        "c",
        False,
        "wall",
        "Senate advances border wall funding",
        "https://www.example.org/a?utm_source=rss&id=3",
        "",
        "Wire",
        1714572180.0,
        "en",
        ('"border wall"',),
        "Senate advances **border wall** funding",
        0.0,
    )
    return _replace(base, **changes)  # type: ignore[arg-type]


def test_a_title_match_never_repeats_the_title_as_the_snippet() -> None:
    v = view(_real(summary="Lawmakers voted 14-12 to send the package to the floor."))
    assert v.excerpt_text == "Lawmakers voted 14-12 to send the package to the floor."
    assert [t for t, hit in v.title if hit] == ["border wall"]  # the headline shows the words


def test_content_gives_the_text_when_there_is_no_summary() -> None:
    v = view(_real(content="The border wall vote came after midnight. Read more"))
    assert v.excerpt_text == "The border wall vote came after midnight."
    assert [t for t, hit in v.excerpt if hit] == ["border wall"]
    assert "border wall" in render_text([_real(content="The wall vote came late.")], "k", "s")


def test_the_reason_is_plain_words_not_query_syntax() -> None:
    spanish = _real(
        title="México responde",
        terms=("arancel*", "moderniz*", "acero", "aluminio", "omc", "a", "b", "c", "d"),
        snippet="anunció **aranceles** al **acero** y **Aranceles** de **modernización**, **OMC**",
    )
    v = view(spanish)
    assert v.reason == "mentions “aranceles”, “acero”, “modernización” and 1 more"
    assert "*" not in v.reason
    # No marked words (a match the snippet does not show): the terms, without syntax.
    assert view(_real(snippet="", terms=("tariff*",))).reason == "mentions “tariff…”"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The vote passed. Read more | Full story", "The vote passed."),
        ("The vote passed. Read more »", "The vote passed."),
        ("El voto pasó. Leer más…", "El voto pasó."),
        ("The vote passed [...]", "The vote passed …"),
        ("Passed. Continue reading → ", "Passed. Continue reading →"),  # not a known leftover
        ("A. The post Vote appeared first on Wire.", "A."),
        ("Before Read more | Full story after", "Before after"),
        ("Read more about the vote", "Read more about the vote"),
    ],
)
def test_dead_link_text_is_removed(text: str, expected: str) -> None:
    assert " ".join(strip_leftovers(text).split()) == expected


def test_times_are_in_the_channels_time_zone() -> None:
    html = render_html([_real()], "k", "s", "Europe/Madrid")
    assert "1 May 2024, 16:03 CEST" in html
    assert "1 May 2024, 14:03 UTC" in render_text([_real()], "k", "s")


def test_the_link_is_the_canonical_one_without_tracking() -> None:
    alert = _real(canonical_url="https://example.org/a?id=3")
    assert 'href="https://example.org/a?id=3"' in render_html([alert], "k", "s")
    assert "utm_source" not in render_html([alert], "k", "s")
    unsafe = _real(canonical_url="javascript:alert(1)", url="ftp://x")
    assert view(unsafe).link is None


def test_text_part_layout() -> None:
    for alerts in ([preview_alerts()[0]], [_replace(a, digest=True) for a in preview_alerts()]):
        text = render_text(alerts, "k", "s", "America/Mexico_City")
        lines = text.split("\n")
        assert lines[0].strip(), "no leading blank line"
        assert "-- " in lines and "--" not in lines  # the signature separator with its space
        for line in lines:
            assert len(line) <= 78 or line.strip().startswith("http"), line


def test_a_digest_shows_each_story_once_and_snippet_or_summary_not_both() -> None:
    alerts = [_replace(a, digest=True) for a in preview_alerts()]
    twice = [*alerts, _replace(alerts[3], topic="aranceles", key="k9")]
    text = render_text(twice, "k", "s")
    assert text.count("Mexico's Senate debates the border wall") == 1
    assert "also aranceles" in text
    spanish = alerts[1]
    html = render_html(twice, "k", "s")
    # The Spanish result's snippet is its summary: it appears once, not twice.
    assert html.count("de represalia de hasta 25%") == 1
    assert spanish.topic in html


def test_the_footer_names_the_topic_and_how_to_change_it() -> None:
    html = render_html([_real()], "k", "s")
    assert "tracker topics backtest wall" in html and "config.yaml" in html
    assert "mute" not in html  # no such command yet


def test_feed_fragments_are_sanitised_but_the_template_survives() -> None:
    hostile = _real(
        title='<script>alert(1)</script> "><img src=x onerror=alert(2)>',
        snippet='**<b onclick="x">wall</b>** <a href="javascript:alert(3)">y</a>',
    )
    html = render_html([hostile], "k", "s")
    assert "<script" not in html and "<img" not in html and "<b onclick" not in html
    assert not re.search(r"<a[^>]+javascript:", html)
    assert "&lt;a href=" in html  # the feed's markup is shown as text, never a link
    for kept in ("<html", "<head>", '<meta name="viewport"', "<body style=", "max-width:40em"):
        assert kept in html


def test_headers_list_id_topic_message_id_and_folding() -> None:
    channel = _replace(EXAMPLE_CHANNEL, sender="Desk <alerts@Noticias.Example.COM>")
    msg = build_message(channel, [_real(topic="Border Wall / México")], "trk-1")
    raw = msg.as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Message-ID"] == "<trk-1@noticias.example.com>"
    assert "<border-wall-mexico.topic.tracker.noticias.example.com>" in parsed["List-Id"]
    assert parsed["X-Tracker-Topic"] == "Border Wall / México"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed.get_body(("plain",)).get_content().startswith("Topic:")  # type: ignore[union-attr]
    configured = _replace(channel, message_id_domain="mail.example.net")
    assert build_message(configured, [_real()], "k")["Message-ID"] == "<k@mail.example.net>"
    digest = build_message(channel, [_real(digest=True), _real(key="k2", topic="t2")], "d")
    assert "<digest.tracker.noticias.example.com>" in digest["List-Id"]


@pytest.mark.parametrize(
    "subj",
    [
        "[tracker-alerts-for-the-newsroom-team-in-mexico-city-and-los-angeles] wall: x y",
        "[tracker] aranceles: “México” responde — «de» Estados Unidos con una batería de medidas",
        "[tracker] 中国: 中国商务部回应美国对钢铁和铝征收关税的决定，宣布一系列反制措施以保护",
        "[tracker] wall: =?utf-8?q?not_an_encoded_word?= from a feed",
    ],
)
def test_subjects_fold_after_their_first_words_and_read_back_the_same(subj: str) -> None:
    folded = fold_subject(subj)
    first = folded.split("\n")[0]
    assert first.startswith("Subject: ") and len(first) > len("Subject: ")
    assert all(len(line) <= 78 for line in folded.split("\n") if " " in line.strip())
    parsed = message_from_bytes(folded.encode() + b"\n", policy=policy.default)
    assert parsed["Subject"] == subj


def test_a_notice_is_marked_as_a_notice_everywhere() -> None:
    from tracker.delivery.channels.webhook import payload

    notice = preview_notice()
    msg = build_message(EXAMPLE_CHANNEL, [notice], "n1")
    assert str(msg["Subject"]).startswith("[tracker] notice: feed failing")
    assert msg["X-Tracker-Notice"] == "feed_failing" and msg["X-Tracker-Topic"] is None
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("Notice: Feed failing") and "topic alert" in text
    body = payload("json", [notice], "n1", False)
    assert body["type"] == "notice" and body["kind"] == "feed_failing"
    assert schema_errors(body) == []
    for kind in NoticeKind:
        assert schema_errors(payload("json", [_replace(notice, notice=kind)], "n", False)) == []
    assert NoticeKind.from_stored("feed-ok") is NoticeKind.FEED_RECOVERED
    assert NoticeKind.from_stored("config-rejected") is NoticeKind.CONFIG_REJECTED
    assert NoticeKind.from_stored("from-the-future") is NoticeKind.OTHER


@pytest.mark.parametrize("fmt", ["json", "slack", "discord"])
def test_every_payload_matches_the_documented_schema(fmt: str) -> None:
    from tracker.delivery.channels.webhook import payload

    alerts = preview_alerts()
    for batch, digest in [([a], False) for a in alerts] + [
        ([_replace(a, digest=True) for a in alerts * 20], True),  # past Slack/Discord limits
        ([preview_notice()], False),
    ]:
        body = payload(fmt, batch, "k", digest, "America/Mexico_City")
        assert schema_errors(body) == [], body
    assert schema_errors({"version": 1, "type": "alert"}) != []  # the schema can fail


def test_chat_presets_carry_headline_outlet_snippet_reason_and_link() -> None:
    import json

    from tracker.delivery.channels.webhook import payload

    spanish = preview_alerts()[1]
    hostile = _replace(
        spanish, title="<!channel> @everyone", summary="x", snippet="**aranceles** <!here> @here"
    )
    slack = json.dumps(payload("slack", [spanish], "k", False, "UTC"), ensure_ascii=False)
    for part in (
        "México responde",
        "El Universal (es)",
        "*aranceles*",
        "Why: mentions",
        "https://",
    ):
        assert part in slack, part
    hostile_slack = json.dumps(payload("slack", [hostile], "k", False))
    assert "<!channel>" not in hostile_slack and "<!here>" not in hostile_slack
    discord = payload("discord", [spanish], "k", False)
    (embed,) = discord["embeds"]
    assert embed["url"].startswith("https://")
    assert embed["author"]["name"] == "Reported by El Universal (es), Milenio (es), Reuters (en)"
    assert "**aranceles**" in embed["description"] and "Why: mentions" in embed["description"]
    assert discord["allowed_mentions"] == {"parse": []}
    hostile_discord = payload("discord", [hostile], "k", False)["embeds"][0]["description"]
    assert "\\@here" in hostile_discord


def test_a_long_subject_prefix_is_not_left_alone_on_the_subject_line() -> None:
    prefix = "[tracker-alerts-for-the-newsroom-team-in-mexico-city-and-los-angeles]"
    # Python's folder leaves "Subject:" bare when the rest fits on the next line.
    short = _real(title="x", snippet="")
    msg = build_message(_replace(EXAMPLE_CHANNEL, subject_prefix=prefix), [short], "k")
    raw = msg.as_bytes().decode("utf-8")
    (line,) = [x for x in raw.split("\n") if x.startswith("Subject:")]
    assert line.startswith(f"Subject: {prefix}"), line
