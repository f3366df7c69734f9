"""The address rule every fetch obeys: which addresses are refused, in which disguises, and
the operator's allow list (DIGEST_FETCH_ALLOW_NETWORKS)."""

from __future__ import annotations

import pytest

from digest.gather.addresses import AddressRefused, AllowList, host_address, vet_host

NOBODY = AllowList()


def no_dns(host: str) -> list[str]:
    raise AssertionError(f"{host} was looked up: literals and localhost need no resolver")


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("127.255.255.254", "127.255.255.254 is a loopback address"),
        ("0.0.0.0", "0.0.0.0 is the unspecified address (this host)"),
        ("10.20.30.40", "10.20.30.40 is a private address"),
        ("172.16.0.1", "172.16.0.1 is a private address"),
        ("172.31.255.255", "172.31.255.255 is a private address"),
        ("192.168.1.1", "192.168.1.1 is a private address"),
        ("100.64.0.1", "100.64.0.1 is a shared address (carrier-grade NAT)"),
        ("169.254.169.254", "169.254.169.254 is a link-local address"),
        ("224.0.0.251", "224.0.0.251 is a multicast address"),
        ("255.255.255.255", "255.255.255.255 is the broadcast address"),
        ("240.0.0.1", "240.0.0.1 is a reserved address"),
        ("192.0.2.10", "192.0.2.10 is a documentation address"),
        ("198.51.100.7", "198.51.100.7 is a documentation address"),
        ("203.0.113.9", "203.0.113.9 is a documentation address"),
        ("198.18.0.1", "198.18.0.1 is a reserved address (benchmarking)"),
        ("::1", "::1 is a loopback address"),
        ("::", ":: is the unspecified address"),
        ("fd12:3456::1", "fd12:3456::1 is a unique-local address"),
        ("fc00::1", "fc00::1 is a unique-local address"),
        ("fe80::1", "fe80::1 is a link-local address"),
        ("fe80::1%eth0", "fe80::1%eth0 is a link-local address"),
        ("fec0::1", "fec0::1 is a site-local address"),
        ("ff02::1", "ff02::1 is a multicast address"),
        ("2001:db8::1", "2001:db8::1 is a documentation address"),
        ("4000::1", "4000::1 is a reserved address"),
        (
            "::ffff:169.254.169.254",
            "::ffff:a9fe:a9fe is an IPv4-mapped form of 169.254.169.254, a link-local address",
        ),
        ("::127.0.0.1", "::7f00:1 is an IPv4-compatible form of 127.0.0.1, a loopback address"),
        ("2002:a00:1::", "2002:a00:1:: is a 6to4 form of 10.0.0.1, a private address"),
        ("64:ff9b::7f00:1", "64:ff9b::7f00:1 is a NAT64 form of 127.0.0.1, a loopback address"),
        ("64:ff9b:1::1", "64:ff9b:1::1 is a private address (local-use NAT64)"),
    ],
)
def test_addresses_inside_are_refused(host: str, reason: str) -> None:
    address = host_address(host)
    assert address is not None
    assert NOBODY.refusal(address, 80) == reason


@pytest.mark.parametrize(
    "host", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::"]
)
def test_public_addresses_are_fetched(host: str) -> None:
    assert vet_host(host, 443, NOBODY, no_dns) == [host_address(host)]


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("2130706433", "refused: 2130706433 is 127.0.0.1, a loopback address"),
        ("0x7f000001", "refused: 0x7f000001 is 127.0.0.1, a loopback address"),
        ("0177.0.0.1", "refused: 0177.0.0.1 is 127.0.0.1, a loopback address"),
        ("0x7f.0.0.1", "refused: 0x7f.0.0.1 is 127.0.0.1, a loopback address"),
        ("127.1", "refused: 127.1 is 127.0.0.1, a loopback address"),
        ("0xa9.0xfe.0xa9.0xfe", "refused: 0xa9.0xfe.0xa9.0xfe is 169.254.169.254, a link-local"),
        ("127.0.0.1.", "refused: 127.0.0.1 is a loopback address"),
        ("[::1]", "refused: ::1 is a loopback address"),
        ("0:0:0:0:0:0:0:1", "refused: 0:0:0:0:0:0:0:1 is ::1, a loopback address"),
        ("::ffff:127.0.0.1", "refused: ::ffff:127.0.0.1 is ::ffff:7f00:1, an IPv4-mapped form"),
        ("0:0:0:0:0:ffff:7f00:1", "refused: 0:0:0:0:0:ffff:7f00:1 is ::ffff:7f00:1, an IPv4-"),
        ("localhost", "refused: localhost resolves to 127.0.0.1, a loopback address"),
        ("localhost.", "refused: localhost. resolves to 127.0.0.1, a loopback address"),
        ("LocalHost", "refused: LocalHost resolves to 127.0.0.1, a loopback address"),
        ("admin.localhost", "refused: admin.localhost resolves to 127.0.0.1, a loopback"),
    ],
)
def test_addresses_in_disguise_are_read_as_what_they_are(host: str, message: str) -> None:
    with pytest.raises(AddressRefused) as refused:
        vet_host(host, 80, NOBODY, no_dns)
    assert str(refused.value).startswith(message)


def test_a_name_is_refused_when_any_of_its_addresses_is() -> None:
    def resolver(host: str) -> list[str]:
        return {"evil.example": ["93.184.215.14", "10.0.0.7"]}[host]

    with pytest.raises(AddressRefused) as refused:
        vet_host("evil.example", 80, NOBODY, resolver)
    assert str(refused.value) == "refused: evil.example resolves to 10.0.0.7, a private address"


def test_the_allow_list_names_networks_and_ports() -> None:
    allow = AllowList.parse("10.0.0.0/8, 127.0.0.1:8765 [::1]:8080,fd00::/8")
    assert str(allow) == "10.0.0.0/8,127.0.0.1:8765,[::1]:8080,fd00::/8"
    assert vet_host("10.1.2.3", 443, allow, no_dns)
    assert vet_host("127.0.0.1", 8765, allow, no_dns)
    assert vet_host("::ffff:127.0.0.1", 8765, allow, no_dns)  # the same address
    assert vet_host("[fd00::5]", 80, allow, no_dns)
    assert vet_host("::1", 8080, allow, no_dns)
    for host, port in [("127.0.0.1", 8766), ("127.0.0.2", 8765), ("::1", 80), ("192.168.0.1", 80)]:
        with pytest.raises(AddressRefused):
            vet_host(host, port, allow, no_dns)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("intranet.example", "'intranet.example' is not a network or an address with a port"),
        ("10.1.2.3/8", "(10.1.2.3/8 has host bits set)"),
        ("127.0.0.1:0", "'127.0.0.1:0' is not a network"),
        ("127.0.0.1:http", "'127.0.0.1:http' is not a network"),
        ("[::1", "'[::1' is not a network"),
    ],
)
def test_an_allow_list_that_names_no_network_is_a_config_error(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=r"write e\.g\. 10\.0\.0\.0/8") as error:
        AllowList.parse(text)
    assert why in str(error.value)
