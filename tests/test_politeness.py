"""Politeness (issue 13 item 5): per-host limit and spacing, a feed's own interval floor
(<ttl>, sy:updatePeriod, Cache-Control max-age), the User-Agent. Real HTTP over loopback:
two servers on 127.0.0.1 and 127.0.0.2 are two hosts."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tracker.config import loader as config_mod
from tracker.config.schema import PROJECT_URL, VERSION
from tracker.config.settings import to_settings
from tracker.ingest.fetch import make_client
from tracker.ingest.hosts import HostLimiter, cache_max_age, feed_floor, floored
from tracker.ingest.pipeline import Poller
from tracker.models import FeedSpec, FeedState, PollOutcome
from tracker.service.daemon import poll_settings
from tracker.service.scheduler import FeedScheduler
from tracker.store.facade import Store

from conftest import run_cli


def _rss(channel_extra: str = "", title: str = "one") -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"'
        ' xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel><title>t</title>'
        f"{channel_extra}<item><title>{title}</title><link>http://x.example/{title}</link>"
        f"<guid>{title}</guid></item></channel></rss>"
    ).encode()


class Farm:
    """One threaded HTTP server on ``host``: serves ``docs`` by path (with ETag and 304),
    sleeps ``delay`` per request, and counts requests in flight at once, per host."""

    def __init__(self, host: str, counts: Counts, delay: float = 0.0) -> None:
        self.docs: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.agents: list[str] = []
        self.delay = delay
        farm = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                counts.enter(host)
                try:
                    farm.agents.append(self.headers.get("User-Agent", ""))
                    time.sleep(farm.delay)
                    body, headers = farm.docs.get(self.path, (b"", {}))
                    etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
                    if self.headers.get("If-None-Match") == etag:
                        self.send_response(304)
                        body = b""
                    else:
                        self.send_response(200 if farm.docs.get(self.path) else 404)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Content-Length", str(len(body)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    counts.leave(host)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer((host, 0), Handler)
        self.http.daemon_threads = True
        self.base = f"http://{host}:{self.http.server_port}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


class Counts:
    """Requests in flight per host, and the most seen at once (per host and in all)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.peak_total = 0

    def enter(self, host: str) -> None:
        with self.lock:
            self.now[host] = self.now.get(host, 0) + 1
            self.peak[host] = max(self.peak.get(host, 0), self.now[host])
            self.peak_total = max(self.peak_total, sum(self.now.values()))

    def leave(self, host: str) -> None:
        with self.lock:
            self.now[host] -= 1


@pytest.fixture
def farms() -> Iterator[tuple[Farm, Farm, Counts]]:
    counts = Counts()
    try:
        b = Farm("127.0.0.2", counts, delay=0.3)
    except OSError as exc:  # 127.0.0.2 is on lo on Linux; not on every system
        pytest.skip(f"cannot bind 127.0.0.2: {exc}")
    a = Farm("127.0.0.1", counts, delay=0.3)
    try:
        yield a, b, counts
    finally:
        a.close()
        b.close()


