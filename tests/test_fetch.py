import asyncio
import dataclasses
import gzip
import socket
import ssl
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from ipaddress import ip_address
from pathlib import Path
from typing import TypeVar

import pytest
from pytest_httpserver import HTTPServer
from rawserver import DripServer, GarbledServer, RawServer

from tracker.config import loader as config_mod
from tracker.config.settings import to_settings
from tracker.errors import (
    ConnectFailed,
    DecodeFailed,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    InvalidResponse,
    InvalidURL,
    RedirectRefused,
    ResponseTooLarge,
)
from tracker.ingest.fetch import (
    ACCEPT,
    RedirectGuard,
    fetch,
    internal_address,
    make_client,
)
from tracker.ingest.pipeline import Poller
from tracker.models import FetchResult
from tracker.service.daemon import poll_settings
from tracker.store.facade import Store

from feedserver import FeedServer
from rss import Item, rss

T = TypeVar("T")


def _run(coro_fn: Callable[..., Awaitable[T]], **kw: object) -> T:
    async def go() -> T:
        async with make_client(
            timeout_s=kw.pop("timeout_s", 5.0),
            user_agent="tracker-test",
            concurrency=4,
        ) as client:
            return await coro_fn(client)

    return asyncio.run(go())


def _get(
    url: str,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = 1_000_000,
    timeout_s: float = 5.0,
) -> FetchResult:
    return _run(
        lambda c: fetch(
            c,
            url,
            etag=etag,
            last_modified=last_modified,
            max_bytes=max_bytes,
            max_redirects=3,
            headers={"X-Api-Key": "k-123"},
        ),
        timeout_s=timeout_s,
    )


def test_conditional_get_round_trip(feed_server: FeedServer) -> None:
    url = feed_server.add("/f.xml", b"<rss version='2.0'><channel></channel></rss>")
    first = _get(url)
    assert first.status == 200 and first.body and first.etag and first.last_modified
    second = _get(url, first.etag, first.last_modified)
    assert second.not_modified and second.body is None
    assert second.etag == first.etag  # kept for the next conditional request
    seen = feed_server.requests_for("/f.xml")
    assert seen[1].if_none_match == first.etag
    assert seen[1].if_modified_since == first.last_modified


def test_compressed_bodies_are_decoded(feed_server: FeedServer) -> None:
    body = b"<rss>" + b"x" * 50_000 + b"</rss>"
    url = feed_server.add("/big.xml", body)
    assert _get(url).body == body


def test_compression_bombs_stop_at_max_bytes(feed_server: FeedServer) -> None:
    # ~50 KB that inflate to 100 MB: decoding stops at the limit, not at the end.
    feed_server.fail("/bomb.xml", 200, {"Content-Encoding": "gzip"}, gzip.compress(bytes(10**8)))
    with pytest.raises(ResponseTooLarge, match="response too large: over 1000000 bytes"):
        _get(feed_server.url("/bomb.xml"))
    # A layer inside a layer, each one a bomb: refused before anything is decoded.
    nested = gzip.compress(gzip.compress(bytes(10**8)))
    feed_server.fail("/nested.xml", 200, {"Content-Encoding": "gzip, gzip"}, nested)
    with pytest.raises(DecodeFailed, match="unsupported Content-Encoding 'gzip, gzip': more than"):
        _get(feed_server.url("/nested.xml"))
    feed_server.fail("/br.xml", 200, {"Content-Encoding": "br"}, b"\x0b\x02\x80<rss/>\x03")
    with pytest.raises(DecodeFailed, match="unsupported Content-Encoding 'br'"):
        _get(feed_server.url("/br.xml"))


def test_inflating_does_not_depend_on_how_the_body_is_cut() -> None:
    from tracker.ingest.fetch import Inflater

    body = b"<rss>" + b"deflated " * 1000 + b"</rss>"
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    for coding, data in [
        ("deflate", zlib.compress(body)),
        ("deflate", raw.compress(body) + raw.flush()),
        ("gzip", gzip.compress(body)),
    ]:
        for size in (1, 2, 7, 4096):
            inflater = Inflater.for_encoding(coding)
            assert inflater is not None
            parts = [inflater.feed(data[i : i + size], 10**6) for i in range(0, len(data), size)]
            assert b"".join(parts) + inflater.finish(10**6) == body, (coding, size)
    # Labels some servers send without compressing anything are no encoding at all.
    assert Inflater.for_encoding("utf-8") is None and Inflater.for_encoding("none") is None


def test_deflate_with_and_without_its_zlib_header(feed_server: FeedServer) -> None:
    body = b"<rss>" + b"deflated " * 1000 + b"</rss>"
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    for path, data in [
        ("/zlib.xml", zlib.compress(body)),
        ("/raw.xml", raw.compress(body) + raw.flush()),
    ]:
        feed_server.fail(path, 200, {"Content-Encoding": "deflate"}, data)
        assert _get(feed_server.url(path)).body == body


