"""A small real web site on loopback for the gathering tests: routes are set by each test,
every request is recorded, and conditional GET is answered like a real server does."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    etag: str | None = None  # answered with 304 when the request names it
    truncate: bool = False  # declare the full length, send half, hang up


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class Site:
    def __init__(self) -> None:
        self.routes: dict[str, Route | Callable[[], Route]] = {}
        self.requests: list[Request] = []
        self.stop = threading.Event()
        self.base = ""
        self.open = 0  # requests being answered now
        self.most_open = 0  # the most answered at once since the last reset
        self.counting = threading.Lock()

    def add(self, path: str, body: bytes | str = b"", **route: object) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(data, **route)  # type: ignore[arg-type]  # keyword arguments from a dict
        return self.base + path

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def reset(self) -> None:
        self.routes.clear()
        self.requests.clear()
        self.most_open = 0

    @contextmanager
    def answering(self) -> Iterator[None]:
        with self.counting:
            self.open += 1
            self.most_open = max(self.most_open, self.open)
        try:
            yield
        finally:
            with self.counting:
                self.open -= 1


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            site.requests.append(
                Request(self.path, {k.lower(): v for k, v in self.headers.items()})
            )
            found = site.routes.get(self.path)
            route = found() if callable(found) else found
            if route is None:
                route = Route(b"not here", "text/plain", 404)
            if route.delay:
                with site.answering():
                    site.stop.wait(route.delay)
            if route.etag and self.headers.get("If-None-Match") == route.etag:
                self.send_response(304)
                self.send_header("ETag", route.etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(route.body)))
            if route.etag:
                self.send_header("ETag", route.etag)
            for name, value in route.headers.items():
                self.send_header(name, value)
            if route.truncate:
                self.send_header("Connection", "close")
            self.end_headers()
            with suppress(OSError):
                self.wfile.write(
                    route.body[: len(route.body) // 2] if route.truncate else route.body
                )
            if route.truncate:
                self.close_connection = True

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up early (a timeout, a size limit) is what a test wants


@contextmanager
def serve_site(host: str = "127.0.0.1") -> Iterator[Site]:
    site = Site()
    server = _Server((host, 0), _handler(site))
    site.base = f"http://{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.stop.set()
        server.shutdown()
        server.server_close()
        time.sleep(0)
