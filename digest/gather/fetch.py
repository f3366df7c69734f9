"""Fetch a source URL over HTTP(S) with hard limits on scheme, redirects, size and time.

Sources are URLs typed in by users, so every fetch is treated as untrusted: only http and https
(also for each redirect hop), a byte ceiling enforced while streaming, and one deadline for the
whole exchange rather than per socket operation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

MAX_REDIRECTS = 5
_ALLOWED_SCHEMES = ("http", "https")


class FetchError(Exception):
    """A source could not be fetched; the message names the URL and what went wrong."""


@dataclass(frozen=True)
class Fetched:
    url: str  # final URL after redirects
    status: int
    body: bytes
    content_type: str  # lowercased media type without parameters, '' if absent
    etag: str | None
    last_modified: str | None


def _check_url(url: str, original: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in _ALLOWED_SCHEMES:
        where = original if url == original else f"{original}: redirected to {url}"
        raise FetchError(f"{where}: only http and https sources are fetched")
    if not parts.hostname:
        raise FetchError(f"{url}: URL has no host name")


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def fetch(
    url: str,
    *,
    timeout: float = 20.0,
    max_bytes: int = 5_000_000,
    client: httpx.Client | None = None,
    user_agent: str = "digest/0.1 (+self-hosted newsletter digests)",
) -> Fetched:
    """GET ``url`` and return its body, or raise FetchError with a message a user can act on."""
    url = url.strip()
    _check_url(url, url)
    if client is None:
        with httpx.Client() as own_client:
            return _fetch(url, timeout, max_bytes, own_client, user_agent)
    return _fetch(url, timeout, max_bytes, client, user_agent)


def _fetch(
    url: str, timeout: float, max_bytes: int, client: httpx.Client, user_agent: str
) -> Fetched:
    deadline = time.monotonic() + timeout
    current = url
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise httpx.TimeoutException("deadline passed")
            # Redirects are followed by hand so every hop's scheme is checked before connecting.
            request = client.build_request(
                "GET",
                current,
                headers={"User-Agent": user_agent},
                timeout=remaining,
            )
            response = client.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(f"{url}: HTTP {response.status_code} without a Location")
                    target = urljoin(current, location.strip())
                    _check_url(target, url)
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
    except httpx.InvalidURL as exc:
        raise FetchError(f"{url}: invalid URL ({exc})") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: {exc.__class__.__name__} ({exc})") from None


def _read(
    url: str, current: str, response: httpx.Response, deadline: float, max_bytes: int
) -> Fetched:
    where = url if current == url else f"{url} (redirected to {current})"
    if not response.is_success:
        raise FetchError(f"{where}: HTTP {response.status_code} {response.reason_phrase}".rstrip())
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
    )