def _config_text(tmp_path: Path, urls: list[str], fetch: str = "") -> str:
    lines = ["database: t.db", "defaults: {interval: 10m, jitter: 0s}", f"fetch: {{{fetch}}}"]
    lines += ["feeds:"] + [f"  - url: {u}" for u in urls]
    lines += ["topics:", "  wall:", "    query: 'border wall'"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("fetch", ["concurrency: 20", "concurrency: 20, per_host: 3"])
def test_run_once_keeps_the_per_host_limit_and_hosts_are_separate(
    tmp_path: Path, farms: tuple[Farm, Farm, Counts], fetch: str
) -> None:
    a, b, counts = farms
    urls = []
    for farm in (a, b):
        for i in range(7):
            farm.docs[f"/f{i}.xml"] = (_rss(title=f"i{i}"), {})
            urls.append(f"{farm.base}/f{i}.xml")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(_config_text(tmp_path, urls, fetch))
    done = run_cli("--config", str(cfg), "run", "--once")
    assert done.returncode == 0, done.stderr
    limit = 3 if "per_host" in fetch else 2  # the default is 2
    assert counts.peak == {"127.0.0.1": limit, "127.0.0.2": limit}
    # Both hosts were polled at the same time: the limit is per host, not global.
    assert counts.peak_total > limit
    agent = a.agents[0]
    assert agent.startswith(f"tracker/{VERSION} ") and PROJECT_URL in agent


class HostPoller:
    """Stands in for the pipeline in the daemon's tick path: records polls per host."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.running: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.peak_total = 0
        self.started: dict[str, list[float]] = {}

    async def poll(self, state: FeedState) -> PollOutcome:
        host = state.url.split("/")[2]
        self.running[host] = self.running.get(host, 0) + 1
        self.peak[host] = max(self.peak.get(host, 0), self.running[host])
        self.peak_total = max(self.peak_total, sum(self.running.values()))
        self.started.setdefault(host, []).append(time.monotonic())
        await asyncio.sleep(self.seconds)
        self.running[host] -= 1
        return PollOutcome(state.name, ok=True)


def test_a_poll_waiting_for_its_host_holds_no_global_slot(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    # Ten feeds of one busy host are due first; the other host's one feed comes last.
    specs = [FeedSpec(f"https://busy.example/{i}", f"busy{i}", 60) for i in range(10)]
    store.sync_feeds(specs, now=0)
    store.sync_feeds([*specs, FeedSpec("https://other.example/", "other", 60)], now=1)
    poller = HostPoller(5.0)
    sched = FeedScheduler(
        poller,  # type: ignore[arg-type]
        store,
        concurrency=2,
        hosts=HostLimiter(per_host=1),
    )

    async def go() -> None:
        for _ in range(40):
            await sched.tick()
            await asyncio.sleep(0.02)
        await sched.stop(timeout_s=0.1)

    asyncio.run(go())
    store.close()
    assert poller.peak == {"busy.example": 1, "other.example": 1}
    # The other host's feed got the second global slot while nine busy ones waited: had
    # they held slots, it would have waited 5 s for each.
    assert poller.peak_total == 2


def test_host_spacing_spreads_request_starts(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.sync_feeds([FeedSpec(f"https://h.example/{i}", f"h{i}", 60) for i in range(4)], now=0)
    poller = HostPoller(0.0)
    sched = FeedScheduler(
        poller,  # type: ignore[arg-type]
        store,
        concurrency=10,
        hosts=HostLimiter(per_host=10, spacing_s=0.15),
    )

    async def go() -> None:
        await sched.run_once()

    asyncio.run(go())
    store.close()
    starts = poller.started["h.example"]
    assert len(starts) == 4
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.14, gaps


def _poll_twice(tmp_path: Path, url: str, extra: str = "") -> list[float]:
    """Poll ``url`` twice with one Poller; the feed's next check minus the poll's time."""
    cfg = config_mod.parse(
        _config_text(tmp_path, [url]).replace("fetch: {}", f"fetch: {{{extra}}}"), tmp_path
    )

    async def go() -> list[float]:
        store = Store(cfg.database_path)
        try:
            store.sync_feeds(cfg.feed_specs(), time.time())
            async with make_client(timeout_s=5, user_agent="t", concurrency=2) as client:
                poller = Poller(client, store, poll_settings(to_settings(cfg)))
                delays = []
                for _ in range(2):
                    state = store.pollable_feeds(time.time())[0]
                    now = time.time()
                    outcome = await poller.poll(state)
                    assert outcome.ok, outcome.error
                    row = store.query("SELECT next_check_at FROM feeds")[0]
                    delays.append(row[0] - now)
                return delays
        finally:
            store.close()

    return asyncio.run(go())


@pytest.fixture
def farm() -> Iterator[Farm]:
    f = Farm("127.0.0.1", Counts())
    yield f
    f.close()


def test_rss_ttl_raises_the_interval_and_a_304_keeps_it(tmp_path: Path, farm: Farm) -> None:
    farm.docs["/ttl.xml"] = (_rss("<ttl>60</ttl>"), {})
    first, second = _poll_twice(tmp_path, f"{farm.base}/ttl.xml")
    assert first >= 3600 - 5 and second >= 3600 - 5  # the second poll was a 304
    assert first < 3600 + 60


def test_cache_control_max_age_raises_the_interval(tmp_path: Path, farm: Farm) -> None:
    farm.docs["/cc.xml"] = (_rss(), {"Cache-Control": "public, max-age=7200"})
    first, second = _poll_twice(tmp_path, f"{farm.base}/cc.xml")
    assert 7200 - 5 <= first < 7200 + 60 and 7200 - 5 <= second < 7200 + 60


def test_floors_never_lower_the_interval_and_are_capped(tmp_path: Path, farm: Farm) -> None:
    farm.docs["/short.xml"] = (_rss("<ttl>1</ttl>"), {"Cache-Control": "max-age=30"})
    farm.docs["/huge.xml"] = (_rss("<ttl>9999999</ttl>"), {})
    assert 600 - 5 <= _poll_twice(tmp_path / "a", f"{farm.base}/short.xml")[0] < 660
    assert 86400 - 5 <= _poll_twice(tmp_path / "b", f"{farm.base}/huge.xml")[0] < 86400 + 60


def test_honour_ttl_false_keeps_the_configured_interval(tmp_path: Path, farm: Farm) -> None:
    farm.docs["/ttl.xml"] = (_rss("<ttl>60</ttl>"), {"Cache-Control": "max-age=7200"})
    first, second = _poll_twice(tmp_path, f"{farm.base}/ttl.xml", "honour_ttl: false")
    assert 600 - 5 <= first < 660 and 600 - 5 <= second < 660


def test_syndication_update_period(tmp_path: Path, farm: Farm) -> None:
    extra = "<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>"
    farm.docs["/sy.xml"] = (_rss(extra), {})
    first, _ = _poll_twice(tmp_path, f"{farm.base}/sy.xml")
    assert 43200 - 5 <= first < 43200 + 60


def test_floor_helpers() -> None:
    assert feed_floor("60", None, None) == 3600
    assert feed_floor(None, "hourly", "4") == 900
    assert feed_floor(None, "weekly", None) == 7 * 86400
    assert feed_floor("abc", "sometimes", "x") is None
    assert feed_floor("-5", None, None) is None
    assert cache_max_age({"cache-control": "no-cache"}) is None
    assert cache_max_age({"cache-control": 'max-age="120", s-maxage=300'}) == 300
    assert cache_max_age({"cache-control": "max-age=0"}) is None
    assert floored(900, None, 60) == 900
    assert floored(900, 1e9) == 86400


@pytest.mark.slow
def test_daemon_keeps_the_per_host_limit(tmp_path: Path, farms: tuple[Farm, Farm, Counts]) -> None:
    from daemonproc import Daemon

    a, b, counts = farms
    urls = []
    for farm in (a, b):
        farm.delay = 1.0  # longer than a tick: the next tick finds the first host busy
        for i in range(3):
            farm.docs[f"/d{i}.xml"] = (_rss(title=f"d{i}"), {})
            urls.append(f"{farm.base}/d{i}.xml")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(_config_text(tmp_path, urls, "concurrency: 3"))
    daemon = Daemon(cfg)
    try:
        daemon.wait_for(lambda: len(a.agents) >= 3 and len(b.agents) >= 3, timeout=30)
    finally:
        assert daemon.stop() == 0
    assert counts.peak == {"127.0.0.1": 2, "127.0.0.2": 2}
    # Three global slots, two per host: while the first host's third feed waited for it,
    # holding no slot, the other host's feeds took the free ones.
    assert counts.peak_total == 3
