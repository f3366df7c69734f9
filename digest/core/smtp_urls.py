"""What `DIGEST_SMTP_URL` may say: one or more `smtp://`, `smtp+starttls://` or `smtps://`
URLs separated by spaces, each with `rate=` limits and a `pool=` of connections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from limits import RateLimitItem

from digest.core.redact import mask_url

SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")


def smtp_url_problem(url: str) -> str | None:
    """What is wrong with an SMTP URL, or None; the URL is quoted without its password."""
    shown = mask_url(url)
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed [ around an IPv6 address
        return f"{shown!r} is not a URL"
    if parts.scheme not in SMTP_SCHEMES:
        return f"must start with smtp://, smtp+starttls:// or smtps://, not {shown!r}"
    if not parts.hostname:
        return f"{shown!r} has no host"
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return f"{shown!r} has a port that is not a number from 1 to 65535"
    return None


# Options a server URL may carry in its query string.
OPTIONS = ("rate", "pool")


MAX_POOL = 50


@dataclass(frozen=True)
class ServerSpec:
    url: str  # as given, options included
    rates: tuple[RateLimitItem, ...] = ()
    pool: int = 1  # connections one sending process may hold open to it at once

    @property
    def key(self) -> str:
        """The server's identity in the shared counters: host, port and user."""
        parts = urlsplit(self.url)
        return f"{parts.username or ''}@{parts.hostname}:{parts.port or ''}"

    @property
    def shown(self) -> str:
        parts = urlsplit(self.url)
        return mask_url(parts._replace(query="").geturl())


def parse_servers(value: str) -> list[ServerSpec]:
    """The servers of a DIGEST_SMTP_URL value; ValueError says what is wrong and where."""
    urls = value.split()
    if not urls:
        raise ValueError("no SMTP URL given")
    specs: list[ServerSpec] = []
    for url in urls:
        problem = smtp_url_problem(url)
        if problem:
            raise ValueError(problem)
        options = parse_qs(urlsplit(url).query, keep_blank_values=True)
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ValueError(
                f"{mask_url(url)!r}: unknown option {unknown[0]!r} (known: {', '.join(OPTIONS)})"
            )
        rates: list[RateLimitItem] = []
        for rate in options.get("rate", []):
            from limits import parse_many  # only for a rate: settings load without it

            try:
                rates += parse_many(rate)
            except ValueError:
                raise ValueError(
                    f"{mask_url(url)!r}: rate {rate!r} is not a rate; write counts per period, "
                    "e.g. rate=100/second,20000/hour"
                ) from None
        pool = 1
        for value in options.get("pool", []):
            if not value.isdigit() or not 1 <= int(value) <= MAX_POOL:
                raise ValueError(
                    f"{mask_url(url)!r}: pool {value!r} is not a number of connections "
                    f"from 1 to {MAX_POOL}"
                )
            pool = int(value)
        specs.append(ServerSpec(url, tuple(rates), pool))
    return specs


def needs_pool(value: str) -> bool:
    """Whether a DIGEST_SMTP_URL value needs the pool (several servers, or limits)."""
    specs = parse_servers(value)
    return len(specs) > 1 or any(s.rates or s.pool > 1 for s in specs)
