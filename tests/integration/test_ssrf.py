"""Fetches never reach inside the network for a feed author: every way of writing a loopback
address, names resolving to one, redirects from an allowed site, robots.txt, discovery,
section links, full text and outgoing webhooks, against real servers on loopback.

The site "outside" stands for the public internet: the allow list names its address and
port (DIGEST_FETCH_ALLOW_NETWORKS=127.0.0.1:<its port>). The site "inside" is another
port of the same address, not allowed: whatever it serves is what an attacker wants read.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from gather_pages import LOREM, article_page, rss, section_page
from sqlalchemy import select
from web_site import Site, serve_site

from digest import pipeline
from digest.config import Settings
from digest.errors import FeedError, FetchError
from digest.gather import Fetcher, fetch, read
from digest.services.sources import add_source
from digest.store import db
from digest.store.models import Article, Source

SECRET = "The root password of the billing database is hunter2-staging-7734."
SECRET_PAGE = article_page("Internal: credentials", [SECRET, *LOREM])


@pytest.fixture(scope="module")
def outside_site() -> Iterator[Site]:
    with serve_site() as served:
        yield served


@pytest.fixture(scope="module")
def inside_site() -> Iterator[Site]:
    with serve_site() as served:
        yield served


@pytest.fixture
def outside(outside_site: Site, monkeypatch: pytest.MonkeyPatch) -> Site:
    outside_site.reset()
    port = outside_site.base.rsplit(":", 1)[1]
    monkeypatch.setenv("DIGEST_FETCH_ALLOW_NETWORKS", f"127.0.0.1:{port}")
    return outside_site


@pytest.fixture
def inside(inside_site: Site, outside: Site) -> Site:
    inside_site.reset()
    inside_site.add("/secret.html", SECRET_PAGE)
    inside_site.add("/feed.xml", rss([{"title": "Inside", "link": inside_site.base + "/x"}]))
    return inside_site


def port_of(site: Site) -> int:
    return int(site.base.rsplit(":", 1)[1])


def refused(url: str) -> str:
    with pytest.raises(FetchError) as error:
        fetch(url, timeout=5)
    return str(error.value)


# --- the address, however it is written -----------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("2130706433", "2130706433 is 127.0.0.1, a loopback address"),
        ("0177.0.0.1", "0177.0.0.1 is 127.0.0.1, a loopback address"),
        ("0x7f.0.0.1", "0x7f.0.0.1 is 127.0.0.1, a loopback address"),
        ("0x7f000001", "0x7f000001 is 127.0.0.1, a loopback address"),
        ("127.1", "127.1 is 127.0.0.1, a loopback address"),
        ("127.0.0.1.", "127.0.0.1 is a loopback address"),
        ("localhost", "localhost resolves to 127.0.0.1, a loopback address"),
        ("localhost.", "localhost. resolves to 127.0.0.1, a loopback address"),
        (
            "[::ffff:127.0.0.1]",
            "::ffff:127.0.0.1 is ::ffff:7f00:1, an IPv4-mapped form of 127.0.0.1,"
            " a loopback address",
        ),
        (
            "[0:0:0:0:0:ffff:7f00:1]",
            "0:0:0:0:0:ffff:7f00:1 is ::ffff:7f00:1, an IPv4-mapped form of 127.0.0.1,"
            " a loopback address",
        ),
    ],
)
def test_loopback_in_every_form_is_refused_before_connecting(
    inside: Site, host: str, reason: str
) -> None:
    url = f"http://{host}:{port_of(inside)}/secret.html"
    assert refused(url) == f"{url}: refused: {reason}"
    assert inside.requests == []


@pytest.fixture(scope="module")
def ipv6_site() -> Iterator[Site]:
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6
        daemon_threads = True

    from web_site import _handler

    site = Site()
    server = Server(("::1", 0), _handler(site))
    site.base = f"http://[::1]:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield site
    server.shutdown()
    server.server_close()


def test_ipv6_loopback_is_refused(ipv6_site: Site, outside: Site) -> None:
    ipv6_site.add("/secret.html", SECRET_PAGE)
    url = f"{ipv6_site.base}/secret.html"
    assert refused(url) == f"{url}: refused: ::1 is a loopback address"
    assert ipv6_site.requests == []


def test_a_name_that_resolves_inside_is_refused(inside: Site) -> None:
    url = f"http://evil.example:{port_of(inside)}/secret.html"
    with pytest.raises(FetchError) as error:
        fetch(url, resolver=lambda host: {"evil.example": ["127.0.0.1"]}[host])
    assert str(error.value) == (
        f"{url}: refused: evil.example resolves to 127.0.0.1, a loopback address"
    )
    assert inside.requests == []


def test_a_name_is_resolved_once_and_the_checked_address_connected_to(outside: Site) -> None:
    """No second lookup between the check and the connect: a rebinding name cannot move."""
    answers = iter([["127.0.0.1"], ["10.9.8.7"], ["169.254.169.254"]])
    asked: list[str] = []

    def rebinding(host: str) -> list[str]:
        asked.append(host)
        return next(answers)

    outside.add("/feed.xml", rss([{"title": "Ferry", "link": "https://news.example/ferry"}]))
    url = f"http://feeds.example:{port_of(outside)}/feed.xml"
    fetched = fetch(url, resolver=rebinding)
    assert fetched.status == 200 and fetched.url == url
    assert asked == ["feeds.example"]
    (request,) = outside.requests
    assert request.headers["host"] == f"feeds.example:{port_of(outside)}"


def test_a_client_of_the_callers_own_never_opens_the_connection(inside: Site) -> None:
    """A client only builds requests: its transport is no way around the rule."""
    answered: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        answered.append(str(request.url))
        return httpx.Response(200, text=SECRET_PAGE, headers={"Content-Type": "text/html"})

    url = f"{inside.base}/secret.html"
    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(FetchError, match=r"refused: 127\.0\.0\.1 is a loopback address"):
            fetch(url, client=client)
        with Fetcher(client) as fetcher, pytest.raises(FetchError, match="refused"):
            fetcher.page(url)
    assert answered == [] and inside.requests == []


# --- redirects --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://127.0.0.1:{port}/secret.html", "127.0.0.1 is a loopback address"),
        ("http://localhost:{port}/secret.html", "localhost resolves to 127.0.0.1, a loopback"),
        ("http://2130706433:{port}/secret.html", "2130706433 is 127.0.0.1, a loopback address"),
        ("http://[::ffff:7f00:1]:{port}/secret.html", "::ffff:7f00:1 is an IPv4-mapped form"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ],
)
def test_a_redirect_from_an_allowed_site_to_inside_is_refused(
    outside: Site, inside: Site, target: str, reason: str
) -> None:
    target = target.format(port=port_of(inside))
    outside.add("/story", status=302, headers={"Location": target})
    outside.add("/hop", status=301, headers={"Location": "/story"})
    start = f"{outside.base}/hop"
    message = refused(start)
    assert message.startswith(f"{start}: redirected to {target}: refused: {reason}")
    assert [r.path for r in outside.requests] == ["/hop", "/story"]
    assert inside.requests == []
    # Redirects within the allowed site are followed as before.
    outside.add("/feed.xml", rss([{"title": "Ferry", "link": "https://news.example/ferry"}]))
    outside.add("/old-feed", status=301, headers={"Location": "/feed.xml"})
    assert fetch(f"{outside.base}/old-feed").url == f"{outside.base}/feed.xml"


def test_a_redirect_to_a_name_resolving_inside_is_refused_when_connecting(
    outside: Site, inside: Site
) -> None:
    target = f"http://metadata.example:{port_of(inside)}/secret.html"
    outside.add("/story", status=302, headers={"Location": target})
    names = {"feeds.example": ["127.0.0.1"], "metadata.example": ["127.0.0.1"]}
    start = f"http://feeds.example:{port_of(outside)}/story"
    with pytest.raises(FetchError) as error:
        fetch(start, resolver=names.__getitem__)
    assert str(error.value) == (
        f"{start}: redirected to {target}: refused:"
        " metadata.example resolves to 127.0.0.1, a loopback address"
    )
    assert inside.requests == []


# --- TLS keeps the name -----------------------------------------------------------------------


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file, pem


def test_tls_connects_to_the_checked_address_with_the_name_for_sni_and_certificate(
    tmp_path: Path,
) -> None:
    from digest.gather.addresses import AllowList
    from digest.gather.fetch import GuardedTransport

    cert_file, key_file, pem = _certificate(tmp_path, "feeds.example")
    names: list[str | None] = []
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hosts.append(self.headers["Host"])
            body = b"<rss version='2.0'><channel><title>Over TLS</title></channel></rss>"
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert_file, key_file)
    server_tls.sni_callback = lambda sock, name, context: names.append(name)  # type: ignore[assignment]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    trusted = ssl.create_default_context(cadata=pem.decode())
    try:
        with GuardedTransport(
            AllowList.parse(f"127.0.0.1:{port}"),
            lambda host: ["127.0.0.1"],
            ssl_context=trusted,
        ) as transport:
            fetched = fetch(f"https://feeds.example:{port}/feed.xml", transport=transport)
            assert fetched.status == 200
            assert names == ["feeds.example"] and hosts == [f"feeds.example:{port}"]
            # Another name on the same address is checked against the certificate: refused.
            with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED"):
                fetch(f"https://other.example:{port}/feed.xml", transport=transport)
    finally:
        server.shutdown()
        server.server_close()


# --- robots.txt, discovery, pages -------------------------------------------------------------


def test_a_page_inside_is_refused_before_its_robots_txt_is_asked_for(inside: Site) -> None:
    with Fetcher(httpx.Client(), timeout=3) as fetcher, pytest.raises(FetchError) as error:
        fetcher.page(f"{inside.base}/secret.html")
    assert "refused: 127.0.0.1 is a loopback address" in str(error.value)
    assert inside.requests == []


def test_a_feed_a_page_names_inside_is_not_read(outside: Site, inside: Site) -> None:
    home = section_page([("/about", "About")], feed=f"{inside.base}/feed.xml")
    url = outside.add("/", home)
    with Fetcher(httpx.Client(), timeout=3) as fetcher, pytest.raises(FeedError):
        read(url, fetcher=fetcher)
    assert inside.requests == []
    assert outside.hits("/feed")  # the common paths of the allowed site were tried


# --- the whole gather -------------------------------------------------------------------------


@pytest.fixture
def settings(migrated_database_url: str, outside: Site) -> Settings:
    return Settings(
        database_url=migrated_database_url,
        base_url="https://digest.example.org",
        fetch_timeout=3,
        fetch_allow_networks=f"127.0.0.1:{port_of(outside)}",
    )


def add(settings: Settings, url: str, **options: object) -> int:
    with db.session_scope(settings.database_url) as session:
        return add_source(session, url, **options).id  # type: ignore[arg-type]


def articles(settings: Settings, source_id: int) -> list[Article]:
    with db.session_scope(settings.database_url) as session:
        found = list(session.scalars(select(Article).where(Article.source_id == source_id)))
        session.expunge_all()
        return found


def last_error(settings: Settings, source_id: int) -> str | None:
    with db.session_scope(settings.database_url) as session:
        source = session.get(Source, source_id)
        assert source is not None
        return source.last_error


def test_teaser_links_inside_are_stored_without_their_text_and_the_source_says_why(
    settings: Settings, outside: Site, inside: Site
) -> None:
    link = f"{inside.base}/secret.html"
    feed = rss(
        [
            {
                "title": "Quarterly figures",
                "link": link,
                "description": "The figures are in. Read more",
                "pubDate": "Fri, 27 Feb 2026 07:30:00 GMT",
            }
        ]
    )
    source = add(settings, outside.add("/feed.xml", feed, content_type="application/rss+xml"))
    (result,) = pipeline.gather_all(settings)
    assert result.status == "ok" and result.new == 1 and result.full_text == 0
    (article,) = articles(settings, source)
    assert article.title == "Quarterly figures" and article.is_teaser and not article.full_text
    assert "hunter2" not in article.content_html + article.body_text + article.summary
    reason = f"full text not fetched: {link}: refused: 127.0.0.1 is a loopback address"
    assert result.error == reason and last_error(settings, source) == reason
    assert inside.requests == []


def test_section_links_inside_are_left_out_and_said_so(
    settings: Settings, outside: Site, inside: Site
) -> None:
    secret = f"{inside.base}/2026/02/board-meeting-credentials-list"
    inside.add("/2026/02/board-meeting-credentials-list", SECRET_PAGE)
    outside.add("/2026/02/ferry-runs-every-half-hour", article_page("Ferry every half hour"))
    page = section_page(
        [
            ("/2026/02/ferry-runs-every-half-hour", "Ferry to run every half hour"),
            (secret, "Board meeting: the credentials list"),
        ]
    )
    source = add(settings, outside.add("/news", page), kind="section")
    (result,) = pipeline.gather_all(settings)
    assert result.status == "ok" and result.new == 1
    assert [a.title for a in articles(settings, source)] == ["Ferry every half hour"]
    assert f"{secret}: refused: 127.0.0.1 is a loopback address" in (result.error or "")
    assert inside.requests == []


def test_a_source_inside_fails_with_the_reason(settings: Settings, inside: Site) -> None:
    url = f"{inside.base}/feed.xml"
    source = add(settings, url)
    (result,) = pipeline.gather_all(settings)
    assert result.status == "failed"
    assert result.error == f"{url}: refused: 127.0.0.1 is a loopback address"
    assert last_error(settings, source) == result.error
    assert inside.requests == []


# --- outgoing webhooks ------------------------------------------------------------------------


def test_a_webhook_inside_is_refused_and_the_attempt_says_why(
    migrated_database_url: str, inside: Site
) -> None:
    from digest.core import events
    from digest.pipeline import webhooks as webhook_delivery
    from digest.services import webhooks
    from digest.services.subscribers import add_subscriber, unsubscribe
    from digest.store.models import WebhookAttempt

    received: list[bytes] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_port}/hooks"
    settings = Settings(database_url=migrated_database_url, fetch_allow_networks="")
    try:
        with db.session_scope(settings.database_url) as session:
            webhooks.add_webhook(session, hook, [events.SUBSCRIBER_UNSUBSCRIBED], "secret")
            unsubscribe(session, add_subscriber(session, "ana@example.org", confirmed=True).id)
        assert webhook_delivery.deliver_due(settings) == {"pending": 1}
        assert received == []
        with db.session_scope(settings.database_url) as session:
            (attempt,) = session.scalars(select(WebhookAttempt)).all()
            assert attempt.error == "refused: 127.0.0.1 is a loopback address"
    finally:
        server.shutdown()
        server.server_close()


def test_the_demo_allows_its_own_server_and_nothing_else(migrated_database_url: str) -> None:
    from digest.runtime.samples import allowing_samples, serve_samples

    settings = Settings(database_url=migrated_database_url, fetch_allow_networks="10.0.0.0/8")
    with serve_samples() as base:
        demo = allowing_samples(settings, base)
    port = base.rsplit(":", 1)[1]
    assert demo.fetch_allow_networks == f"10.0.0.0/8,127.0.0.1:{port}"
