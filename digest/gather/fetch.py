"""Fetch a source URL over HTTP(S) with hard limits on scheme, redirects, size and time.

Sources are URLs typed in by users, so every fetch is treated as untrusted: only http and https
(also for each redirect hop), a byte ceiling enforced while streaming, and one deadline for the
whole exchange rather than per socket operation.

Every connection is opened by a `GuardedTransport`: it resolves the host once, refuses
addresses inside (loopback, private, link-local...: `digest.gather.addresses`) unless the
allow list names them, and connects to the very address it checked, so a name cannot
resolve elsewhere between the check and the connect. TLS still verifies the certificate
against the host name. Each redirect hop is a new request through it, checked again. A
client handed to `fetch` builds the requests (its headers, its cookies); it never opens the
connections, so no caller's client is a way around the rule.

`Fetcher` adds what a whole gather needs on top of `fetch`: one HTTP client, a limit on
requests at once per host, one User-Agent, and robots.txt for pages.
"""

from __future__ import annotations

import ipaddress
import ssl
import threading
import time
import urllib.robotparser
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from digest.errors import FetchError
from digest.gather.addresses import (
    AddressRefused,
    AllowList,
    Resolver,
    host_address,
    is_localhost_name,
    system_resolver,
    vet_host,
)
from digest.gather.hosts import HostGate, LocalGate

MAX_REDIRECTS = 5
_ALLOWED_SCHEMES = ("http", "https")
USER_AGENT = "digest/0.1 (self-hosted newsletter digests)"
# Answers that say "come back later" rather than "this is wrong".
_BUSY_STATUSES = (429, 503)


@dataclass(frozen=True)
class Fetched:
    url: str  # final URL after redirects
    status: int  # 304: not modified since the etag / date sent, and the body is empty
    body: bytes
    content_type: str  # lowercased media type without parameters, '' if absent
    etag: str | None
    last_modified: str | None
    charset: str | None = None  # as the Content-Type header declared it

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def html(self) -> bytes | str:
        """The body of an HTML page, decoded by the charset the server declared when that
        works; else the bytes, for the page's own <meta charset> and sniffing to decide."""
        if self.charset:
            try:
                return self.body.decode(self.charset)
            except (LookupError, UnicodeDecodeError):
                pass
        return self.body


def user_agent_for(base_url: str | None) -> str:
    """One User-Agent naming the project and the instance's own URL, for site owners."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("digest")
    except PackageNotFoundError:  # a source checkout that was never installed
        release = "0"
    where = f"+{base_url}" if base_url else "self-hosted newsletter digests"
    return f"digest/{release} ({where})"


class GuardedBackend(httpcore.NetworkBackend):
    """Connects only to addresses `vet_host` allowed, resolved once for the connection."""

    def __init__(self, allow: AllowList, resolver: Resolver | None = None) -> None:
        self.allow = allow
        self.resolver = resolver or system_resolver
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = vet_host(host, port, self.allow, self.resolver)
        except AddressRefused:
            raise
        except OSError as exc:  # the name does not resolve (a resolver raises OSError)
            raise httpcore.ConnectError(str(exc)) from exc
        failed: httpcore.ConnectError | None = None
        for address in addresses:
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            try:
                return self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:  # the next address, as connecting by name does
                failed = exc
        assert failed is not None
        raise failed

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport whose every connection goes through a `GuardedBackend`: refused
    addresses are never connected to, and the address checked is the one connected to
    (no second lookup); Host header, SNI and certificate checks keep the URL's name.
    No proxy: a proxy would resolve names itself, where the rule cannot see."""

    def __init__(
        self,
        allow: AllowList | None = None,
        resolver: Resolver | None = None,
        *,
        limits: httpx.Limits | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.allow = AllowList.from_environment() if allow is None else allow
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        ssl_context = ssl_context or httpx.create_ssl_context()
        super().__init__(verify=ssl_context, limits=limits)
        self.backend = GuardedBackend(self.allow, resolver)
        # httpx builds its pool without a say in how connections are opened: this one is
        # the same pool with the guarded backend.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self.backend,
        )


def guarded_client(
    allow: AllowList | None = None, resolver: Resolver | None = None, **options: Any
) -> httpx.Client:
    """An httpx client whose connections are guarded (for outgoing webhooks and the like);
    `options` go to httpx.Client."""
    return httpx.Client(transport=GuardedTransport(allow, resolver), trust_env=False, **options)


