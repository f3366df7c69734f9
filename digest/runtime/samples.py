"""A throwaway loopback HTTP server for the sample sources that ship with the project.

The sample files say ``{{BASE}}`` where their own address goes; the server fills in the
address it is listening on, so links in the demo digest open the sample pages.

Fetches never go to loopback unless allowed (DIGEST_FETCH_ALLOW_NETWORKS): the demo
allows the one address and port it serves on (`allowing_samples`), nothing more.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from digest.config import Settings

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
# The demo prefers a fixed port: article URLs (and so article identities) include it, and a
# port that changed between runs would make yesterday's articles look new.
DEMO_PORT = 8765
CONTENT_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class SampleSource:
    url: str
    name: str
    topics: list[str]


def _handler(root: Path, base: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = (root / self.path.split("?")[0].lstrip("/")).resolve()
            if root not in path.parents or not path.is_file():
                self.send_error(404)
                return
            body = path.read_bytes().replace(b"{{BASE}}", base[0].encode())
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPES.get(path.suffix, "text/plain"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve_samples(root: Path = SAMPLES, port: int = 0) -> Iterator[str]:
    """Serve `root` on 127.0.0.1 for the duration of the block; yields the base URL.

    `port` is a preference: when it is taken, any free port is used.
    """
    base: list[str] = [""]
    handler = _handler(root.resolve(), base)
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)  # the preferred port is taken
    base[0] = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base[0]
    finally:
        server.shutdown()
        server.server_close()


def allowing_samples(settings: Settings, base_url: str) -> Settings:
    """The settings with the samples' server (its address and port only) added to the
    networks fetches may reach."""
    parts = urlsplit(base_url)
    served = f"{parts.hostname}:{parts.port}"
    allowed = ",".join(filter(None, [settings.fetch_allow_networks, served]))
    return settings.model_copy(update={"fetch_allow_networks": allowed})


def sample_sources(base_url: str) -> list[SampleSource]:
    entries = json.loads((SAMPLES / "sources.json").read_text())
    return [
        SampleSource(f"{base_url}/{e['path']}", e["name"], e.get("topics", [])) for e in entries
    ]


def sample_subscribers() -> list[dict[str, Any]]:
    return json.loads((SAMPLES / "subscribers.json").read_text())


def seed_samples(database_url: str, base_url: str, *, subscribers: bool = True) -> None:
    """Make sure the sample sources served at `base_url` (and the sample subscribers) exist.

    Used by `digest run --samples`, the benchmarks and the tests. Running it again adds
    nothing; a sample source whose server moved to another port is pointed at it.
    """
    from digest.services.sources import add_source, list_sources
    from digest.services.subscribers import add_subscriber, list_subscribers
    from digest.store.db import session_scope

    with session_scope(database_url) as session:
        existing = {s.name: s for s in list_sources(session)}
        for sample in sample_sources(base_url):
            if sample.name in existing:
                existing[sample.name].url = sample.url
            else:
                add_source(session, sample.url, name=sample.name, topics=sample.topics)
        if not subscribers:
            return
        emails = {s.email for s in list_subscribers(session)}
        for sub in sample_subscribers():
            if sub["email"] not in emails:
                add_subscriber(
                    session,
                    sub["email"],
                    name=sub["name"],
                    confirmed=True,
                    frequency=sub["frequency"],
                    hour=sub["hour"],
                    timezone=sub["tz"],
                    topics=sub["topics"],
                )