def test_status_errors_are_clear(feed_server: FeedServer) -> None:
    feed_server.fail("/gone", 410)
    feed_server.fail("/slow-down", 429, {"Retry-After": "120"})
    with pytest.raises(HTTPStatusError, match="HTTP 404 NOT FOUND: the feed URL is wrong"):
        _get(feed_server.url("/missing"))
    with pytest.raises(HTTPStatusError, match=r"HTTP 410.*gone for good") as gone:
        _get(feed_server.url("/gone"))
    assert gone.value.status == 410
    with pytest.raises(HTTPStatusError) as slow:
        _get(feed_server.url("/slow-down"))
    assert slow.value.status == 429 and slow.value.retry_after_s == 120


def test_body_size_limit(feed_server: FeedServer) -> None:
    url = feed_server.add("/huge.xml", b"<rss>" + b"y" * 200_000 + b"</rss>")
    with pytest.raises(ResponseTooLarge, match="too large"):
        _get(url, max_bytes=100_000)


def test_redirect_limit(feed_server: FeedServer) -> None:
    for i in range(5):
        feed_server.fail(f"/r{i}", 302, {"Location": feed_server.url(f"/r{i + 1}")})
    with pytest.raises(RedirectRefused, match="too many redirects"):
        _get(feed_server.url("/r0"))


def test_redirects_are_followed(feed_server: FeedServer) -> None:
    target = feed_server.add("/new.xml", b"<rss/>")
    feed_server.fail("/old.xml", 301, {"Location": target})
    result = _get(feed_server.url("/old.xml"))
    assert result.status == 200 and result.url == target


def test_timeout(feed_server: FeedServer) -> None:
    url = feed_server.add("/slow.xml", b"<rss/>")
    feed_server.delays["/slow.xml"] = 1.0
    with pytest.raises(FetchTimeout, match="timed out"):
        _get(url, timeout_s=0.3)


def test_a_server_that_drips_bytes_hits_the_deadline() -> None:
    # Every read comes within the 1 s timeout, but the body never ends: only an overall
    # deadline stops the fetch (and frees the poll's concurrency slot).
    started = time.monotonic()
    deadline = pytest.raises(FetchTimeout, match=r"took longer than 1.5s in all \(fetch.deadline\)")
    with DripServer() as drip, deadline:
        _run(
            lambda c: fetch(
                c, drip.url("/f.xml"), etag=None, last_modified=None, max_bytes=10**6,
                deadline_s=1.5,
            ),
            timeout_s=1.0,
        )  # fmt: skip
    assert time.monotonic() - started < 5


def test_connection_refused() -> None:
    with pytest.raises(ConnectFailed, match="ConnectError") as caught:
        _get("http://127.0.0.1:1/feed.xml")
    # Host, port and the reason; no TLS setting for a plain http:// URL (aiohttp's own
    # text says `ssl:default` there).
    assert "cannot connect to 127.0.0.1:1: " in caught.value.message
    assert "ssl:" not in caught.value.message


