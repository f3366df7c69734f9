"""DKIM signatures made by digest.mail.dkim and checked by dkimpy's verifier, against a
DNS lookup function that answers with the test's own key record."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from digest import wiring
from digest.config import Settings
from digest.errors import ConfigError
from digest.mail import build_message
from digest.mail.dkim import dns_record
from digest.mail.message import HEADER_POLICY


def message_bytes() -> bytes:
    msg = build_message(
        sender="Harwick Digest <digest@news.example.org>",
        to_address="mara@example.org",
        to_name="Mara Quill",
        subject="Harwick Digest: the ferry runs again",
        html="<p>The ferry to Little Harwick runs again from Monday.</p>" * 40,
        text="The ferry to Little Harwick runs again from Monday.\n" * 40,
        message_id="<digest.e1.s1@news.example.org>",
        list_id="Harwick Digest <harwick-digest.news.example.org>",
        unsubscribe_url="https://news.example.org/unsubscribe/abc",
        date=datetime(2026, 11, 28, 7, 0, tzinfo=UTC),
    )
    return msg.as_bytes(policy=HEADER_POLICY)


def write_key(tmp_path: Path, kind: str) -> tuple[Path, bytes]:
    if kind.startswith("rsa"):
        key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = rsa.generate_private_key(
            public_exponent=65537, key_size=2048
        )
        fmt = (
            serialization.PrivateFormat.TraditionalOpenSSL
            if kind == "rsa-pkcs1"
            else serialization.PrivateFormat.PKCS8
        )
    else:
        key = ed25519.Ed25519PrivateKey.generate()
        fmt = serialization.PrivateFormat.PKCS8
    pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path = tmp_path / f"{kind}.pem"
    path.write_bytes(pem)
    return path, public


def settings_for(path: Path, **extra: object) -> Settings:
    return Settings(
        dkim_key_file=path,
        dkim_selector="harwick2026",
        DIGEST_FROM="Harwick Digest <digest@news.example.org>",
        **extra,  # type: ignore[arg-type]  # keyword arguments from a dict
    )


@pytest.mark.parametrize("kind", ["rsa-pkcs1", "rsa-pkcs8", "ed25519"])
def test_a_signed_copy_verifies_against_its_published_key(tmp_path: Path, kind: str) -> None:
    path, public = write_key(tmp_path, kind)
    signer = wiring.signer(settings_for(path))
    assert signer is not None
    record = dns_record(public)
    asked: list[bytes] = []

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return record if name == b"harwick2026._domainkey.news.example.org." else b""

    signed = signer.sign(message_bytes())
    header = signed.split(b"\r\n\r\n", 1)[0]
    assert header.startswith(b"DKIM-Signature: ")
    h_tag = header.split(b"h=", 1)[1].split(b";", 1)[0].replace(b"\r\n", b"").replace(b" ", b"")
    assert h_tag.lower().split(b":") == [
        b"from",
        b"to",
        b"subject",
        b"date",
        b"message-id",
        b"list-unsubscribe",
        b"list-unsubscribe-post",
    ]
    assert (b"a=ed25519-sha256" if kind == "ed25519" else b"a=rsa-sha256") in header
    assert dkim.verify(signed, dnsfunc=dnsfunc)
    assert asked == [b"harwick2026._domainkey.news.example.org."]
    # A changed subject, or a changed body, no longer verifies.
    assert not dkim.verify(
        signed.replace(b"ferry runs again", b"ferry is cancelled", 1), dnsfunc=dnsfunc
    )
    assert not dkim.verify(signed.replace(b"Little Harwick", b"Great Harwick", 1), dnsfunc=dnsfunc)


def test_the_domain_can_be_set_apart_from_the_from_address(tmp_path: Path) -> None:
    path, _ = write_key(tmp_path, "ed25519")
    signer = wiring.signer(settings_for(path, dkim_domain="mail.example.org"))
    assert signer is not None and signer.domain == b"mail.example.org"
    assert b"d=mail.example.org" in signer.header(message_bytes())


def test_dkim_is_off_without_a_key() -> None:
    assert wiring.signer(Settings()) is None


def test_bad_keys_are_one_line_naming_the_setting(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    ec_key = tmp_path / "ec.pem"
    ec_key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    for path, words in [
        (tmp_path / "missing.pem", "cannot read"),
        (garbage, "is not an unencrypted PEM RSA or Ed25519 private key"),
        (ec_key, "DKIM takes RSA or Ed25519"),
    ]:
        with pytest.raises(ConfigError) as info:
            wiring.signer(settings_for(path))
        message = str(info.value)
        assert message.startswith("DIGEST_DKIM_KEY_FILE: ") and words in message
        assert "\n" not in message
    good, _ = write_key(tmp_path, "ed25519")
    with pytest.raises(ConfigError, match=r"^DIGEST_DKIM_SELECTOR: "):
        wiring.signer(Settings(dkim_key_file=good))


@pytest.mark.parametrize("kind", ["rsa-pkcs8", "ed25519"])
def test_copies_from_an_edition_template_verify_sent_8bit_or_encoded(
    tmp_path: Path, kind: str
) -> None:
    # The signer works on the copy's own bytes: the 8bit, dot-stuffed bytes a modern
    # server gets, and the quoted-printable copy a server without 8BITMIME gets.
    from digest.mail.template import Recipient, build_template

    path, public = write_key(tmp_path, kind)
    record = dns_record(public)

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        return record if name == b"harwick2026._domainkey.news.example.org." else b""

    template = build_template(
        sender="Harwick Digest <digest@news.example.org>",
        subject="Harwick Digest: Fähre fährt wieder, العبارة تعود, 渡轮恢复 " * 3,
        html="<p>.A line that starts with a dot.</p>\n" + "<p>Wärme im Hafen.</p>\n" * 50,
        text=".A line that starts with a dot.\n" + "Wärme im Hafen.\n" * 50,
        list_id="Harwick Digest <harwick-digest.news.example.org>",
    )
    copy = template.copy_for(
        Recipient(
            address="mara@example.org",
            name="Mara Quill",
            message_id="<digest.e1.s1@news.example.org>",
            unsubscribe_url="https://news.example.org/unsubscribe/abc",
            preferences_url="https://news.example.org/preferences/abc",
            date=datetime(2026, 11, 28, 7, 0, tzinfo=UTC),
        )
    )
    finished = wiring.finisher(settings_for(path)).finish(copy, 7)
    assert finished.stuffed is not None
    sent = finished.stuffed.replace(b"\r\n..", b"\r\n.")  # what the server stores
    assert dkim.verify(sent, dnsfunc=dnsfunc)
    encoded = finished.fallback().as_bytes(policy=HEADER_POLICY)
    assert max(encoded) < 128
    assert dkim.verify(encoded, dnsfunc=dnsfunc)
    # A relay that refolds a header or adds empty lines at the end does not break it.
    head, body = sent.split(b"\r\n\r\n", 1)
    refolded = head.replace(b"\r\nSubject: ", b"\r\nSubject:    ", 1)
    assert dkim.verify(refolded + b"\r\n\r\n" + body + b"\r\n\r\n", dnsfunc=dnsfunc)
    # One changed character of the body does not verify.
    changed = head + b"\r\n\r\n" + body.replace("Wärme".encode(), b"Warme", 1)
    assert not dkim.verify(changed, dnsfunc=dnsfunc)
