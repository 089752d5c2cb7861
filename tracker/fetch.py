"""The one place that knows HTTP: conditional GET, limits, redirects, status handling."""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime

import httpx
from httpx_aiohttp import AiohttpTransport

from .errors import FetchError
from .models import FetchResult

# The shared client's type, for modules that pass it around without knowing HTTP.
Client = httpx.AsyncClient

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9,"
    " application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


def make_client(
    *, timeout_s: float, max_redirects: int, user_agent: str, concurrency: int
) -> httpx.AsyncClient:
    """The daemon's one shared HTTP client (connection pool sized to the concurrency limit).

    httpx's API over aiohttp's transport: httpcore's pool cost 1.5–2.3 ms CPU per 304 under
    concurrency (encode/httpx#3215), aiohttp's 0.8 ms (bench/bench_poll.py).
    """
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(
        transport=AiohttpTransport(limits=limits),
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=True,
        max_redirects=max_redirects,
        headers={"User-Agent": user_agent, "Accept": ACCEPT},
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now_dt = datetime.fromtimestamp(now if now is not None else time.time(), tz=UTC)
    return max(0.0, (when - now_dt).total_seconds())


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    max_bytes: int,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> FetchResult:
    """Conditional GET of ``url``; raise FetchError for anything that is not 200 or 304."""
    req_headers = dict(headers or {})
    if etag:
        req_headers["If-None-Match"] = etag
    if last_modified:
        req_headers["If-Modified-Since"] = last_modified
    started = time.monotonic()
    try:
        async with client.stream("GET", url, headers=req_headers, auth=auth) as resp:
            if resp.status_code == 304:
                return _result(url, resp, None, started, etag, last_modified)
            if resp.status_code != 200:
                raise _status_error(resp)
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"response too large: {declared} bytes (max_bytes {max_bytes})")
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"response too large: over {max_bytes} bytes (max_bytes)")
                chunks.append(chunk)
            return _result(url, resp, b"".join(chunks), started, etag, last_modified)
    except httpx.TooManyRedirects as exc:
        raise FetchError(f"too many redirects: {exc}") from exc
    except httpx.DecodingError as exc:
        raise FetchError(f"bad content encoding: {exc}") from exc
    except httpx.HTTPError as exc:
        raise FetchError(_describe(exc)) from exc
    except UnicodeError as exc:
        raise FetchError(f"invalid URL: {exc}") from exc


def _describe(exc: httpx.HTTPError) -> str:
    """A message naming what really failed: the transport maps e.g. connection refused onto
    httpx.ConnectTimeout, so the original exception is the one to describe."""
    cause = exc.__cause__ or exc
    if isinstance(cause, TimeoutError) or "Timeout" in type(cause).__name__:
        return f"timed out ({type(cause).__name__})"
    if "Connector" in type(cause).__name__ or isinstance(cause, OSError):
        return f"ConnectError: {cause}"
    return f"{type(cause).__name__}: {cause or 'request failed'}"


def _result(
    url: str,
    resp: httpx.Response,
    body: bytes | None,
    started: float,
    old_etag: str | None,
    old_last_modified: str | None,
) -> FetchResult:
    # A 304 may omit validators; keep the ones we sent so the next request stays conditional.
    return FetchResult(
        url=str(resp.url) or url,
        status=resp.status_code,
        body=body,
        headers={k.lower(): v for k, v in resp.headers.items()},
        etag=resp.headers.get("etag") or old_etag,
        last_modified=resp.headers.get("last-modified") or old_last_modified,
        elapsed_s=time.monotonic() - started,
    )


def _status_error(resp: httpx.Response) -> FetchError:
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
    return FetchError(message, status=status, retry_after_s=retry)
