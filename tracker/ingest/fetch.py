"""The one place that knows HTTP: conditional GET, limits, redirects, status handling."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import socket
import time
import zlib
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, ip_address
from urllib.parse import urljoin, urlsplit

import aiohttp
import httpx

from tracker.backoff import parse_retry_after
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
from tracker.ingest.transport import AiohttpTransport
from tracker.models import FetchResult
from tracker.redact import mask_url

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9,"
    " application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


class Client:
    """The feeds' one shared HTTP client: each request an ``httpx.Request`` with tracker's
    headers and timeouts, sent through ``transport`` (aiohttp's pool by default; a test may
    pass an ``httpx.MockTransport``).

    Not ``httpx.AsyncClient``: around each request it runs a cookie jar, the auth and
    redirect machinery and URL and header merging, which together cost about as much CPU as
    the request itself (a 304 took 0.41 ms through it, 0.22 ms without; 300 polls against
    nginx). fetch() follows redirects itself and sends credentials as a header.
    """

    def __init__(
        self, transport: httpx.AsyncBaseTransport, *, timeout_s: float, user_agent: str
    ) -> None:
        self.transport = transport
        # Only what _read decodes (httpx would offer br or zstd where those are installed).
        self.headers = {
            "User-Agent": user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": "gzip, deflate",
        }
        self._extensions = {"timeout": httpx.Timeout(timeout_s).as_dict()}

    def request(
        self, url: str, headers: dict[str, str], auth: tuple[str, str] | None
    ) -> httpx.Request:
        """A GET of ``url`` with the client's headers, then ``headers`` (a feed's own may
        override them), and Basic credentials when given."""
        target = _url(url)
        merged = self.headers | headers if headers else self.headers
        # Host first, as httpx's content machinery would put it, unless the feed sets its own.
        fields = list(merged.items())
        if not (headers and any(k.lower() == "host" for k in headers)):
            fields.insert(0, ("Host", target.netloc.decode("ascii")))  # IDNA-encoded already
        # With a stream given, httpx skips its body encoding (and the second Headers build
        # and encoding checks it takes): building a Request took 8.5 us, now 3.4.
        request = httpx.Request(
            "GET", target, headers=fields, stream=_NO_BODY, extensions=self._extensions
        )
        if auth is not None:
            # httpx's own Basic scheme, applied to the request (one step, no challenge).
            request = next(httpx.BasicAuth(*auth).auth_flow(request))
        return request

    async def send(self, request: httpx.Request) -> httpx.Response:
        """The answer to ``request``, its body not read yet (``aclose`` it when done)."""
        return await self.transport.handle_async_request(request)

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self.transport.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


# A feed request has no body; one empty stream serves them all (it holds no state).
_NO_BODY = httpx.ByteStream(b"")


@functools.lru_cache(maxsize=20_000)
def _url(text: str) -> httpx.URL:
    """``text`` parsed, once per feed (for up to 20,000 feeds, ~400 bytes each): parsing it
    again at every poll was a tenth of a 304's CPU in the daemon (py-spy)."""
    return httpx.URL(text)


def make_client(*, timeout_s: float, user_agent: str, concurrency: int) -> Client:
    """The daemon's one shared HTTP client (connection pool sized to the concurrency limit).

    aiohttp's pool, not httpcore's: httpcore's cost 1.5–2.3 ms CPU per 304 under concurrency
    (encode/httpx#3215), aiohttp's 0.8 ms (bench/bench_poll.py).
    """
    return Client(AiohttpTransport(concurrency), timeout_s=timeout_s, user_agent=user_agent)


REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT = frozenset({301, 308})

IPAddress = IPv4Address | IPv6Address


def internal_address(ip: IPAddress) -> bool:
    """Loopback, private, link-local, shared (CGNAT) or otherwise not globally reachable:
    where a redirect from a public feed must not lead (an SSRF path into this network)."""
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global


def _kind(ip: IPAddress) -> str:
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private:
        return "private"
    return "non-public"