class _Unsent(httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError("this client only builds requests")


@cache
def _request_builder() -> httpx.Client:
    """Builds requests (httpx's default headers) for fetches given no client; sends none."""
    return httpx.Client(transport=_Unsent(), trust_env=False)


def _check_url(url: str, original: str, allow: AllowList) -> None:
    parts = urlsplit(url)
    where = original if url == original else f"{original}: redirected to {url}"
    if parts.scheme.lower() not in _ALLOWED_SCHEMES:
        raise FetchError(f"{where}: only http and https sources are fetched")
    if not parts.hostname:
        raise FetchError(f"{url}: URL has no host name")
    # An address written in the URL (or a localhost name) is refused before any I/O; names
    # are resolved and checked when connecting.
    host = parts.hostname
    if host_address(host) is None and not is_localhost_name(host):
        return
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return  # httpx says what is wrong with the port
    try:
        vet_host(host, port, allow, system_resolver)
    except AddressRefused as exc:
        raise AddressRefused(f"{where}: {exc}") from None


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _charset(value: str | None) -> str | None:
    for parameter in (value or "").split(";")[1:]:
        name, _, charset = parameter.partition("=")
        if name.strip().lower() == "charset" and charset.strip(" \"'"):
            return charset.strip(" \"'").lower()
    return None


def retry_after_time(value: str | None, now: datetime | None = None) -> datetime | None:
    """A Retry-After header (seconds, or an HTTP date) as an aware UTC time; None if unreadable."""
    value = (value or "").strip()
    now = now or datetime.now(UTC)
    if value.isdigit():
        return now + timedelta(seconds=min(int(value), 7 * 86400))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def fetch(
    url: str,
    *,
    timeout: float = 20.0,
    max_bytes: int = 5_000_000,
    client: httpx.Client | None = None,
    user_agent: str = USER_AGENT,
    etag: str | None = None,
    last_modified: str | None = None,
    transport: GuardedTransport | None = None,
    allow: AllowList | None = None,
    resolver: Resolver | None = None,
) -> Fetched:
    """GET ``url`` and return its body, or raise FetchError with a message a user can act on.

    With ``etag`` / ``last_modified`` from an earlier fetch the request is conditional, and an
    unchanged resource comes back as status 304 with an empty body.

    Connections go through ``transport`` (a new one for this fetch if none is given, with
    ``allow`` and ``resolver``; ``allow`` defaults to DIGEST_FETCH_ALLOW_NETWORKS in the
    environment). A refused address raises AddressRefused, a FetchError."""
    url = url.strip()
    with ExitStack() as own:
        if transport is None:
            transport = own.enter_context(GuardedTransport(allow, resolver))
        _check_url(url, url, transport.allow)
        headers = {"User-Agent": user_agent}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return _fetch(url, timeout, max_bytes, client, transport, headers)


def _send(
    client: httpx.Client | None,
    transport: GuardedTransport,
    url: str,
    headers: dict[str, str],
    timeout: float,
) -> httpx.Response:
    """One request, built by the client (its headers and cookies), sent by the transport."""
    request = (client or _request_builder()).build_request(
        "GET", url, headers=headers, timeout=timeout
    )
    response = transport.handle_request(request)
    response.request = request
    if client is not None:
        client.cookies.extract_cookies(response)
    return response


def _fetch(
    url: str,
    timeout: float,
    max_bytes: int,
    client: httpx.Client | None,
    transport: GuardedTransport,
    headers: dict[str, str],
) -> Fetched:
    deadline = time.monotonic() + timeout
    current = url
    seen = {url}
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise httpx.TimeoutException("deadline passed")
            # Redirects are followed by hand so every hop is checked before connecting.
            try:
                response = _send(client, transport, current, headers, remaining)
            except AddressRefused as exc:
                where = url if current == url else f"{url}: redirected to {current}"
                raise AddressRefused(f"{where}: {exc}") from None
            try:
                if response.is_redirect and response.status_code != 304:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(f"{url}: HTTP {response.status_code} without a Location")
                    target = urljoin(current, location.strip())
                    _check_url(target, url, transport.allow)
                    if target in seen:
                        raise FetchError(f"{url}: redirect loop ({current} leads back to {target})")
                    seen.add(target)
                    current = target
                    continue
                return _read(url, current, response, deadline, max_bytes)
            finally:
                response.close()
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")
    except httpx.TimeoutException:
        raise FetchError(f"{url}: timed out after {timeout:g}s") from None
    except httpx.ConnectError as exc:
        if isinstance(exc.__cause__, ConnectionRefusedError) or "refused" in str(exc).lower():
            raise FetchError(f"{url}: connection refused") from None
        raise FetchError(f"{url}: could not connect ({exc})") from None
    except httpx.RemoteProtocolError as exc:
        raise FetchError(f"{url}: the server broke off the response ({exc})") from None
    except httpx.InvalidURL as exc:
        raise FetchError(f"{url}: invalid URL ({exc})") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: {exc.__class__.__name__} ({exc})") from None


def _read(
    url: str, current: str, response: httpx.Response, deadline: float, max_bytes: int
) -> Fetched:
    where = url if current == url else f"{url} (redirected to {current})"
    if response.status_code == 304:
        return Fetched(
            url=str(response.url),
            status=304,
            body=b"",
            content_type="",
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )
    if not response.is_success:
        status = response.status_code
        message = f"{where}: HTTP {status} {response.reason_phrase}".rstrip()
        retry_after = None
        if status in _BUSY_STATUSES and (retry_after := response.headers.get("retry-after")):
            message += f" (Retry-After: {retry_after})"
        raise FetchError(message, status=status, retry_after=retry_after)
    too_large = FetchError(f"{where}: response larger than {max_bytes} bytes")
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    # iter_bytes decodes gzip/deflate, so the ceiling also holds against compression bombs.
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("deadline passed")
        chunks.append(chunk)
    return Fetched(
        url=str(response.url),
        status=response.status_code,
        body=b"".join(chunks),
        content_type=_media_type(response.headers.get("content-type")),
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
        charset=_charset(response.headers.get("content-type")),
    )


@dataclass
class Fetcher:
    """Fetches for one gather: a shared client and guarded transport (one pool of
    connections), at most `per_host` requests at once to any one host, the same User-Agent
    everywhere, and robots.txt obeyed for article pages."""

    client: httpx.Client
    timeout: float = 20.0
    max_bytes: int = 5_000_000
    per_host: int = 4
    user_agent: str = USER_AGENT
    # Requests open per host, and robots.txt bodies: this process's own unless a gate
    # shared by every gathering process (digest.gather.hosts) is given.
    gate: HostGate | None = None
    # The networks fetched although inside (None: DIGEST_FETCH_ALLOW_NETWORKS in the
    # environment), and how names become addresses (None: the system's resolver).
    allow: AllowList | None = None
    resolver: Resolver | None = None
    max_connections: int = 100
    transport: GuardedTransport | None = None
    _robots: dict[str, urllib.robotparser.RobotFileParser | None] = field(default_factory=dict)
    _robots_locks: dict[str, threading.Lock] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.gate is None:
            self.gate = LocalGate(self.per_host)
        if self.transport is None:
            # Every connection may be kept alive: a gather goes back to the same hosts.
            limits = httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=self.max_connections,
            )
            self.transport = GuardedTransport(self.allow, self.resolver, limits=limits)

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()
        if self.transport is not None:
            self.transport.close()

    @contextmanager
    def _slot(self, url: str) -> Iterator[None]:
        assert self.gate is not None
        with self.gate.slot((urlsplit(url).hostname or "").lower()):
            yield

    def __call__(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched:
        with self._slot(url):
            return fetch(
                url,
                timeout=self.timeout,
                max_bytes=self.max_bytes,
                client=self.client,
                user_agent=self.user_agent,
                etag=etag,
                last_modified=last_modified,
                transport=self.transport,
            )

    def page(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched:
        """Fetch an article or section page, if the site's robots.txt allows us."""
        if not self.allowed(url):
            raise FetchError(f"{url}: robots.txt of {urlsplit(url).netloc} disallows fetching it")
        return self(url, etag=etag, last_modified=last_modified)

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            origin_lock = self._robots_locks.setdefault(origin, threading.Lock())
        with origin_lock:  # one robots.txt fetch per site, the other pages waiting for it
            if origin not in self._robots:
                self._robots[origin] = self._read_robots(origin)
            rules = self._robots[origin]
        return rules is None or rules.can_fetch(self.user_agent, url)

    def _read_robots(self, origin: str) -> urllib.robotparser.RobotFileParser | None:
        # No robots.txt (or none readable) allows everything; 401/403 would mean "keep out",
        # but sites answer so for robots.txt by misconfiguration far more often.
        assert self.gate is not None
        body = self.gate.robots(origin)  # read by another process a moment ago
        if body is None:
            try:
                body = self(f"{origin}/robots.txt").body.decode("utf-8", "replace")
            except FetchError as exc:
                if exc.status is None or exc.status >= 500 or exc.status in _BUSY_STATUSES:
                    return None  # down or busy for now: allowed, nothing said to the others
                body = ""  # there is none
            self.gate.keep_robots(origin, body)
        if not body:
            return None
        rules = urllib.robotparser.RobotFileParser()
        rules.parse(body.splitlines())
        return rules
