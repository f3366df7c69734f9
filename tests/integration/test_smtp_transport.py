"""SmtpTransport against a real aiosmtpd server on loopback, and OutboxTransport on disk."""

from __future__ import annotations

import asyncio
import email
import email.policy
import gc
import re
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from smtp_sink import Sink, free_port

from digest.errors import InvalidInput, PermanentError, TemporaryError
from digest.mail.message import build_message, message_id_for
from digest.mail.servers import transport_from_url
from digest.mail.transports import OutboxTransport, SmtpTransport


class Server:
    """A restartable aiosmtpd Controller on a fixed loopback port."""

    def __init__(self, recorder: Sink) -> None:
        self.recorder = recorder
        self.port = free_port()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self, **smtp_options: Any) -> None:
        self.controller = Controller(
            self.recorder, hostname="127.0.0.1", port=self.port, **smtp_options
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def drop_sessions(self) -> None:
        """Close every open session from the server side, as an idle timeout would."""
        assert self.controller is not None

        async def close_all() -> None:
            for server in self.recorder.servers:
                if server.transport is not None:
                    server.transport.close()
            await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(close_all(), self.controller.loop).result(5)


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server(Sink())
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def transport(server: Server) -> Iterator[SmtpTransport]:
    t = SmtpTransport(server.url, timeout=5)
    yield t
    t.close()


def message(number: int, to: str = "ann@example.org") -> EmailMessage:
    return build_message(
        sender="Harwick Digest <digest@news.example.org>",
        to_address=to,
        to_name="Ann Lee",
        subject=f"Harwick Digest no. {number}",
        html=f"<p>Edition {number}</p>",
        text=f"Edition {number}\n",
        message_id=message_id_for(number, 7, "news.example.org"),
        list_id="Harwick Digest <harwick-digest.news.example.org>",
        unsubscribe_url="https://news.example.org/unsubscribe/abc",
        date=datetime(2026, 3, 10, 7, 0, tzinfo=UTC),
    )


def test_several_messages_over_one_connection(server: Server, transport: SmtpTransport) -> None:
    for n in range(1, 6):
        transport.send(message(n))
    assert server.recorder.subjects() == [f"Harwick Digest no. {n}" for n in range(1, 6)]
    assert server.recorder.sessions == 1
    assert server.recorder.envelopes[0] == ("digest@news.example.org", ["ann@example.org"])
    received = server.recorder.messages[0]
    assert received["Message-ID"] == message_id_for(1, 7, "news.example.org")
    assert received["To"].addresses[0].addr_spec == "ann@example.org"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_reconnects_after_the_server_restarts(server: Server, transport: SmtpTransport) -> None:
    transport.send(message(1))
    server.stop()
    server.start()
    transport.send(message(2))
    assert server.recorder.subjects() == ["Harwick Digest no. 1", "Harwick Digest no. 2"]
    assert server.recorder.sessions == 2


def test_reconnects_after_the_server_closes_the_session(
    server: Server, transport: SmtpTransport
) -> None:
    transport.send(message(1))
    server.drop_sessions()
    transport.send(message(2))
    transport.send(message(3))
    assert server.recorder.subjects() == [f"Harwick Digest no. {n}" for n in (1, 2, 3)]
    assert server.recorder.sessions == 2


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("451 4.3.0 Mailbox temporarily unavailable", TemporaryError),
        ("450 4.2.1 Try again later", TemporaryError),
        ("550 5.1.1 No such user", PermanentError),
        ("553 5.1.3 Bad recipient address syntax", PermanentError),
    ],
)
def test_refused_recipient_then_the_next_message_goes_through(
    server: Server, transport: SmtpTransport, reply: str, error: type[Exception]
) -> None:
    server.recorder.replies["gone@example.org"] = [reply]
    transport.send(message(1))
    with pytest.raises(error) as info:
        transport.send(message(2, to="gone@example.org"))
    code, _, text = reply.partition(" ")
    assert code in str(info.value)
    assert text in str(info.value)
    assert "refused" in str(info.value)
    # Same transport, same connection, next recipient.
    transport.send(message(3, to="bob@example.org"))
    assert server.recorder.subjects() == ["Harwick Digest no. 1", "Harwick Digest no. 3"]
    assert server.recorder.envelopes[-1][1] == ["bob@example.org"]
    assert server.recorder.sessions == 1


def test_temporary_refusal_then_retry_to_the_same_recipient(
    server: Server, transport: SmtpTransport
) -> None:
    server.recorder.replies["ann@example.org"] = ["451 4.7.1 Greylisted, come back later"]
    with pytest.raises(TemporaryError, match="451"):
        transport.send(message(1))
    transport.send(message(1))
    assert server.recorder.subjects() == ["Harwick Digest no. 1"]


def test_a_late_answer_to_the_final_dot_is_awaited_not_sent_twice(server: Server) -> None:
    """Every command answers within `timeout`, but the server answers the message's final
    dot after it: the transport waits `data_timeout` for that answer, since giving up there
    would leave a copy that arrived counted as not sent."""
    server.recorder.late["ann@example.org"] = 0.8
    patient = SmtpTransport(server.url, timeout=0.3, data_timeout=5)
    patient.send(message(1))
    patient.send(message(2, to="bob@example.org"))  # the connection is still in step
    patient.close()
    assert server.recorder.subjects() == ["Harwick Digest no. 1", "Harwick Digest no. 2"]
    assert server.recorder.sessions == 1
    # Without the longer wait the copy is given up on after it arrived.
    hasty = SmtpTransport(server.url, timeout=0.3)
    with pytest.raises(TemporaryError):
        hasty.send(message(3))
    hasty.close()
    assert server.recorder.subjects()[-1] == "Harwick Digest no. 3"