async def _resolve(url: str) -> list[IPAddress]:
    """Every address ``url``'s host resolves to (a literal IP is its own)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        return [ip_address(host.split("%", 1)[0])]
    except ValueError:
        pass
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConnectFailed(f"cannot resolve {host}: {exc.strerror or exc}") from exc
    return [ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


class RedirectGuard:
    """Refuses a redirect from a feed on a public address to an internal one, by the
    addresses the target's host resolves to (not its spelling: ``localhost``, a name that
    resolves to 10.0.0.5, ``[::ffff:127.0.0.1]`` all count). A feed configured on an
    internal address may redirect within it. ``internal`` decides what counts (tests treat
    one loopback alias as public)."""

    def __init__(
        self, allow: bool = False, internal: Callable[[IPAddress], bool] = internal_address
    ) -> None:
        self.allow = allow
        self.internal = internal

    async def check(self, feed_url: str, target: str, public_feed: bool | None) -> bool:
        """Raise RedirectRefused for ``target``; returns whether the feed is public (pass it
        back in, so that the feed's own host is resolved once per fetch)."""
        if self.allow:
            return False
        if public_feed is None:
            public_feed = not any(map(self.internal, await _resolve(feed_url)))
        if not public_feed:
            return False
        for ip in await _resolve(target):
            if self.internal(ip):
                host = urlsplit(target).hostname
                raise RedirectRefused(
                    f"refusing redirect from a public address to the {_kind(ip)} address"
                    f" {ip} ({host}): {mask_url(target)[:200]}"
                    " (fetch.allow_private_redirects: true allows it)"
                )
        return True


NO_GUARD = RedirectGuard(allow=True)


async def fetch(
    client: Client,
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    max_bytes: int,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    max_redirects: int = 5,
    deadline_s: float = 120.0,
    redirects: RedirectGuard | None = None,
) -> FetchResult:
    """Conditional GET of ``url``; raise a FetchError (errors.py's tree) for anything that is
    not 200 or 304.

    Redirects are followed here rather than by httpx, so that a feed's own headers and
    credentials never travel to another origin and https never downgrades to http, and so
    that ``redirects`` (by default a RedirectGuard refusing internal targets of a public
    feed) sees each hop. A chain that starts with permanent redirects (301, 308) sets the
    result's ``moved_to``. The whole exchange, redirects and body included, must finish
    within ``deadline_s``.
    """
    guard = redirects if redirects is not None else RedirectGuard()
    try:
        async with asyncio.timeout(deadline_s):
            return await _fetch(
                client, url, etag, last_modified, max_bytes, headers, auth, max_redirects, guard
            )
    except TimeoutError as exc:
        raise FetchTimeout(f"took longer than {deadline_s:g}s in all (fetch.deadline)") from exc


async def _fetch(
    client: Client,
    url: str,
    etag: str | None,
    last_modified: str | None,
    max_bytes: int,
    headers: dict[str, str] | None,
    auth: tuple[str, str] | None,
    max_redirects: int,
    guard: RedirectGuard,
) -> FetchResult:
    req_headers = dict(headers or {})
    if etag:
        req_headers["If-None-Match"] = etag
    if last_modified:
        req_headers["If-Modified-Since"] = last_modified
    started = time.monotonic()
    feed_url = url
    public_feed: bool | None = None
    moved_to: str | None = None
    permanent = True  # so far every hop was a permanent redirect
    try:
        for hop in range(max_redirects + 1):
            same_origin = hop == 0 or _origin(url) == _origin(feed_url)
            request = client.request(
                url,
                req_headers if same_origin else _conditional_only(req_headers),
                auth if same_origin else None,
            )
            resp = await client.send(request)
            try:
                if resp.status_code in REDIRECTS and "location" in resp.headers:
                    target = redirect_target(url, resp.headers["location"])
                    public_feed = await guard.check(feed_url, target, public_feed)
                    permanent = permanent and resp.status_code in PERMANENT
                    if permanent:
                        moved_to = target
                    url = target
                    continue
                result = await _read(url, resp, started, etag, last_modified, max_bytes)
                return dataclasses.replace(result, moved_to=moved_to) if moved_to else result
            finally:
                await resp.aclose()
        raise RedirectRefused(f"too many redirects (more than {max_redirects})")
    except (FetchError, asyncio.CancelledError):
        raise
    except Exception as exc:  # the transport's errors, httpx's (a bad URL), malformed answers
        raise _translate(exc) from exc


async def _read(
    url: str,
    resp: httpx.Response,
    started: float,
    etag: str | None,
    last_modified: str | None,
    max_bytes: int,
) -> FetchResult:
    if resp.status_code == 304:
        return _result(url, resp, None, started, etag, last_modified)
    if resp.status_code != 200:
        raise _status_error(resp)
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(f"response too large: {declared} bytes (max_bytes {max_bytes})")
    # The raw bytes, decoded here: httpx's decoders expand each chunk without a bound, so a
    # few KB of "Content-Encoding: gzip, gzip" became gigabytes before any size check.
    inflater = Inflater.for_encoding(resp.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    size = 0
    async for raw in resp.aiter_raw():
        chunks.append(inflater.feed(raw, max_bytes - size) if inflater else raw)
        size += len(chunks[-1])
        if size > max_bytes:
            break
    if inflater and size <= max_bytes:
        chunks.append(inflater.finish(max_bytes - size))
        size += len(chunks[-1])
    if size > max_bytes:
        raise ResponseTooLarge(f"response too large: over {max_bytes} bytes (max_bytes)")
    return _result(url, resp, b"".join(chunks), started, etag, last_modified)


class Inflater:
    """A gzip or deflate body, decoded with a cap on what comes out, not only what goes in."""

    # What some servers send as Content-Encoding without compressing anything: ignored, as
    # httpx did. Any other unknown coding is refused (the body cannot be read).
    _NOT_CODINGS = frozenset({"identity", "none", "utf-8", "utf8", "binary", "text", "plain"})

    def __init__(self, coding: str) -> None:
        self.coding = coding
        wbits = zlib.MAX_WBITS | 16 if coding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._zlib = zlib.decompressobj(wbits)
        # "deflate" is often sent raw, without the zlib header (as browsers allow): which
        # one it is shows in the first two bytes, so they are collected before decoding.
        self._head = b"" if coding == "deflate" else None

    @classmethod
    def for_encoding(cls, header: str) -> Inflater | None:
        codings = [c.strip().lower() for c in header.split(",")]
        codings = [c for c in codings if c and c not in cls._NOT_CODINGS]
        if not codings:
            return None
        if len(codings) > 1:
            raise DecodeFailed(f"unsupported Content-Encoding {header!r}: more than one layer")
        if codings[0] not in ("gzip", "x-gzip", "deflate"):
            raise DecodeFailed(f"unsupported Content-Encoding {header!r} (gzip or deflate only)")
        return cls(codings[0])

    def feed(self, data: bytes, room: int) -> bytes:
        """Decoded bytes, at most ``room + 1`` of them: more than ``room`` is too large."""
        if self._head is not None:
            self._head += data
            if len(self._head) < 2:
                return b""
            data, self._head = self._head, None
            if (data[0] * 256 + data[1]) % 31 or data[0] & 0x0F != 8:  # no zlib header
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            return self._zlib.decompress(data, room + 1)
        except zlib.error as exc:
            raise DecodeFailed(f"bad content encoding: {self.coding}: {exc}") from exc

    def finish(self, room: int) -> bytes:
        tail = b""
        if self._head:  # a deflate body of one byte
            data, self._head = self._head, None
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            tail = self.feed(data, room)
        try:
            return tail + self._zlib.flush()
        except zlib.error as exc:
            raise DecodeFailed(f"bad content encoding: {self.coding}: {exc}") from exc


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def redirect_target(current: str, location: str) -> str:
    """Where a redirect from ``current`` to ``location`` goes; RedirectRefused for a target
    tracker will not follow (a downgrade to http, another scheme, credentials in the URL)."""
    try:
        target = urljoin(current, location.strip())
        scheme, netloc = urlsplit(target)[:2]
    except ValueError as exc:
        raise RedirectRefused(f"bad redirect Location {mask_url(location)[:200]!r}: {exc}") from exc
    if urlsplit(current).scheme == "https" and scheme != "https":
        raise RedirectRefused(f"refusing redirect from https to {scheme}: {mask_url(target)[:200]}")
    if scheme not in ("http", "https"):
        raise RedirectRefused(f"refusing redirect to a non-HTTP URL: {mask_url(target)[:200]}")
    if "@" in netloc:  # credentials go in feeds[].auth, never in a server's redirect
        host = netloc.rpartition("@")[2]
        raise RedirectRefused(f"refusing redirect to a URL with credentials (host {host})")
    return target


def _conditional_only(headers: dict[str, str]) -> dict[str, str]:
    """What may follow a redirect to another origin: validators, not keys or cookies."""
    keep = {"if-none-match", "if-modified-since"}
    return {k: v for k, v in headers.items() if k.lower() in keep}


# What a foreign exception means, most specific class first (as httpx's own transports map
# httpcore's errors). aiohttp's timeouts are TimeoutErrors and its connector errors OSErrors;
# httpx's classes are for a transport that raises them (httpx.MockTransport in a test).
_TIMEOUTS = (aiohttp.ServerTimeoutError, httpx.TimeoutException, TimeoutError)
_NO_CONNECTION = (aiohttp.ClientConnectorError, httpx.ConnectError, OSError)
_MALFORMED = (
    aiohttp.ClientResponseError,  # the answer's status line or headers could not be parsed
    aiohttp.ClientPayloadError,  # the body ended early or its chunked framing is broken
    aiohttp.ServerDisconnectedError,  # the connection closed before any answer
    httpx.RemoteProtocolError,
)
_BAD_URLS = (
    aiohttp.InvalidURL,
    aiohttp.NonHttpUrlClientError,
    httpx.InvalidURL,
    httpx.UnsupportedProtocol,
)


def _translate(exc: Exception) -> FetchError:
    """The FetchError for an exception from the transport (aiohttp's, unmapped) or from
    httpx's request and response objects, with a message naming what really failed."""
    if isinstance(exc, _TIMEOUTS):
        return FetchTimeout(f"timed out ({type(exc).__name__})")
    if isinstance(exc, _NO_CONNECTION):
        return ConnectFailed(f"ConnectError: {_connect_text(exc)}")
    text = _error_text(exc)
    if isinstance(exc, _MALFORMED):
        return InvalidResponse(text)
    if isinstance(exc, _BAD_URLS):
        return InvalidURL(text)
    return FetchError(text)


def _connect_text(exc: BaseException) -> str:
    """Why no connection: the host, port and the system's reason. aiohttp's own text names
    its TLS setting even for plain http:// (`… ssl:default [Name or service not known]`)."""
    if isinstance(exc, aiohttp.ClientConnectorError) and not isinstance(
        exc, aiohttp.ClientSSLError
    ):
        reason = exc.os_error.strerror or str(exc.os_error) or "failed"
        return _one_line(f"cannot connect to {exc.host}:{exc.port}: {reason}")
    return _one_line(str(exc))


def _error_text(exc: BaseException) -> str:
    # aiohttp's parser errors carry the server's bytes under a caret, over several lines.
    if isinstance(exc, aiohttp.ClientResponseError) and isinstance(exc.message, str):
        lines = [line.strip() for line in exc.message.split("\n") if line.strip()]
        return "invalid HTTP answer: " + _one_line(" ".join(lines[:2]))
    return f"{type(exc).__name__}: {_one_line(str(exc)) or 'request failed'}"


def _one_line(text: str, limit: int = 300) -> str:
    """The first line, shortened: aiohttp's protocol errors quote the server's bytes over
    several lines, with a caret under them."""
    line = text.strip().split("\n", 1)[0].strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _result(
    url: str,
    resp: httpx.Response,
    body: bytes | None,
    started: float,
    old_etag: str | None,
    old_last_modified: str | None,
) -> FetchResult:
    headers = dict(resp.headers.items())  # names lowercased, repeated ones joined by httpx
    # A 304 may omit validators; keep the ones we sent so the next request stays conditional.
    return FetchResult(
        url=url,  # the last hop's, as requested
        status=resp.status_code,
        body=body,
        headers=headers,
        etag=headers.get("etag") or old_etag,
        last_modified=headers.get("last-modified") or old_last_modified,
        elapsed_s=time.monotonic() - started,
    )


def _status_error(resp: httpx.Response) -> HTTPStatusError:
    status = resp.status_code
    retry = parse_retry_after(resp.headers.get("retry-after")) if status in (429, 503) else None
    reason = resp.reason_phrase or ""
    hint = {
        401: "the feed needs credentials (feeds[].auth)",
        403: "the server refuses us",
        404: "the feed URL is wrong or the feed was moved",
        410: "the feed is gone for good; remove it from config.yaml",
        429: "the server asks us to slow down",
    }.get(status)
    message = f"HTTP {status} {reason}".rstrip() + (f": {hint}" if hint else "")
    return HTTPStatusError(message, status=status, retry_after_s=retry)
