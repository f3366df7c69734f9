"""Which addresses a fetch may connect to: the public internet, and the networks an
operator names; never this machine, its private networks or addresses that are not for
hosts.

Every URL the gatherer fetches comes from outside (a subscriber's source, a feed author's
links, a site's redirects), so an address is checked after the name is resolved and just
before connecting to it (`digest.gather.fetch.GuardedTransport` connects to the very
address checked here). Refused, by default, in IPv4 and IPv6 alike:

- loopback (127.0.0.0/8, ::1), the unspecified address (0.0.0.0/8, ::), broadcast;
- private (RFC 1918: 10/8, 172.16/12, 192.168/16), shared (carrier-grade NAT, 100.64/10),
  unique-local (fc00::/7) and the deprecated site-local (fec0::/10) networks;
- link-local (169.254/16, where cloud metadata services answer; fe80::/10), multicast;
- documentation, benchmarking and reserved ranges, and IPv6 outside 2000::/3;
- IPv6 forms that carry an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible
  ``::a.b.c.d``, 6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``): judged by the IPv4 address.

Host names that are IP addresses in disguise are read as the address they are:
``2130706433``, ``0x7f.1``, ``0177.0.0.1`` and ``127.1`` are all 127.0.0.1, and names
under ``localhost`` are loopback without asking DNS (RFC 6761).

`AllowList` names networks, each optionally with a port, that are fetched all the same:
``10.0.0.0/8,127.0.0.1:8765,[::1]:8080,fd00::/8`` (the operator's
DIGEST_FETCH_ALLOW_NETWORKS, empty by default).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from digest.errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# A host name to the addresses it stands for, in the order to try them; OSError when it
# has none.
Resolver = Callable[[str], Sequence[str]]

ALLOW_ENV = "DIGEST_FETCH_ALLOW_NETWORKS"
ALLOW_EXAMPLES = "10.0.0.0/8, 127.0.0.1:8765 or [::1]:8080"

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network
# Most specific first: the first network that holds an address says what it is.
_IPV4_KINDS: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), "the unspecified address (this host)"),
    (_V4("127.0.0.0/8"), "a loopback address"),
    (_V4("10.0.0.0/8"), "a private address"),
    (_V4("172.16.0.0/12"), "a private address"),
    (_V4("192.168.0.0/16"), "a private address"),
    (_V4("100.64.0.0/10"), "a shared address (carrier-grade NAT)"),
    (_V4("169.254.0.0/16"), "a link-local address"),
    (_V4("192.0.0.0/24"), "a reserved address (IETF protocol assignments)"),
    (_V4("192.0.2.0/24"), "a documentation address"),
    (_V4("198.51.100.0/24"), "a documentation address"),
    (_V4("203.0.113.0/24"), "a documentation address"),
    (_V4("192.88.99.0/24"), "a reserved address (6to4 relays)"),
    (_V4("198.18.0.0/15"), "a reserved address (benchmarking)"),
    (_V4("224.0.0.0/4"), "a multicast address"),
    (_V4("255.255.255.255/32"), "the broadcast address"),
    (_V4("240.0.0.0/4"), "a reserved address"),
)
_IPV6_KINDS: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::/128"), "the unspecified address"),
    (_V6("::1/128"), "a loopback address"),
    (_V6("64:ff9b:1::/48"), "a private address (local-use NAT64)"),
    (_V6("::/8"), "a reserved address"),
    (_V6("100::/64"), "a reserved address (discard only)"),
    (_V6("2001::/23"), "a reserved address (IETF protocol assignments)"),
    (_V6("2001:db8::/32"), "a documentation address"),
    (_V6("3fff::/20"), "a documentation address"),
    (_V6("5f00::/16"), "a reserved address (segment routing)"),
    (_V6("fc00::/7"), "a unique-local address"),
    (_V6("fec0::/10"), "a site-local address"),
    (_V6("fe80::/10"), "a link-local address"),
    (_V6("ff00::/8"), "a multicast address"),
)
_GLOBAL_UNICAST = _V6("2000::/3")
_NAT64 = _V6("64:ff9b::/96")
_COMPATIBLE = _V6("::/96")
# Dotted numbers, hex and octal included, as inet_aton reads them: 127.1, 0x7f.0.0.1.
_NUMERIC_HOST = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}$", re.I)


class AddressRefused(FetchError):
    """A fetch was not made: the host is, or resolves to, an address that is refused.
    The message is one line: "<url>: refused: 127.0.0.1 is a loopback address"."""


def host_address(host: str) -> IPAddress | None:
    """The IP address a URL's host names literally, in any of the forms that connect to
    it (``[::1]``, ``::ffff:7f00:1``, ``2130706433``, ``0177.0.0.1``, ``127.1``, a
    trailing dot); None for a host name."""
    host = host.strip().removeprefix("[").removesuffix("]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    host = host.removesuffix(".")
    if _NUMERIC_HOST.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_localhost_name(host: str) -> bool:
    name = host.strip().rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def embedded_ipv4(address: IPAddress) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries, and the name of the form, if it does."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "an IPv4-mapped form"
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "a NAT64 form"
    if address.sixtofour is not None:
        return address.sixtofour, "a 6to4 form"
    if address in _COMPATIBLE and int(address) > 1:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "an IPv4-compatible form"
    return None


def address_kind(address: IPAddress) -> str | None:
    """What makes an address one not to fetch from ("a loopback address"); None for a
    public one."""
    if isinstance(address, ipaddress.IPv4Address):
        return next((kind for net, kind in _IPV4_KINDS if address in net), None)
    kind = next((kind for net, kind in _IPV6_KINDS if address in net), None)
    if kind is None and address not in _GLOBAL_UNICAST:
        return "a reserved address"
    return kind


@dataclass(frozen=True)
class Allowed:
    """One entry of the allow list: a network, and the one port allowed in it (or all)."""

    network: IPNetwork
    port: int | None = None

    def admits(self, address: IPAddress, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        return address.version == self.network.version and address in self.network

    def __str__(self) -> str:
        network = str(self.network)
        if self.network.num_addresses == 1:
            network = str(self.network.network_address)
        if self.port is None:
            return network
        return f"[{network}]:{self.port}" if self.network.version == 6 else f"{network}:{self.port}"


def _allowed(entry: str) -> Allowed:
    text, port = entry, None
    if text.startswith("["):  # [::1]:8080, [fd00::/8]:443, [::1]
        inside, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(entry)
        text, port = inside, rest[1:] if rest else None
    elif text.count(":") == 1:  # 127.0.0.1:8765, 10.0.0.0/8:443
        text, port = text.split(":")
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError(entry) from exc
    if port is None:
        return Allowed(network)
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(entry)
    return Allowed(network, int(port))


@dataclass(frozen=True)
class AllowList:
    """The networks (and ports) fetched although the address rule refuses them."""

    entries: tuple[Allowed, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> AllowList:
        """``10.0.0.0/8, 127.0.0.1:8765 [::1]:8080``: commas or spaces between entries;
        ValueError naming the first entry that is not a network."""
        entries = []
        for entry in re.split(r"[\s,]+", (text or "").strip()):
            if not entry:
                continue
            try:
                entries.append(_allowed(entry))
            except ValueError as exc:
                reason = f" ({exc.__cause__})" if exc.__cause__ else ""
                raise ValueError(
                    f"{entry!r} is not a network or an address with a port{reason};"
                    f" write e.g. {ALLOW_EXAMPLES}"
                ) from None
        return cls(tuple(entries))

    @classmethod
    def from_environment(cls) -> AllowList:
        """The operator's DIGEST_FETCH_ALLOW_NETWORKS, for fetches made without settings
        (digest.wiring passes the setting itself); an unreadable one allows nothing."""
        try:
            return cls.parse(os.environ.get(ALLOW_ENV, ""))
        except ValueError:
            return cls()

    def admits(self, address: IPAddress, port: int) -> bool:
        return any(entry.admits(address, port) for entry in self.entries)

    def refusal(self, address: IPAddress, port: int) -> str | None:
        """Why not to connect to `address` on `port` ("127.0.0.1 is a loopback
        address"), or None when it may be connected to."""
        if self.admits(address, port):
            return None
        inner = embedded_ipv4(address)
        if inner is not None:
            ipv4, form = inner
            if self.admits(ipv4, port):
                return None
            kind = address_kind(ipv4)
            return f"{address} is {form} of {ipv4}, {kind}" if kind else None
        kind = address_kind(address)
        return f"{address} is {kind}" if kind else None

    def __str__(self) -> str:
        return ",".join(str(entry) for entry in self.entries)


def system_resolver(host: str) -> list[str]:
    """The addresses the system's resolver gives for `host`, each once, in its order."""
    found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def vet_host(host: str, port: int, allow: AllowList, resolver: Resolver) -> list[IPAddress]:
    """The addresses to connect to for `host`, every one of them allowed; AddressRefused
    ("refused: evil.example resolves to 127.0.0.1, a loopback address") when any is not.
    A name with any refused address is refused whole: a public name has no business
    resolving inside. Resolver errors (OSError) pass through."""
    literal = host_address(host)
    if literal is not None:
        addresses = [literal]
    elif is_localhost_name(host):
        addresses = [ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1")]
    else:
        addresses = []
        for found in resolver(host):
            address = host_address(found)
            if address is None:
                raise OSError(f"{host}: the resolver gave {found!r}, not an address")
            addresses.append(address)
        if not addresses:
            raise OSError(f"{host}: the name has no address")
    for address in addresses:
        reason = allow.refusal(address, port)
        if reason is None:
            continue
        what = reason.removeprefix(f"{address} is ")
        if literal is None:
            raise AddressRefused(f"refused: {host.strip()} resolves to {address}, {what}")
        written = host.strip().removeprefix("[").removesuffix("]").removesuffix(".")
        if written.lower() == str(address):
            raise AddressRefused(f"refused: {reason}")  # 127.0.0.1 is a loopback address
        raise AddressRefused(f"refused: {written} is {address}, {what}")  # 127.1 is 127.0.0.1
    return addresses
