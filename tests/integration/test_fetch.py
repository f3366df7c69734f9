"""fetch() and read_source() against a real HTTP server on the loopback interface."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from digest.errors import FeedError, FetchError
from digest.gather import Fetched, fetch, read_source

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"
MAX_BYTES = 100_000
STOP = threading.Event()  # lets sleeping handlers finish at teardown instead of lingering

FILE_TYPES = {
    "rss20.xml": "application/rss+xml; charset=utf-8",
    "atom.xml": "application/atom+xml",
    "rss091.xml": "text/xml",
    "jsonfeed11.json": "application/feed+json; charset=utf-8",
    "article.html": "text/html; charset=utf-8",
    "no_article.html": "text/html; charset=utf-8",
}
REDIRECTS = {
    "/redirect-to-feed": "/feeds/rss20.xml",
    "/redirect-to-ftp": "ftp://127.0.0.1/feed.xml",
    "/redirect-to-file": "file:///etc/passwd",
    "/redirect-loop": "/redirect-loop",
    "/feed-moved": "/old-feed",
    "/old-feed": "/feeds/atom.xml",
}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path
        if path.startswith("/feeds/") and path[7:] in FILE_TYPES:
            name = path[7:]
            body = (FIXTURES / name).read_bytes()
            self.send(
                200,
                body,
                FILE_TYPES[name],
                ETag='"v1"',
                Last_Modified="Tue, 14 May 2024 06:00:00 GMT",
            )
        elif path == "/feed-served-as-html":
            self.send(200, (FIXTURES / "rss20.xml").read_bytes(), "text/html")
        elif path == "/plain":
            self.send(200, b"Just some words, no feed here.", "text/plain")
        elif path in REDIRECTS:
            self.send_response(302)
            self.send_header("Location", REDIRECTS[path])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/huge":
            self.stream_forever()
        elif path == "/huge-declared":
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(50 * MAX_BYTES))
            self.end_headers()
        elif path == "/slow":
            STOP.wait(60)  # far past any deadline the tests set
            self.send(200, b"<rss/>", "application/rss+xml")
        elif path == "/trickle":
            self.trickle()
        else:
            self.send(404, b"not here", "text/plain")

    def stream_forever(self) -> None:
        # No Content-Length: the client only learns the size by reading.
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        chunk = b"<item>" + b"x" * 8192 + b"</item>"
        try:
            for _ in range(100_000):
                self.wfile.write(chunk)
        except OSError:
            pass  # the client hung up, as it should

    def trickle(self) -> None:
        # Every chunk arrives well within a per-read timeout; only a total deadline stops it.
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        try:
            while not STOP.is_set():
                self.wfile.write(b"<!-- tick -->\n")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    STOP.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    STOP.set()
    server.shutdown()
    server.server_close()


def test_fetch_feed(base_url: str) -> None:
    result = fetch(f"{base_url}/feeds/rss20.xml")
    assert result.status == 200
    assert result.url == f"{base_url}/feeds/rss20.xml"
    assert result.content_type == "application/rss+xml"
    assert result.body == (FIXTURES / "rss20.xml").read_bytes()
    assert result.etag == '"v1"'
    assert result.last_modified == "Tue, 14 May 2024 06:00:00 GMT"


def test_fetch_with_shared_client(base_url: str) -> None:
    with httpx.Client() as client:
        first = fetch(f"{base_url}/feeds/atom.xml", client=client)
        second = fetch(f"{base_url}/feeds/jsonfeed11.json", client=client)
    assert first.content_type == "application/atom+xml"
    assert second.content_type == "application/feed+json"


def test_fetch_follows_redirects(base_url: str) -> None:
    result = fetch(f"{base_url}/feed-moved")
    assert result.url == f"{base_url}/feeds/atom.xml"
    assert result.body.startswith(b"<?xml")


def test_fetch_404(base_url: str) -> None:
    url = f"{base_url}/nothing-here"
    with pytest.raises(FetchError) as info:
        fetch(url)
    assert str(info.value) == f"{url}: HTTP 404 Not Found"


@pytest.mark.parametrize(
    ("path", "target"),
    [("/redirect-to-ftp", "ftp://127.0.0.1/feed.xml"), ("/redirect-to-file", "file:///etc/passwd")],
)
def test_redirect_to_other_scheme_is_refused(base_url: str, path: str, target: str) -> None:
    with pytest.raises(FetchError) as info:
        fetch(base_url + path)
    message = str(info.value)
    assert f"redirected to {target}" in message
    assert message.endswith("only http and https sources are fetched")


def test_redirect_loop(base_url: str) -> None:
    with pytest.raises(FetchError, match="redirect loop"):
        fetch(f"{base_url}/redirect-loop")


def test_endless_body_stops_at_max_bytes(base_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match=f"response larger than {MAX_BYTES} bytes"):
        fetch(f"{base_url}/huge", max_bytes=MAX_BYTES)
    assert time.monotonic() - started < 5


def test_declared_length_over_limit_is_refused_up_front(base_url: str) -> None:
    with pytest.raises(FetchError, match=f"response larger than {MAX_BYTES} bytes"):
        fetch(f"{base_url}/huge-declared", max_bytes=MAX_BYTES)


def test_slow_response_times_out(base_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch(f"{base_url}/slow", timeout=0.5)
    assert str(info.value) == f"{base_url}/slow: timed out after 0.5s"
    assert time.monotonic() - started < 30  # the server would answer only after 60 s


def test_trickling_body_hits_total_deadline(base_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out after 0\.5s"):
        fetch(f"{base_url}/trickle", timeout=0.5)
    assert time.monotonic() - started < 30  # the server trickles until the tests end


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port once the socket is closed.
    url = f"http://127.0.0.1:{port}/feed"
    with pytest.raises(FetchError) as info:
        fetch(url, timeout=2)
    assert str(info.value) == f"{url}: connection refused"


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://127.0.0.1/feed.xml", "javascript:alert(1)", "feed.xml"],
)
def test_non_http_urls_are_refused_before_any_io(url: str) -> None:
    requests: list[httpx.Request] = []
    with (
        httpx.Client(event_hooks={"request": [requests.append]}) as client,
        pytest.raises(FetchError, match="only http and https sources are fetched"),
    ):
        fetch(url, client=client)
    assert requests == []


def test_read_source_rss(base_url: str) -> None:
    feed = read_source(f"{base_url}/feeds/rss20.xml")
    assert feed.title == "Riverton City Desk"
    assert len(feed.entries) == 4


def test_read_source_resolves_links_against_final_url(base_url: str) -> None:
    feed = read_source(f"{base_url}/redirect-to-feed")
    cranes = [e for e in feed.entries if e.title.startswith("Harbour cranes")]
    assert cranes[0].link == f"{base_url}/2024/05/harbour-cranes"


def test_read_source_json_feed(base_url: str) -> None:
    feed = read_source(f"{base_url}/feeds/jsonfeed11.json")
    assert feed.title == "Valley Cycling Club"
    assert feed.entries[1].link == f"{base_url}/notices/new-bike-racks"


def test_read_source_feed_served_as_html(base_url: str) -> None:
    feed = read_source(f"{base_url}/feed-served-as-html")
    assert feed.title == "Riverton City Desk"


def test_read_source_article_page(base_url: str) -> None:
    feed = read_source(f"{base_url}/feeds/article.html")
    assert feed.title == "The old swimming baths get a second life"
    assert feed.link == f"{base_url}/feeds/article.html"
    (entry,) = feed.entries
    assert not entry.is_teaser
    assert "covered market and a public reading hall" in entry.content_html


def test_read_source_page_without_article(base_url: str) -> None:
    url = f"{base_url}/feeds/no_article.html"
    with pytest.raises(FeedError, match=f"no article text found at {re.escape(url)}"):
        read_source(url)


def test_read_source_neither_feed_nor_page(base_url: str) -> None:
    with pytest.raises(FeedError, match=r"neither a feed nor an HTML page \(text/plain\)"):
        read_source(f"{base_url}/plain")


def test_read_source_passes_fetch_errors_through(base_url: str) -> None:
    with pytest.raises(FetchError, match="HTTP 404 Not Found"):
        read_source(f"{base_url}/gone")


def test_read_source_with_custom_fetcher(base_url: str) -> None:
    seen: list[str] = []

    def fetcher(url: str) -> Fetched:
        seen.append(url)
        return fetch(url, timeout=5, max_bytes=MAX_BYTES)

    feed = read_source(f"{base_url}/feeds/atom.xml", fetcher=fetcher)
    assert seen == [f"{base_url}/feeds/atom.xml"]
    assert feed.title == "Lighthouse Quarter Weekly"
