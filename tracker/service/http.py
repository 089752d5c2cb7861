"""Prometheus metrics and a small HTTP listener for ``/metrics`` and ``/healthz``.

The listener is an aiohttp app on the daemon's own event loop: no thread, and a stalled loop
shows up as a scrape timeout, which is the truth.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from typing import Literal, assert_never, get_args

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.aiohttp import make_aiohttp_handler

from tracker.log import event
from tracker.models import DeliveryStatus, PollResult

log = logging.getLogger(__name__)

# The delivery counter's status label: "retry" is a pending delivery after an attempt.
DeliveryLabel = Literal["sent", "retry", "dead"]
HealthCheck = Callable[[], tuple[bool, str]]

# Feed fetches range from a 304 on a LAN (ms) to a slow server near the 30 s timeout.
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# A check that takes longer than this is itself a failure (e.g. a database locked for long).
CHECK_TIMEOUT_S = 5.0


class Metrics:
    """tracker's metrics on a registry of their own, so tests and reloads never clash."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        topics: Iterable[str] = (),
        channels: Iterable[str] = (),
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.polls = Counter("tracker_polls", "Feed polls by result.", ["result"], registry=r)
        self.fetch_seconds = Histogram(
            "tracker_fetch_seconds", "Time to poll one feed.", buckets=FETCH_BUCKETS, registry=r
        )
        self.new_articles_total = Counter(
            "tracker_new_articles", "Articles stored for the first time.", registry=r
        )
        self.matches = Counter("tracker_matches", "Topic matches by topic.", ["topic"], registry=r)
        self.deliveries = Counter(
            "tracker_deliveries",
            "Alert delivery attempts by channel and outcome.",
            ["channel", "status"],
            registry=r,
        )
        self.outbox_depth = Gauge(
            "tracker_outbox_depth", "Alerts waiting for delivery.", registry=r
        )
        self.feeds_failing = Gauge(
            "tracker_feeds_failing", "Feeds whose last poll failed.", registry=r
        )
        self.last_tick = Gauge(
            "tracker_last_tick_timestamp_seconds",
            "UNIX time of the last scheduler tick.",
            registry=r,
        )
        # Series that exist from the start read 0 instead of missing, so rate() and alerts work.
        for result in get_args(PollResult):
            self.polls.labels(result)
        for topic in topics:
            self.matches.labels(topic)
        for channel in channels:
            for status in get_args(DeliveryLabel):
                self.deliveries.labels(channel, status)

    def poll(self, result: PollResult, seconds: float) -> None:
        """One feed poll finished with ``result`` after ``seconds``."""
        if result not in get_args(PollResult):
            raise ValueError(f"unknown poll result {result!r}")
        self.polls.labels(result).inc()
        self.fetch_seconds.observe(seconds)

    def new_articles(self, n: int) -> None:
        """``n`` articles were stored for the first time."""
        self.new_articles_total.inc(n)

    def match(self, topic: str) -> None:
        """An article matched ``topic``."""
        self.matches.labels(topic).inc()

    def delivery(self, channel: str, status: DeliveryLabel) -> None:
        """One delivery attempt on ``channel``: sent, retry (will try again) or dead (gave up)."""
        if status not in get_args(DeliveryLabel):
            raise ValueError(f"unknown delivery status {status!r}")
        self.deliveries.labels(channel, status).inc()

    def delivery_outcome(self, channel: str, status: DeliveryStatus) -> None:
        """Count one recorded attempt by the status it left the delivery in."""
        label: DeliveryLabel
        match status:
            case DeliveryStatus.SENT:
                label = "sent"
            case DeliveryStatus.PENDING:
                label = "retry"
            case DeliveryStatus.DEAD:
                label = "dead"
            case DeliveryStatus.CANCELLED:  # set by the CLI, never by an attempt
                return
            case _:
                assert_never(status)
        self.delivery(channel, label)

    def set_outbox_depth(self, n: int) -> None:
        self.outbox_depth.set(n)

    def set_feeds_failing(self, n: int) -> None:
        self.feeds_failing.set(n)

    def tick(self, ts: float) -> None:
        """The scheduler ticked at UNIX time ``ts``."""
        self.last_tick.set(ts)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


def all_of(*checks: HealthCheck) -> HealthCheck:
    """One check from several: the first failure wins, else ok."""

    def combined() -> tuple[bool, str]:
        for check in checks:
            ok, reason = check()
            if not ok:
                return False, reason
        return True, "ok"

    return combined


class HealthServer:
    """``GET /metrics`` and ``GET /healthz`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        metrics: Metrics,
        check: HealthCheck,
        host: str = "127.0.0.1",
        port: int = 9464,
        routes: Callable[[web.Application], None] | None = None,
    ) -> None:
        self.metrics = metrics
        self.routes = routes  # more pages on this listener (the status page)
        self.check = check
        self.host = host
        self.requested_port = port
        self.port: int | None = None  # the bound port, once started
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        # prometheus_client's handler negotiates OpenMetrics vs text format and gzip.
        app.router.add_get("/metrics", make_aiohttp_handler(self.metrics.registry))
        app.router.add_get("/healthz", self._healthz)
        if self.routes is not None:
            self.routes(app)
        return app

    async def start(self) -> None:
        """Bind and serve; raises OSError when the address is taken or invalid."""
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await runner.setup()
        # An empty host (":9464") means every interface, IPv4 and IPv6.
        site = web.TCPSite(runner, self.host or None, self.requested_port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = _bound_port(runner)
        event(log, logging.INFO, "health.listening", host=self.host or "*", port=self.port)

    async def stop(self) -> None:
        """Close the listener and any open connections."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        # Checks may block (SQLite), so they run in a worker thread, never on the loop.
        try:
            ok, reason = await asyncio.wait_for(asyncio.to_thread(self.check), CHECK_TIMEOUT_S)
        except TimeoutError:
            ok, reason = False, f"health check took longer than {CHECK_TIMEOUT_S:.0f}s"
        except Exception as exc:  # a buggy check is an unhealthy daemon, not a 500
            ok, reason = False, f"health check failed: {exc!r}"
        if ok:
            return _json(200, {"status": "ok"})
        event(log, logging.WARNING, "health.unhealthy", reason=reason)
        return _json(503, {"status": "unhealthy", "reason": reason})


def _json(status: int, body: dict[str, str]) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body) + "\n", content_type="application/json"
    )


def _bound_port(runner: web.AppRunner) -> int:
    addresses = runner.addresses
    if not addresses:
        raise RuntimeError("health listener has no bound address")
    return int(addresses[0][1])