def test_server_not_listening_is_temporary() -> None:
    port = free_port()
    t = SmtpTransport(f"smtp://127.0.0.1:{port}", timeout=2)
    with pytest.raises(TemporaryError) as info:
        t.send(message(1))
    assert f"127.0.0.1:{port}" in str(info.value)
    t.close()


def test_server_that_went_away_is_temporary(server: Server, transport: SmtpTransport) -> None:
    transport.send(message(1))
    server.stop()
    with pytest.raises(TemporaryError, match=re.escape(f"127.0.0.1:{server.port}")):
        transport.send(message(2))
    # Once the server is back the same transport delivers again.
    server.start()
    transport.send(message(3))
    assert server.recorder.subjects() == ["Harwick Digest no. 1", "Harwick Digest no. 3"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:25",
        "smtps+starttls://mail.example.org",
        "lmtp://mail.example.org",
        "mail.example.org:25",
        "",
        "smtp://",
        "smtp:///path",
        "smtp://mail.example.org:notaport",
        "smtp://mail.example.org:0",
    ],
)
def test_invalid_urls_are_rejected(url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        SmtpTransport(url)
    assert repr(url) in str(info.value)


def test_url_parts() -> None:
    t = SmtpTransport("smtp+starttls://us%40er:p%3Ass@mail.example.org")
    assert (t.scheme, t.host, t.port) == ("smtp+starttls", "mail.example.org", 587)
    assert (t.username, t.password) == ("us@er", "p:ss")
    assert SmtpTransport("smtps://mail.example.org").port == 465
    assert SmtpTransport("smtp://mail.example.org").port == 25
    assert SmtpTransport("smtp://mail.example.org:2525").port == 2525


def test_transport_from_url(tmp_path: Path) -> None:
    assert isinstance(transport_from_url("smtp://mail.example.org", tmp_path), SmtpTransport)
    assert isinstance(transport_from_url(None, tmp_path), OutboxTransport)
    assert isinstance(transport_from_url("", tmp_path), OutboxTransport)


def test_starttls_against_a_server_without_it(server: Server) -> None:
    t = SmtpTransport(f"smtp+starttls://127.0.0.1:{server.port}", timeout=5)
    with pytest.raises(TemporaryError) as info:
        t.send(message(1))
    text = str(info.value)
    assert "STARTTLS" in text
    assert "not supported" in text
    assert f"127.0.0.1:{server.port}" in text
    assert server.recorder.messages == []
    t.close()


def test_failed_starttls_does_not_leak_the_socket(server: Server) -> None:
    t = SmtpTransport(f"smtp+starttls://127.0.0.1:{server.port}", timeout=5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(2):
            with pytest.raises(TemporaryError):
                t.send(message(1))
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_refused_login_is_permanent(server: Server) -> None:
    def refuse(*args: Any) -> AuthResult:
        return AuthResult(success=False, handled=False)

    server.stop()
    server.start(auth_require_tls=False, authenticator=refuse)
    t = SmtpTransport(f"smtp://digest:wrong@127.0.0.1:{server.port}", timeout=5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(PermanentError, match=r"SMTP login to 127\.0\.0\.1 refused: 535"):
            t.send(message(1))
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert server.recorder.messages == []


def test_close_is_idempotent_and_reopens(server: Server, transport: SmtpTransport) -> None:
    transport.send(message(1))
    transport.close()
    transport.close()
    transport.send(message(2))
    assert server.recorder.sessions == 2
    assert len(server.recorder.messages) == 2


def test_outbox_writes_one_file_per_message(tmp_path: Path) -> None:
    outbox = tmp_path / "new" / "outbox"  # created on first use
    t = OutboxTransport(outbox)
    first, second = message(1), message(2)
    t.send(first)
    t.send(second)
    t.send(first)  # a retried send replaces the file of the same Message-ID
    t.close()
    names = sorted(p.name for p in outbox.iterdir())
    assert names == ["digest.e1.s7_news.example.org.eml", "digest.e2.s7_news.example.org.eml"]
    raw = (outbox / names[0]).read_bytes()
    assert raw == first.as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Message-ID"] == first["Message-ID"]
    assert parsed["Subject"] == "Harwick Digest no. 1"
    assert parsed["To"].addresses[0].addr_spec == "ann@example.org"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert not list(outbox.glob("*.tmp"))


def test_outbox_file_name_is_safe(tmp_path: Path) -> None:
    msg = message(1)
    msg.replace_header("Message-ID", "<../../etc/passwd@evil/x>")
    OutboxTransport(tmp_path / "outbox").send(msg)
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [".._.._etc_passwd_evil_x.eml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outbox"]


def test_outbox_under_a_regular_file_is_temporary(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    t = OutboxTransport(blocker / "outbox")
    with pytest.raises(TemporaryError) as info:
        t.send(message(1))
    assert "outbox" in str(info.value)
    assert "digest.e1.s7_news.example.org.eml" in str(info.value)


def test_outbox_that_is_a_file_is_temporary(tmp_path: Path) -> None:
    target = tmp_path / "outbox"
    target.write_text("x")
    with pytest.raises(TemporaryError):
        OutboxTransport(target).send(message(1))
    assert target.read_text() == "x"
