"""URLs as users type them and as sites link them: checked once, cleaned of tracking, and
compared so that one article under several addresses counts once.

The link a reader is sent to keeps everything a site may need (its host, path and the
query parameters that are not trackers); only the comparison looks through the usual
disguises of one page: ``www.``/``m.``/``amp.`` hosts, an ``/amp`` path, http or https.
"""

from __future__ import annotations

import re
from functools import cache
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from digest.errors import BadUrl
from digest.gather.addresses import host_address

_ALLOWED_SCHEMES = ("http", "https")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_MIRROR_HOST_PREFIXES = ("www.", "m.", "mobile.", "amp.")
_AMP_QUERY = {"amp", "outputtype", "output"}


def check_http_url(url: str) -> str:
    """The URL, trimmed, if it is a usable http(s) URL with a host; else BadUrl."""
    url = url.strip()
    if not url:
        raise BadUrl("the URL is empty")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise BadUrl(f"{url!r}: a URL cannot contain spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError:  # a bracketed host that is no IPv6 address: http://[::zz]/, http://[::1/
        raise BadUrl(f"{url!r}: the host in [brackets] is not an IPv6 address") from None
    if parts.scheme.lower() not in _ALLOWED_SCHEMES:
        raise BadUrl(f"{url!r}: a source must be an http:// or https:// URL")
    try:
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise BadUrl(f"{url!r}: the port is not a number from 1 to 65535") from None
    if not host:
        raise BadUrl(f"{url!r}: the URL has no host name")
    if port == 0:
        raise BadUrl(f"{url!r}: the port is not a number from 1 to 65535")
    if not _valid_host(host):
        raise BadUrl(f"{url!r}: {host!r} is not a valid host name")
    return url


def _valid_host(host: str) -> bool:
    # An IP address (urlsplit gives IPv6 ones without their brackets): a valid host, which
    # the fetch rule then allows or refuses (digest.gather.addresses).
    if host_address(host) is not None or re.fullmatch(r"[0-9.]+", host):
        return True
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return all(_HOST_LABEL.match(label) for label in labels)


@cache
def _trackers() -> re.Pattern[str]:
    # courlan's list of tracking parameters, kept up to date by its authors; imported on
    # first use, as courlan takes a fifth of a second to import.
    from courlan.clean import TRACKERS_RE

    return TRACKERS_RE


def clean_link(url: str) -> str:
    """The link to store and send: scheme and host lowercased, default port, fragment and
    tracking parameters dropped; every other query parameter kept as it was (``?article123``
    too, which a strict normaliser would lose)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    netloc = parts.netloc.lower()
    for default in (":80", ":443"):
        if netloc.endswith(default) and (scheme, default) in (("http", ":80"), ("https", ":443")):
            netloc = netloc.removesuffix(default)
    # Parameters are filtered as written, so the kept ones keep their exact form.
    query = "&".join(
        part
        for part in parts.query.split("&")
        if part and not _trackers().search(unquote_plus(part.split("=", 1)[0]).lower())
    )
    path = parts.path or ("/" if query else "")
    return urlunsplit((scheme, netloc, quote(path, safe="/%:@!$&'()*+,;=~-._"), query, ""))


def link_variants(url: str) -> frozenset[str]:
    """The stored links that are the same article as ``url``: itself, its http/https
    twin, its www./m./amp. hosts and its /amp path, with and without a trailing slash."""
    parts = urlsplit(clean_link(url))
    host = parts.netloc
    for prefix in _MIRROR_HOST_PREFIXES:
        if host.startswith(prefix):
            host = host.removeprefix(prefix)
            break
    hosts = {host, *(prefix + host for prefix in _MIRROR_HOST_PREFIXES)}
    path = re.sub(r"(/amp)+(/|$)", r"\2", parts.path) or "/"
    query = "&".join(
        p for p in parts.query.split("&") if p and p.split("=", 1)[0].lower() not in _AMP_QUERY
    )
    bare_path = path.rstrip("/") or "/"
    paths = {bare_path, bare_path if bare_path.endswith("/") else bare_path + "/"}
    paths |= {p.rstrip("/") + "/amp" for p in paths} | {p.rstrip("/") + "/amp/" for p in paths}
    queries = {f"?{q}" if q else "" for q in (query, parts.query)}
    variants = {
        f"{scheme}://{h}{p}{q}"
        for scheme in _ALLOWED_SCHEMES
        for h in hosts
        for p in paths
        for q in queries
    }
    variants.add(url)
    return frozenset(variants)


def same_article_key(url: str) -> str:
    """One string for all of `link_variants(url)`: what two links are compared by."""
    parts = urlsplit(clean_link(url))
    host = parts.netloc
    for prefix in _MIRROR_HOST_PREFIXES:
        host = host.removeprefix(prefix)
    path = re.sub(r"(/amp)+(/|$)", r"\2", parts.path).rstrip("/") or "/"
    query = "&".join(
        p for p in parts.query.split("&") if p and p.split("=", 1)[0].lower() not in _AMP_QUERY
    )
    return f"{host}{path}?{query}" if query else f"{host}{path}"


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()
