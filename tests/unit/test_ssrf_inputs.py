"""What users and operators type in: IPv6 literals are hosts like any other (the address
rule decides whether they are fetched), and the allow list is checked with the settings."""

from __future__ import annotations

import pytest

from digest.config import Settings
from digest.errors import BadUrl, ConfigError
from digest.gather.urls import check_http_url


def test_the_setting_is_checked_when_the_settings_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from digest.config import load_settings

    monkeypatch.setenv("DIGEST_FETCH_ALLOW_NETWORKS", "10.0.0.0/8,intranet")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith(
        "DIGEST_FETCH_ALLOW_NETWORKS: 'intranet' is not a network or an address with a port"
    )
    monkeypatch.setenv("DIGEST_FETCH_ALLOW_NETWORKS", " 10.0.0.0/8  127.0.0.1:8765 ")
    assert load_settings().fetch_allow_networks == "10.0.0.0/8,127.0.0.1:8765"
    monkeypatch.delenv("DIGEST_FETCH_ALLOW_NETWORKS")
    assert Settings().fetch_allow_networks == ""  # nothing allowed unless said


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]/feed",
        "http://[::1]:8080/feed",
        "https://[2606:4700::1111]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1%25eth0]/",
    ],
)
def test_ipv6_literals_are_valid_hosts(url: str) -> None:
    assert check_http_url(url) == url


def test_a_bracketed_host_that_is_no_ipv6_address_is_a_bad_url() -> None:
    with pytest.raises(BadUrl, match=r"the host in \[brackets\] is not an IPv6 address"):
        check_http_url("http://[::zz]/")
