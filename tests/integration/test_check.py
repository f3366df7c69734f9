"""`digest check` against real things: a migrated or empty database (SQLite and
PostgreSQL), a real Redis, real aiosmtpd servers (one asking for a login, one without
8BITMIME, one refusing the login), a port where nothing listens, and a DKIM key on disk."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from smtp_sink import Sink, free_port
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from digest.cli import app
from digest.config import Settings, get_settings
from digest.mail.dkim import dns_record
from digest.runtime.checks import run_checks

pytestmark = pytest.mark.integration


def start_server(sink: Sink, **options: Any) -> tuple[Controller, int]:
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller, port


@pytest.fixture
def servers() -> Iterator[dict[str, tuple[Sink, int]]]:
    """A server asking for a login (and taking it), one without 8BITMIME, one refusing
    every login."""

    def accept(*args: Any) -> AuthResult:
        return AuthResult(success=True)

    def refuse(*args: Any) -> AuthResult:
        return AuthResult(success=False, handled=False)

    made = {}
    controllers = []
    for name, options in {
        "login": {"auth_require_tls": False, "authenticator": accept},
        "old": {"decode_data": True},
        "refusing": {"auth_require_tls": False, "authenticator": refuse},
    }.items():
        sink = Sink()
        controller, port = start_server(sink, **options)
        controllers.append(controller)
        made[name] = (sink, port)
    yield made
    for controller in controllers:
        controller.stop()


class Dns:
    """A DNS server on loopback UDP answering TXT queries from `records` (NXDOMAIN for
    other names), for the DKIM key lookup."""

    def __init__(self) -> None:
        self.records: dict[str, str] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            text = self.records.get(question.name.to_text().rstrip(".").lower())
            if text is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            else:  # strings of at most 255 bytes, as a long record is published
                chunks = " ".join(f'"{text[i : i + 255]}"' for i in range(0, len(text), 255))
                rrset = response.find_rrset(
                    response.answer,
                    question.name,
                    dns.rdataclass.IN,
                    dns.rdatatype.TXT,
                    create=True,
                )
                rrset.add(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, chunks), 300)
            self.sock.sendto(response.to_wire(), peer)

    def resolver(self) -> dns.resolver.Resolver:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.port
        return resolver


@pytest.fixture
def local_dns() -> Iterator[Dns]:
    server = Dns()
    yield server
    server.sock.close()


def dkim_key(tmp_path: Path) -> tuple[Path, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "dkim.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return path, dns_record(public)


def test_a_working_setup_checks_ok_and_no_mail_is_sent(
    migrated_database_url: str,
    redis_url: str,
    servers: dict[str, tuple[Sink, int]],
    local_dns: Dns,
    tmp_path: Path,
) -> None:
    sink, port = servers["login"]
    key_file, record = dkim_key(tmp_path)
    local_dns.records["mail2026._domainkey.news.example.org"] = record.decode()
    settings = Settings(
        database_url=migrated_database_url,
        broker_url=redis_url,
        smtp_url=f"smtp://digest:secret@127.0.0.1:{port}?pool=2",
        base_url="http://localhost:8000",
        dkim_key_file=key_file,
        dkim_selector="mail2026",
        **{"DIGEST_FROM": "Digest <digest@news.example.org>"},
    )
    found = {c.name: c for c in run_checks(settings, local_dns.resolver())}
    assert {name: c.status for name, c in found.items()} == {
        # Fine on this machine; what a deployment for others needs is said.
        "secret key": "warning",
        "base url": "warning",
        "database": "ok",
        "broker": "ok",
        f"smtp smtp://digest:***@127.0.0.1:{port}": "ok",
        "dkim": "ok",
    }
    smtp = found[f"smtp smtp://digest:***@127.0.0.1:{port}"].detail
    assert "8BITMIME" in smtp and "login accepted" in smtp and "secret" not in smtp
    assert (
        found["dkim"].detail
        == "rsa-sha256; mail2026._domainkey.news.example.org publishes this key"
    )
    assert sink.sessions == 1 and sink.messages == []  # greeted, logged in, nothing sent


def test_the_dkim_record_is_looked_up_and_compared_with_the_key(
    migrated_database_url: str, local_dns: Dns, tmp_path: Path
) -> None:
    key_file, record = dkim_key(tmp_path)
    (tmp_path / "other").mkdir()
    _, other = dkim_key(tmp_path / "other")
    settings = Settings(
        database_url=migrated_database_url,
        outbox_dir=tmp_path / "outbox",
        dkim_key_file=key_file,
        dkim_selector="s1",
        **{"DIGEST_FROM": "Digest <digest@news.example.org>"},
    )
    name = "s1._domainkey.news.example.org"
    publish = f"publish TXT at {name}: {record.decode()}"

    def dkim() -> tuple[str, str]:
        (found,) = [c for c in run_checks(settings, local_dns.resolver()) if c.name == "dkim"]
        return found.status, found.detail

    assert dkim() == ("warning", f"no TXT record at {name} yet; {publish}")
    local_dns.records[name] = other.decode()
    assert dkim() == (
        "error",
        f"{name} publishes another key: receivers will fail DKIM; {publish}",
    )
    local_dns.records[name] = "v=DKIM1; k=rsa; p="
    assert dkim()[0] == "error" and "revoked" in dkim()[1]
    # Published with white space inside p=, as some DNS consoles split it: the same key.
    spaced = record.decode().replace("p=", "p= ").replace("AQAB", " AQAB")
    local_dns.records[name] = spaced
    assert dkim() == ("ok", f"rsa-sha256; {name} publishes this key")
    # No DNS server answers: a warning that still says what to publish.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as unused:
        unused.bind(("127.0.0.1", 0))
        silent_port = unused.getsockname()[1]
    resolver = local_dns.resolver()
    resolver.port = silent_port
    resolver.lifetime = 1.0
    (found,) = [c for c in run_checks(settings, resolver) if c.name == "dkim"]
    assert found.status == "warning" and found.detail.endswith(publish)


@pytest.fixture
def run(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGEST_DATABASE_URL", database_url)  # never migrated: no schema
    for key in ("DIGEST_BROKER_URL", "DIGEST_SMTP_URL", "DIGEST_DKIM_KEY_FILE"):
        monkeypatch.delenv(key, raising=False)
    get_settings.cache_clear()

    def invoke(env: dict[str, str]) -> tuple[int, str]:
        get_settings.cache_clear()
        result = CliRunner().invoke(app, ["check", "--json"], env=env)
        return result.exit_code, result.stdout

    yield invoke
    get_settings.cache_clear()


def test_each_problem_is_named_and_the_command_exits_1(
    run: Any, database_url: str, servers: dict[str, tuple[Sink, int]]
) -> None:
    nothing = free_port()
    old, refusing = servers["old"][1], servers["refusing"][1]
    smtp = (
        f"smtp://127.0.0.1:{old} smtp://127.0.0.1:{nothing} "
        f"smtp://digest:wrong@127.0.0.1:{refusing}"
    )
    code, out = run(
        {
            "DIGEST_BROKER_URL": f"redis://127.0.0.1:{nothing}/0",
            "DIGEST_SMTP_URL": smtp,
            "DIGEST_BASE_URL": "https://news.example.org",
        }
    )
    assert code == 1
    found = {c["name"]: c for c in json.loads(out)}
    # The default key with public links: an error, not a warning.
    assert found["secret key"]["status"] == "error"
    assert "DIGEST_SECRET_KEY is the default" in found["secret key"]["detail"]
    assert found["database"]["status"] == "error"
    assert "run `digest init`" in found["database"]["detail"]
    assert found["broker"]["status"] == "error"
    assert f"127.0.0.1:{nothing}" in found["broker"]["detail"]
    slow = found[f"smtp smtp://127.0.0.1:{old}"]
    assert slow["status"] == "warning" and "no 8BITMIME" in slow["detail"]
    down = found[f"smtp smtp://127.0.0.1:{nothing}"]
    assert down["status"] == "error" and "cannot connect" in down["detail"]
    refused = found[f"smtp smtp://digest:***@127.0.0.1:{refusing}"]
    assert refused["status"] == "error" and "login to 127.0.0.1 refused: 535" in refused["detail"]
    # Checking changed nothing: the empty database is still empty.
    engine = create_engine(database_url)
    assert inspect(engine).get_table_names() == []
    engine.dispose()


def test_the_outbox_and_the_dkim_key_are_tried_too(run: Any, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    bad_key = tmp_path / "key.pem"
    bad_key.write_text("-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----\n")
    code, out = run(
        {
            "DIGEST_OUTBOX_DIR": str(tmp_path / "a-file" / "outbox"),
            "DIGEST_DKIM_KEY_FILE": str(bad_key),
            "DIGEST_DKIM_SELECTOR": "s1",
        }
    )
    found = {c["name"]: c for c in json.loads(out)}
    assert code == 1
    assert found["outbox"]["status"] == "error" and "not writable" in found["outbox"]["detail"]
    assert found["dkim"]["status"] == "error"
    assert "DIGEST_DKIM_KEY_FILE" in found["dkim"]["detail"]
    code, out = run({"DIGEST_OUTBOX_DIR": str(tmp_path / "new" / "outbox")})
    found = {c["name"]: c for c in json.loads(out)}
    assert found["outbox"]["status"] == "ok" and not (tmp_path / "new").exists()
