"""Webhook delivery: a versioned JSON payload (or a Slack/Discord message), HMAC-signed.

Signature: ``X-Tracker-Signature: sha256=<hex>``, the HMAC-SHA256 with the channel's secret
of ``<X-Tracker-Timestamp>.<raw body>``; README.md gives the verification recipe.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

import httpx

from tracker.delivery.channels import digest_key, register
from tracker.delivery.channels.render import subject
from tracker.models import Alert, SendKind, SendResult
from tracker.settings import WebhookSettings

PAYLOAD_VERSION = 1
RETRY_STATUSES = frozenset({408, 425, 429})


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts else None


def alert_json(a: Alert) -> dict[str, Any]:
    """One alert in the documented payload shape (version 1)."""
    return {
        "topic": a.topic,
        "article": {
            "title": a.title,
            "url": a.url,
            "feed": a.feed,
            "published_at": _iso(a.published_at),
            "lang": a.lang,
            "summary": a.summary,
        },
        "match": {"terms": list(a.terms), "snippet": a.snippet},
        "idempotency_key": a.key,
        "created_at": _iso(a.created_at),
    }


def payload(fmt: str, alerts: list[Alert], key: str, digest: bool) -> dict[str, Any]:
    """The body for ``json``, ``slack`` or ``discord``."""
    if fmt == "json":
        body: dict[str, Any] = {"version": PAYLOAD_VERSION, "idempotency_key": key}
        if digest:
            body |= {"type": "digest", "alerts": [alert_json(a) for a in alerts]}
        else:
            body |= {"type": "alert", **alert_json(alerts[0])}
        return body
    lines = [_chat_escape(fmt, subject(alerts))] if digest else []
    for a in alerts:
        # A "|" would end a Slack link's URL and start a label the feed chose.
        url = a.url.replace("|", "%7C") if a.url else None
        link = f" <{_chat_escape(fmt, url)}>" if url else ""
        lines.append(f"[{_chat_escape(fmt, a.topic)}] {_chat_escape(fmt, a.title)}{link}")
    text = "\n".join(lines)
    if fmt == "slack":
        return {"text": text}
    # Discord caps content at 2000 characters; no feed text may ping @everyone or a role.
    return {"content": text[:2000], "allowed_mentions": {"parse": []}}


def _answer_text(resp: httpx.Response, raw: bytes) -> str:
    if resp.headers.get("content-encoding", "identity").strip().lower() != "identity":
        return "(compressed answer)"
    try:
        return raw.decode(resp.charset_encoding or "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        return raw.decode("utf-8", "replace")


def _chat_escape(fmt: str, text: str) -> str:
    """Feed text as plain text in chat markup: no Slack links or mentions (<!channel>)."""
    if fmt == "slack":
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``timestamp + "." + body``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


# Of the receiver's answer only this much is read (a receiver may send gigabytes); its
# start is what `tracker alerts` shows.
ANSWER_BYTES = 4096


def classify(resp: httpx.Response, text: str) -> SendResult:
    """2xx accepted; 408/425/429/5xx retried (honouring Retry-After); other 4xx permanent."""
    from tracker.backoff import parse_retry_after

    answer = f"HTTP {resp.status_code} {text[:300]}".strip()
    if resp.is_success:
        return SendResult(SendKind.ACCEPTED, answer)
    if resp.status_code in RETRY_STATUSES or resp.status_code >= 500:
        retry = parse_retry_after(resp.headers.get("retry-after"))
        return SendResult(SendKind.RETRY, answer, retry_after_s=retry)
    return SendResult(SendKind.PERMANENT, answer)


@register(WebhookSettings)
class WebhookNotifier:
    """POSTs alerts to one URL."""

    def __init__(self, name: str, ch: WebhookSettings) -> None:
        self.name = name
        self.ch = ch
        # The answer is only glanced at (see _post): asked uncompressed.
        self.client = httpx.AsyncClient(
            timeout=ch.timeout_s, follow_redirects=False, headers={"Accept-Encoding": "identity"}
        )

    async def send(self, alerts: list[Alert], digest: bool) -> AsyncGenerator[SendResult, None]:
        if digest:
            key = digest_key(alerts)
            yield await self._post(payload(self.ch.format, alerts, key, True), key)
            return
        for i, a in enumerate(alerts):
            result = await self._post(payload(self.ch.format, [a], a.key, False), a.key)
            yield result
            if result.kind is SendKind.TRANSPORT:
                # The endpoint is unreachable: the rest of the batch would wait just as long.
                for _ in alerts[i + 1 :]:
                    yield SendResult(SendKind.RETRY, f"not tried: {result.detail}")
                return

    async def _post(self, body_json: dict[str, Any], key: str) -> SendResult:
        body = json.dumps(body_json, ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        headers = {
            **dict(self.ch.headers),
            "Content-Type": "application/json",
            "User-Agent": "tracker-webhook/1",
            "Idempotency-Key": key,
            "X-Tracker-Timestamp": timestamp,
        }
        if self.ch.secret is not None:
            headers["X-Tracker-Signature"] = sign(self.ch.secret, timestamp, body)
        try:
            # httpx's timeout is per read; a server that drips bytes gets an overall deadline.
            async with (
                asyncio.timeout(self.ch.timeout_s * 2),
                self.client.stream("POST", self.ch.url, content=body, headers=headers) as resp,
            ):
                # The start of the answer only: a receiver may send gigabytes.
                answer = b""
                async for chunk in resp.aiter_raw():
                    answer += chunk
                    if len(answer) >= ANSWER_BYTES:
                        break
        except (httpx.TimeoutException, TimeoutError) as exc:
            return SendResult(SendKind.TRANSPORT, f"timed out ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return SendResult(SendKind.TRANSPORT, f"{type(exc).__name__}: {exc}")
        return classify(resp, _answer_text(resp, answer[:ANSWER_BYTES]))

    async def aclose(self) -> None:
        await self.client.aclose()
