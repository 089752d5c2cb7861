"""Webhook delivery: a versioned JSON payload (or a Slack/Discord message, ``chat``), HMAC-signed.

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

from tracker.delivery.channels import chat, digest_key, register
from tracker.delivery.channels.render import view
from tracker.models import Alert, SendKind, SendResult
from tracker.settings import WebhookSettings

# 2: alerts carry their ``story`` (every report) and ``update``.
PAYLOAD_VERSION = 2
RETRY_STATUSES = frozenset({408, 425, 429})


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts else None


def story_json(a: Alert) -> dict[str, Any] | None:
    """The alert's story: id, headline, first seen, and every report known at send time."""
    if a.story_id is None:
        return None
    return {
        "id": a.story_id,
        "headline": a.headline or a.title,
        "first_seen": _iso(a.story_first_seen),
        "reports": [
            {
                "feed": r.feed,
                "lang": r.lang,
                "title": r.title,
                "link": r.link,
                "published": _iso(r.published_at),
            }
            for r in a.reports
        ],
    }


def alert_json(a: Alert) -> dict[str, Any]:
    """One alert in the documented payload shape (version 2, docs/webhook-payload.schema.json)."""
    v = view(a)
    return {
        "topic": a.topic,
        "update": a.update,
        "story": story_json(a),
        "article": {
            "title": a.title,
            "url": a.url,
            "canonical_url": v.link,
            "feed": a.feed,
            "published_at": _iso(a.published_at),
            "lang": a.lang,
            "summary": a.summary,
        },
        "match": {
            "terms": list(a.terms),
            "snippet": a.snippet,
            "words": list(v.words),
            "reason": v.reason,
        },
        "idempotency_key": a.key,
        "created_at": _iso(a.created_at),
    }


def notice_json(a: Alert) -> dict[str, Any]:
    """An admin notice: its own type, with the kind of event it reports."""
    assert a.notice is not None
    return {
        "type": "notice",
        "kind": str(a.notice),
        "subject": a.title,
        "body": a.summary,
        "idempotency_key": a.key,
        "created_at": _iso(a.created_at),
    }


def payload(
    fmt: str, alerts: list[Alert], key: str, digest: bool, tz: str = "UTC"
) -> dict[str, Any]:
    """The body for ``json``, ``slack`` (Block Kit) or ``discord`` (embeds)."""
    match fmt:
        case "json":
            body: dict[str, Any] = {"version": PAYLOAD_VERSION, "idempotency_key": key}
            if digest:
                return body | {"type": "digest", "alerts": [alert_json(a) for a in alerts]}
            if alerts[0].notice is not None:
                return body | notice_json(alerts[0])
            return body | {"type": "alert", **alert_json(alerts[0])}
        case "slack":
            return chat.slack(alerts, digest, tz)
        case "discord":
            return chat.discord(alerts, digest, tz)
    raise ValueError(f"unknown webhook format {fmt!r}")


def _answer_text(resp: httpx.Response, raw: bytes) -> str:
    if resp.headers.get("content-encoding", "identity").strip().lower() != "identity":
        return "(compressed answer)"
    try:
        return raw.decode(resp.charset_encoding or "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        return raw.decode("utf-8", "replace")


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
            yield await self._post(
                payload(self.ch.format, alerts, key, True, self.ch.timezone), key
            )
            return
        for i, a in enumerate(alerts):
            body = payload(self.ch.format, [a], a.key, False, self.ch.timezone)
            result = await self._post(body, a.key)
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