def test_https_feeds_are_verified(
    server_tls: ssl.SSLContext, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = b"<rss version='2.0'><channel></channel></rss>"
    with HTTPServer(host="127.0.0.1", ssl_context=server_tls) as server:
        server.expect_request("/f.xml").respond_with_data(body)
        url = server.url_for("/f.xml")
        assert url.startswith("https://")
        # A certificate from a CA this machine does not trust: refused, saying why.
        with pytest.raises(ConnectFailed, match="CERTIFICATE_VERIFY_FAILED"):
            _get(url)
        # Trusted through $SSL_CERT_FILE (read when the first https request is made).
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
        assert _get(url).body == body


def test_a_garbled_answer_is_one_short_line() -> None:
    with GarbledServer() as server, pytest.raises(InvalidResponse) as caught:
        _get(server.url("/f.xml"))
    assert (
        str(caught.value) == "invalid HTTP answer: Bad status line: Expected HTTP/, RTSP/ or ICE/:"
    )


class _CutShortServer(RawServer):
    """Promises 100 bytes and closes after one."""

    def session(self, conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<")


class _SilentServer(RawServer):
    """Reads the request and closes without answering."""

    def session(self, conn: socket.socket) -> None:
        conn.recv(65536)


def test_cut_short_and_missing_answers_are_invalid_responses() -> None:
    with _CutShortServer() as server, pytest.raises(InvalidResponse) as cut:
        _get(server.url("/f.xml"))
    assert str(cut.value).startswith("ClientPayloadError: Response payload is not completed")
    with _SilentServer() as server, pytest.raises(InvalidResponse) as silent:
        _get(server.url("/f.xml"))
    assert str(silent.value) == "ServerDisconnectedError: Server disconnected"
    with pytest.raises(InvalidURL, match="NonHttpUrlClientError: ftp://x/f"):
        _get("ftp://x/f")


class _RecordingServer(RawServer):
    """Keeps each request's bytes (up to the blank line) and answers 304."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        super().__init__()

    def session(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        self.requests.append(data.split(b"\r\n\r\n", 1)[0])
        conn.sendall(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def _wire(server: _RecordingServer, **kw: object) -> list[str]:
    """The request line and header lines of one conditional fetch, as the server read them."""
    result = _run(
        lambda c: fetch(
            c, server.url("/f.xml"), etag='"v1"', last_modified="Fri, 04 Dec 2026 18:00:00 GMT",
            max_bytes=1000, **kw,  # type: ignore[arg-type]
        )
    )  # fmt: skip
    assert result.not_modified and result.etag == '"v1"'
    return server.requests[-1].decode("latin-1").split("\r\n")


def test_what_a_conditional_request_sends() -> None:
    with _RecordingServer() as server:
        lines = _wire(server, headers={"X-Api-Key": "k-123"}, auth=("ann", "pw"))
        assert lines[0] == "GET /f.xml HTTP/1.1"
        # Sorted: aiohttp may order them its own way; every one is there exactly once.
        assert sorted(lines[1:]) == sorted(
            [
                f"Host: 127.0.0.1:{server.port}",
                "User-Agent: tracker-test",
                "Accept: " + ACCEPT,
                "Accept-Encoding: gzip, deflate",
                "X-Api-Key: k-123",
                'If-None-Match: "v1"',
                "If-Modified-Since: Fri, 04 Dec 2026 18:00:00 GMT",
                "Authorization: Basic YW5uOnB3",  # ann:pw
            ]
        )
        # A feed's own Host and User-Agent replace tracker's, and are sent once.
        lines = _wire(server, headers={"host": "feeds.example", "User-Agent": "feed-ua"})
        named = sorted(h.lower() for h in lines if h.lower().startswith(("host:", "user-agent:")))
        assert named == ["host: feeds.example", "user-agent: feed-ua"]
        assert not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in lines)


def test_fetch_failures_are_one_tree() -> None:
    kinds = [
        FetchTimeout, ConnectFailed, HTTPStatusError, ResponseTooLarge, RedirectRefused,
        DecodeFailed, InvalidResponse, InvalidURL,
    ]  # fmt: skip
    assert all(issubclass(kind, FetchError) for kind in kinds)
    # Not a TimeoutError: fetch()'s deadline handler must never catch a FetchTimeout.
    assert not issubclass(FetchTimeout, TimeoutError)


def test_cross_origin_redirect_drops_feed_headers(feed_server: FeedServer) -> None:
    target = feed_server.add("/moved.xml", b"<rss/>").replace("127.0.0.1", "localhost")
    feed_server.fail("/start.xml", 301, {"Location": target})
    assert _get(feed_server.url("/start.xml")).status == 200
    first, second = feed_server.seen
    assert first.headers.get("X-Api-Key") == "k-123"
    assert "X-Api-Key" not in second.headers  # another origin never sees the feed's key


def test_https_never_downgrades() -> None:
    from tracker.ingest.fetch import redirect_target

    with pytest.raises(RedirectRefused, match="refusing redirect from https to http"):
        redirect_target("https://a.example/feed", "http://a.example/feed")
    with pytest.raises(RedirectRefused, match="non-HTTP"):
        redirect_target("http://a.example/feed", "file:///etc/passwd")
    assert redirect_target("http://a.example/x/feed", "../y") == "http://a.example/y"
    with pytest.raises(RedirectRefused, match="non-HTTP URL: javascript:alert"):
        redirect_target("http://a.example/feed", " javascript:alert(1)")
    with pytest.raises(RedirectRefused, match=r"with credentials \(host b.example\)") as caught:
        redirect_target("http://a.example/feed", "http://u:secret@b.example/feed")
    assert "secret" not in str(caught.value)
    with pytest.raises(RedirectRefused, match="bad redirect Location"):
        redirect_target("http://a.example/feed", "http://[::1/feed")


# ------------------------------------------------------------- redirects into this network


def _public_alias_guard(allow: bool = False) -> RedirectGuard:
    """Every address is judged as in production, except 127.0.0.2: the tests' "public" host
    (all of 127/8 is loopback on Linux, so a real server can listen there)."""
    alias = ip_address("127.0.0.2")
    return RedirectGuard(allow, internal=lambda ip: ip != alias and internal_address(ip))


@pytest.fixture
def public_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.2", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


def _fetch_guarded(url: str, guard: RedirectGuard) -> FetchResult:
    return _run(
        lambda c: fetch(c, url, etag=None, last_modified=None, max_bytes=10_000, redirects=guard)
    )


def test_addresses_inside_this_network_are_internal() -> None:
    internal = "127.0.0.1 10.1.2.3 172.16.0.9 192.168.1.1 169.254.169.254 100.64.0.1 0.0.0.0"
    for text in [*internal.split(), "::1", "fe80::1", "fd00::5", "::ffff:127.0.0.1"]:
        assert internal_address(ip_address(text)), text
    for text in ("93.184.216.34", "8.8.8.8", "2606:4700::1111"):
        assert not internal_address(ip_address(text)), text


def test_a_public_feed_redirecting_into_this_network_is_refused(
    public_server: HTTPServer, feed_server: FeedServer
) -> None:
    secret = feed_server.add("/admin.xml", b"<rss>internal</rss>")
    by_name = secret.replace("127.0.0.1", "localhost")  # the spelling hides a loopback address
    for i, target in enumerate((secret, by_name)):
        public_server.expect_request(f"/feed{i}").respond_with_data(
            "", status=302, headers={"Location": target}
        )
        with pytest.raises(RedirectRefused) as refused:
            _fetch_guarded(public_server.url_for(f"/feed{i}"), _public_alias_guard())
        assert "refusing redirect from a public address to the loopback address" in str(
            refused.value
        )
        assert "fetch.allow_private_redirects" in str(refused.value)
    assert feed_server.seen == []  # the internal server was never asked
    # Allowed by the option; and a public feed may redirect to another public address.
    public_server.expect_request("/feed2").respond_with_data(
        "", status=302, headers={"Location": secret}
    )
    assert _fetch_guarded(public_server.url_for("/feed2"), _public_alias_guard(True)).body == (
        b"<rss>internal</rss>"
    )
    public_server.expect_request("/feed3").respond_with_data(
        "", status=307, headers={"Location": public_server.url_for("/there")}
    )
    public_server.expect_request("/there").respond_with_data("<rss>public</rss>")
    assert _fetch_guarded(public_server.url_for("/feed3"), _public_alias_guard()).body == (
        b"<rss>public</rss>"
    )


def test_a_feed_configured_on_an_internal_address_may_redirect_within_it(
    feed_server: FeedServer,
) -> None:
    target = feed_server.add("/in.xml", b"<rss/>").replace("127.0.0.1", "localhost")
    feed_server.fail("/intranet.xml", 302, {"Location": target})
    result = _fetch_guarded(feed_server.url("/intranet.xml"), RedirectGuard())
    assert result.status == 200 and result.url == target


def test_a_permanent_redirect_says_where_the_feed_moved(feed_server: FeedServer) -> None:
    final = feed_server.add("/final.xml", b"<rss/>")
    feed_server.fail("/a.xml", 301, {"Location": feed_server.url("/b.xml")})
    feed_server.fail("/b.xml", 308, {"Location": feed_server.url("/c.xml")})
    feed_server.fail("/c.xml", 302, {"Location": final})  # temporary: not part of the move
    assert _get(feed_server.url("/a.xml")).moved_to == feed_server.url("/c.xml")
    assert _get(feed_server.url("/c.xml")).moved_to is None
    assert _get(final).moved_to is None


def test_a_public_feed_redirected_inside_stores_nothing_and_fails(
    public_server: HTTPServer, feed_server: FeedServer, tmp_path: Path
) -> None:
    # The SSRF reproduction through a whole poll: the internal document must not be stored.
    inside = feed_server.add(
        "/inside.xml", rss([Item("Steel tariffs (internal)", "https://intra.example/1", "1")])
    )
    public_server.expect_request("/feed.xml").respond_with_data(
        "", status=301, headers={"Location": inside}
    )
    url = public_server.url_for("/feed.xml")
    config = config_mod.parse(
        f"database: t.db\nfeeds:\n  - url: {url}\ntopics:\n  steel:\n    query: steel\n",
        tmp_path,
    )
    settings = dataclasses.replace(
        poll_settings(to_settings(config)), redirects=_public_alias_guard()
    )

    async def go() -> None:
        store = Store(config.database_path)
        try:
            store.sync_feeds(config.feed_specs(), time.time())
            async with make_client(timeout_s=5, user_agent="t", concurrency=2) as client:
                (state,) = store.pollable_feeds(time.time())
                outcome = await Poller(client, store, settings).poll(state)
            assert not outcome.ok and "to the loopback address 127.0.0.1" in (outcome.error or "")
            (row,) = store.feeds()
            assert row.consecutive_errors == 1 and "refusing redirect" in (row.last_error or "")
            assert store.query("SELECT COUNT(*) FROM articles") == [(0,)]
        finally:
            store.close()

    asyncio.run(go())
    assert feed_server.requests_for("/inside.xml") == []
