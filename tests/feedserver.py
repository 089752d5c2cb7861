"""A local feed server on 127.0.0.1 (pytest-httpserver) with ETag/Last-Modified and 304s.

Used by the tests, and run as a separate process by the benchmarks:
``python tests/feedserver.py --synthetic 1000 --items 50 --port 0`` prints its base URL.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import logging
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


@dataclass
class Doc:
    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    validators: bool = True
    last_modified: str = field(default_factory=lambda: formatdate(time.time(), usegmt=True))

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'


@dataclass
class Seen:
    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int
    headers: dict[str, str] = field(default_factory=dict)


class FeedServer:
    """Serves registered documents; answers conditional requests with 304."""

    def __init__(self, port: int = 0) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request is noise
        self.http = HTTPServer(host="127.0.0.1", port=port, threaded=True)
        self.docs: dict[str, Doc] = {}
        self.errors: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.delays: dict[str, float] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self.http.expect_request(re.compile(".*")).respond_with_handler(self._handle)

    def __enter__(self) -> FeedServer:
        self.http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.clear()
        if self.http.is_running():
            self.http.stop()

    def reset(self) -> None:
        """Forget every document, error, delay and request (between tests)."""
        with self._lock:
            self.docs.clear()
            self.errors.clear()
            self.delays.clear()
            self.seen.clear()

    def url(self, path: str) -> str:
        return self.http.url_for(path)

    def add(
        self,
        path: str,
        body: bytes,
        content_type: str = "application/rss+xml; charset=utf-8",
        validators: bool = True,
    ) -> str:
        self.docs[path] = Doc(body, content_type, validators)
        self.errors.pop(path, None)
        return self.url(path)

    def fail(
        self, path: str, status: int, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> None:
        self.errors[path] = (status, headers or {}, body)

    def requests_for(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    def _record(self, request: Request, status: int) -> None:
        with self._lock:
            self.seen.append(
                Seen(
                    request.path,
                    request.headers.get("If-None-Match"),
                    request.headers.get("If-Modified-Since"),
                    status,
                    dict(request.headers),
                )
            )

    def _handle(self, request: Request) -> Response:
        path = request.path
        if path in self.delays:
            time.sleep(self.delays[path])
        if path in self.errors:
            status, headers, body = self.errors[path]
            self._record(request, status)
            return Response(body, status=status, headers=headers)
        doc = self.docs.get(path)
        if doc is None:
            self._record(request, 404)
            return Response(b"not found", status=404)
        headers = {"Content-Type": doc.content_type}
        if doc.validators:
            headers["ETag"] = doc.etag
            headers["Last-Modified"] = doc.last_modified
            inm = request.headers.get("If-None-Match")
            ims = request.headers.get("If-Modified-Since")
            if (inm and inm == doc.etag) or (not inm and ims and ims == doc.last_modified):
                self._record(request, 304)
                return Response(status=304, headers=headers)
        body = doc.body
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        self._record(request, 200)
        return Response(body, status=200, headers=headers)


def synthetic_feed(feed_no: int, items: int, start: int = 0, lang: str = "en") -> bytes:
    """An RSS 2.0 feed of ``items`` unique stories (about 2 KB of HTML each, like real news);
    one in ten is about steel tariffs, so it matches a shipped topic, as a busy topic would.
    Every headline names its feed: feeds do not syndicate each other's stories here."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
        f"<title>Synthetic feed {feed_no}</title><link>https://news{feed_no}.example/</link>",
        f"<language>{lang}</language><description>bench</description>",
    ]
    para = (
        "<p>Officials from both cities met on Tuesday to review the agenda, "
        "which includes water supply, school funding, public transport and "
        "the <b>next stage</b> of the housing plan.</p>"
    )
    for i in range(start, start + items):
        headline = (
            f"Story {i} from feed {feed_no}: Mexico weighs response to new steel tariffs"
            if i % 10 == 0
            else f"Story {i} from feed {feed_no}: officials meet in the city"
        )
        parts.append(
            f"<item><title>{headline}</title>"
            f"<link>https://news{feed_no}.example/2026/11/story-{i}.html?utm_source=rss</link>"
            f'<guid isPermaLink="false">feed{feed_no}-story{i}</guid>'
            f"<pubDate>{formatdate(time.time() - i * 60, usegmt=True)}</pubDate>"
            f"<description><![CDATA[{para * 8}]]></description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--synthetic", type=int, default=100, help="number of feeds")
    ap.add_argument("--items", type=int, default=50)
    args = ap.parse_args()
    server = FeedServer(args.port)
    for n in range(args.synthetic):
        server.add(f"/feed/{n}.xml", synthetic_feed(n, args.items))
    with server:
        print(server.url("/feed/"), flush=True)
        try:
            sys.stdin.read()  # serve until the parent closes our stdin
        finally:
            pass


if __name__ == "__main__":
    main()
