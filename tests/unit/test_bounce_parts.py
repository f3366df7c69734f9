"""VERP return paths and DSN reading: pure functions over fixtures written for these tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from digest.config import Settings, describe_validation_error
from digest.core.verp import (
    bounce_address_problem,
    delivery_for_address,
    delivery_in_headers,
    return_path,
)
from digest.errors import InvalidInput
from digest.mail.dsn import parse_dsn

DSN = Path(__file__).resolve().parents[1] / "fixtures" / "dsn"
SECRET = "unit-secret"


def dsn_bytes(name: str, **fill: str) -> bytes:
    text = (DSN / name).read_text()
    for key, value in fill.items():
        text = text.replace("{" + key + "}", value)
    return text.replace("\n", "\r\n").encode()


@pytest.mark.parametrize(
    ("configured", "shape"),
    [
        ("bounces@news.example.org", "bounces+"),
        ("bounces+{delivery_id}@news.example.org", "bounces+"),
        ("return-{delivery_id}@bounce.news.example.org", "return-"),
    ],
)
def test_a_return_path_names_its_delivery_and_only_with_its_signature(
    configured: str, shape: str
) -> None:
    address = return_path(configured, SECRET, 4711)
    assert address.startswith(shape + "4711-")
    assert delivery_for_address(configured, SECRET, address) == 4711
    # Case-folding MTAs and angle brackets change nothing.
    assert delivery_for_address(configured, SECRET, f"<{address.upper()}>") == 4711
    # Another delivery id with this signature, a signature under another key: refused.
    forged = address.replace("4711-", "4712-")
    assert delivery_for_address(configured, SECRET, forged) is None
    assert delivery_for_address(configured, "other-secret", address) is None
    assert delivery_for_address(configured, SECRET, "bounces@news.example.org") is None
    header = f"Digest bounces <{address}>"
    assert delivery_in_headers(configured, SECRET, ["nobody@example.org", header]) == 4711


@pytest.mark.parametrize(
    "bad",
    [
        "Bounces <bounces@example.org>",
        "bounces",
        "bounces@localhost",
        "bounces+{id}@example.org",
        "bounces@{delivery_id}.example.org",
    ],
)
def test_a_bad_bounce_address_is_a_config_error_naming_the_setting(bad: str) -> None:
    assert bounce_address_problem(bad)
    with pytest.raises(ValidationError) as info:
        Settings(bounce_address=bad)
    lines = describe_validation_error(info.value)
    assert lines and lines[0].startswith("DIGEST_BOUNCE_ADDRESS: ")


def test_a_hard_dsn_with_returned_headers() -> None:
    dsn = parse_dsn(
        dsn_bytes(
            "hard-mailbox-closed.eml",
            to="bounces+12-abcdef0123@news.example.org",
            recipient="keeper@quarry-lane.example",
            message_id="<digest.e3.s12@news.example.org>",
        )
    )
    (report,) = dsn.recipients
    assert (report.recipient, report.action, report.status) == (
        "keeper@quarry-lane.example",
        "failed",
        "5.1.1",
    )
    assert report.hard and report.is_bounce
    assert "mailbox closed, keeper retired" in report.diagnostic
    assert dsn.addressed_to == ("bounces+12-abcdef0123@news.example.org",)
    assert dsn.original_message_id == "<digest.e3.s12@news.example.org>"


def test_a_soft_dsn_with_the_returned_message() -> None:
    dsn = parse_dsn(
        dsn_bytes(
            "soft-mailbox-full.eml",
            to="bounces@news.example.org",
            recipient="secretary@saltmarsh.example",
            message_id="<digest.e9.s2@news.example.org>",
        )
    )
    (report,) = dsn.recipients
    assert report.status == "4.2.2" and not report.hard and report.is_bounce
    assert dsn.original_message_id == "<digest.e9.s2@news.example.org>"


def test_a_delayed_notice_is_read_but_is_not_a_bounce() -> None:
    data = dsn_bytes(
        "soft-mailbox-full.eml",
        to="x@example.org",
        recipient="secretary@saltmarsh.example",
        message_id="<m@example.org>",
    ).replace(b"Action: failed", b"Action: delayed")
    (report,) = parse_dsn(data).recipients
    assert report.action == "delayed" and not report.is_bounce


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the message is empty"),
        (dsn_bytes("not-a-dsn.eml", to="x@example.org"), "not a delivery status notification"),
        (
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n",
            "no message/delivery-status part",
        ),
        (
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
            b"Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: soon\r\n"
            b"\r\n--b--\r\n",
            "names no recipient",
        ),
    ],
)
def test_what_is_not_a_dsn_is_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_dsn(data)
