"""aiohttp's connection pool behind httpx's transport interface: how feed requests travel.

``ingest.fetch`` builds each request as an ``httpx.Request`` and reads an ``httpx.Response``;
this transport carries them over one ``aiohttp.ClientSession``, opened at the first request
on the running loop. Compared with the httpx-aiohttp package it replaces, it does only what
a feed poll needs, once: no cookie jar (a feed's cookies are never sent to another feed),
one ``ClientTimeout`` per timeout setting instead of one per request, the URL handed over
already encoded, and the TLS context (the certifi bundle, or ``$SSL_CERT_FILE`` /
``$SSL_CERT_DIR``, as httpx chooses) built at the first https request rather than at start.
Certificates are always verified: there is no setting that turns it off.

Errors are aiohttp's own, unmapped: ``fetch._translate`` names them.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import aiohttp
import httpx
from yarl import URL

# How long an idle kept-alive connection stays in the pool (httpx's default, kept).
KEEPALIVE_S = 5.0


class _Body(httpx.AsyncByteStream):
    """An aiohttp response's body as httpx's stream: the raw bytes, as they arrive."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.content.iter_any():
            yield chunk

    async def aclose(self) -> None:
        # Back to the pool when the body was read to its end, else the connection is closed.
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends body-less requests (what a feed poll sends) over a pool of at most
    ``max_connections`` connections; the response's body is left to the caller to read
    (undecoded: ``auto_decompress`` is off, ``fetch`` inflates with a cap)."""

    def __init__(self, max_connections: int, keepalive_s: float = KEEPALIVE_S) -> None:
        self.max_connections = max_connections
        self.keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[
            tuple[float | None, float | None, float | None], aiohttp.ClientTimeout
        ] = {}
        self._tls: ssl.SSLContext | None = None
        self._tls_loading: asyncio.Future[ssl.SSLContext] | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self.max_connections, keepalive_timeout=self.keepalive_s
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            # The request's own headers are all there is (fetch sets User-Agent, Accept and
            # Accept-Encoding): none of aiohttp's defaults are added.
            skip_auto_headers=("User-Agent",),
        )
        return self._session

    def _timeout(self, request: httpx.Request) -> aiohttp.ClientTimeout:
        # httpx's timeout extension, mapped as httpx-aiohttp did: connect → sock_connect,
        # read → sock_read, pool (waiting for a free connection) → connect.
        t = request.extensions.get("timeout", {})
        key = (t.get("connect"), t.get("read"), t.get("pool"))
        found = self._timeouts.get(key)
        if found is None:
            found = self._timeouts[key] = aiohttp.ClientTimeout(
                total=None, sock_connect=key[0], sock_read=key[1], connect=key[2]
            )
        return found

    async def _tls_context(self) -> ssl.SSLContext:
        """The context https requests are verified with, loaded once (in a thread: reading
        the CA bundle takes tens of milliseconds) at the first https request."""
        if self._tls is None:
            if self._tls_loading is None:
                self._tls_loading = asyncio.ensure_future(
                    asyncio.to_thread(httpx.create_ssl_context)
                )
            self._tls = await asyncio.shield(self._tls_loading)
        return self._tls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method not in ("GET", "HEAD"):
            raise NotImplementedError(f"feed requests are GET or HEAD, not {request.method}")
        session = self._session or self._open()
        url = request.url
        tls: ssl.SSLContext | bool = await self._tls_context() if url.scheme == "https" else True
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        response = await session.request(
            request.method,
            URL(str(url), encoded=True),  # httpx has parsed and encoded it already
            headers=headers,
            allow_redirects=False,
            timeout=self._timeout(request),
            ssl=tls,
        )
        extensions = {
            "http_version": b"HTTP/1.1",
            "reason_phrase": (response.reason or "").encode(),
        }
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_Body(response),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        """Close every pooled connection."""
        if self._session is not None:
            await self._session.close()
            self._session = None
