"""Transports: where finished messages go. SMTP (one reused connection) or an outbox folder.

Both raise TemporaryError for failures worth retrying later (4xx, lost connections) and
PermanentError for ones that will not get better (5xx, a refused recipient).
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlsplit

from digest.core.smtp_urls import smtp_url_problem
from digest.errors import (
    Bounced,
    InvalidInput,
    MailError,
    PermanentError,
    SoftBounce,
    TemporaryError,
    TransportDown,
)

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

    from digest.mail.template import OutgoingCopy


class Transport(Protocol):
    def send(self, msg: EmailMessage) -> None: ...

    def send_copy(self, copy: OutgoingCopy) -> None:
        """One copy made from an edition's template (see digest.mail.template)."""
        ...

    def close(self) -> None: ...


class OutboxTransport:
    """Writes each message as an .eml file named after its Message-ID."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def send(self, msg: EmailMessage) -> None:
        self._write(str(msg["Message-ID"]), msg.as_bytes())

    def send_copy(self, copy: OutgoingCopy) -> None:
        self._write(copy.message_id, copy.plain())

    def _write(self, message_id: str, data: bytes) -> None:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", message_id.strip("<>")) + ".eml"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Write then rename, so a reader never sees half a message.
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        except OSError as exc:
            raise TemporaryError(f"cannot write {name} to {self.directory}: {exc}") from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, self.directory / name)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise TemporaryError(f"cannot write {name} to {self.directory}: {exc}") from exc

    def close(self) -> None:
        pass


def _patient_data(self: smtplib.SMTP, msg: ReadableBuffer | str) -> tuple[int, bytes]:
    """smtplib's DATA, waiting `data_timeout` for the answer to the message's final dot."""
    with _patience(self, getattr(self, "data_timeout", None)):
        return smtplib.SMTP.data(self, msg)


class _SMTP(smtplib.SMTP):
    data_timeout: float | None = None
    data = _patient_data


class _SMTP_SSL(smtplib.SMTP_SSL):
    data_timeout: float | None = None
    data = _patient_data


@contextlib.contextmanager
def _patience(conn: smtplib.SMTP, seconds: float | None) -> Iterator[None]:
    """Read the server's answers with this timeout (socket timeouts apply per read)."""
    sock = conn.sock
    if sock is None or seconds is None:
        yield
        return
    before = sock.gettimeout()
    sock.settimeout(seconds)
    try:
        yield
    finally:
        if conn.sock is sock:
            with contextlib.suppress(OSError):
                sock.settimeout(before)


class SmtpTransport:
    """SMTP with one connection reused across messages, reopened when the server drops it.

    Every command's answer is awaited `timeout` seconds, except the answer to the
    message's final dot, awaited `data_timeout` (at least `timeout`): a server may take
    the message and answer late (RFC 5321 4.5.3.2.6 allows it ten minutes), and a copy
    given up at that point has been delivered, so sending it again would send it twice
    (RFC 5321 6.1)."""

    def __init__(self, url: str, *, timeout: float = 30.0, data_timeout: float = 0.0) -> None:
        problem = smtp_url_problem(url)
        if problem:
            raise InvalidInput(f"SMTP URL {problem}")
        parts = urlsplit(url)
        assert parts.hostname is not None
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (
            465 if parts.scheme == "smtps" else 587 if "tls" in parts.scheme else 25
        )
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self.data_timeout = max(timeout, data_timeout)
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        conn: _SMTP | _SMTP_SSL | None = None
        try:
            if self.scheme == "smtps":
                conn = _SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                conn = _SMTP(self.host, self.port, timeout=self.timeout)
                if self.scheme == "smtp+starttls":
                    conn.starttls(context=ssl.create_default_context())
            if self.username:
                conn.login(self.username, self.password or "")
        except (OSError, smtplib.SMTPException) as exc:
            # Do not leak the socket when STARTTLS or login fails after connecting.
            if conn is not None:
                conn.close()
            if isinstance(exc, smtplib.SMTPAuthenticationError):
                raise PermanentError(f"SMTP login to {self.host} refused: {_reply(exc)}") from exc
            raise TransportDown(f"cannot connect to SMTP {self.host}:{self.port}: {exc}") from exc
        conn.data_timeout = self.data_timeout
        return conn

    def send(self, msg: EmailMessage) -> None:
        self._attempt(lambda conn: conn.send_message(msg))

    def probe(self) -> dict[str, str]:
        """Connect, STARTTLS and log in as a send would, and send nothing: the extensions
        the server announces (lower-case names, as smtplib keeps them)."""
        conn = self._connect()
        try:
            conn.ehlo_or_helo_if_needed()
            return dict(conn.esmtp_features)
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryError(f"SMTP {self.host}:{self.port} stopped answering: {exc}") from exc
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                conn.quit()
            conn.close()

    def send_copy(self, copy: OutgoingCopy) -> None:
        """Send a copy's bytes as they are: 8bit and already dot-stuffed, when the server
        announced 8BITMIME; else the copy encoded on its own (quoted-printable)."""
        self._attempt(lambda conn: _transact(conn, copy, self.data_timeout))

    def _attempt(self, send: Callable[[smtplib.SMTP], dict[str, tuple[int, bytes]]]) -> None:
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = self._connect()
            try:
                refused = send(self._conn)
            except smtplib.SMTPServerDisconnected as exc:
                # A reused connection may have been closed by the server while idle.
                self._conn = None
                if attempt == 2:
                    raise TemporaryError(f"SMTP server disconnected: {exc}") from exc
                continue
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = next(iter(exc.recipients.values()))
                raise _bounce_for(code, f"recipient refused: {code} {_text(reply)}") from exc
            except smtplib.SMTPDataError as exc:
                self._reset()
                raise _bounce_for(
                    exc.smtp_code, f"message refused: {exc.smtp_code} {_text(exc.smtp_error)}"
                ) from exc
            except smtplib.SMTPResponseException as exc:
                self._reset()
                raise _error_for(
                    exc.smtp_code, f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}"
                ) from exc
            except (OSError, smtplib.SMTPException) as exc:
                self.close()
                raise TemporaryError(f"SMTP error: {exc}") from exc
            if refused:
                code, reply = next(iter(refused.values()))
                raise _bounce_for(code, f"recipient refused: {code} {_text(reply)}")
            return

    def _reset(self) -> None:
        if self._conn is not None:
            try:
                self._conn.rset()
            except (OSError, smtplib.SMTPException):
                self.close()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._conn.quit()
            self._conn = None


def _transact(
    conn: smtplib.SMTP, copy: OutgoingCopy, data_timeout: float | None = None
) -> dict[str, tuple[int, bytes]]:
    """MAIL, RCPT and DATA with the copy's pre-stuffed bytes.

    `smtplib.sendmail` would dot-stuff and fix line ends of every copy again (a regex over
    the whole message) and parse both addresses again; the template did the first once per
    edition and the addresses were checked when the copy was made, so the commands are
    written here. With PIPELINING (RFC 2920), MAIL, RCPT and DATA go in one write.
    """
    conn.ehlo_or_helo_if_needed()
    if copy.stuffed is None or not conn.has_extn("8bitmime"):
        return conn.sendmail(copy.mail_from, [copy.rcpt], copy.fallback().as_bytes())
    if any(c in copy.mail_from + copy.rcpt for c in "\r\n<>"):
        raise PermanentError(f"cannot send from {copy.mail_from!r} to {copy.rcpt!r}")
    mail = f"MAIL FROM:<{copy.mail_from}> BODY=8BITMIME\r\n".encode()
    rcpt = f"RCPT TO:<{copy.rcpt}>\r\n".encode()
    if conn.has_extn("pipelining"):
        conn.send(mail + rcpt + b"DATA\r\n")
        replies = [conn.getreply(), conn.getreply(), conn.getreply()]
    else:
        replies = []
        for command in (mail, rcpt, b"DATA\r\n"):
            conn.send(command)
            replies.append(conn.getreply())
            if replies[-1][0] >= 400:
                break
    (mail_code, mail_reply), *rest = replies
    rcpt_code, rcpt_reply = rest[0] if rest else (0, b"")
    data_code, data_reply = rest[1] if len(rest) > 1 else (0, b"")
    if data_code == 354 and (mail_code != 250 or rcpt_code not in (250, 251)):
        conn.send(b".\r\n")  # a server that took DATA with no recipient: end it empty
        conn.getreply()
    if mail_code != 250:
        _rset_or_close(conn, mail_code)
        raise smtplib.SMTPSenderRefused(mail_code, mail_reply, copy.mail_from)
    if rcpt_code not in (250, 251):
        _rset_or_close(conn, rcpt_code)
        raise smtplib.SMTPRecipientsRefused({copy.rcpt: (rcpt_code, rcpt_reply)})
    if data_code != 354:
        _rset_or_close(conn, data_code)
        raise smtplib.SMTPDataError(data_code, data_reply)
    conn.send(copy.stuffed + b".\r\n")
    with _patience(conn, data_timeout):
        code, reply = conn.getreply()
    if code != 250:
        _rset_or_close(conn, code)
        raise smtplib.SMTPDataError(code, reply)
    return {}


def _rset_or_close(conn: smtplib.SMTP, code: int) -> None:
    if code == 421:  # the server is closing the session
        conn.close()
        return
    with contextlib.suppress(OSError, smtplib.SMTPException):
        conn.rset()


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


def _error_for(code: int, message: str) -> MailError:
    return PermanentError(message) if 500 <= code < 600 else TemporaryError(message)


def _bounce_for(code: int, message: str) -> MailError:
    """A refusal of this recipient or this message, not of the server or of us."""
    if code == 421:  # the server is closing the session: nothing to do with the recipient
        return TemporaryError(message)
    return Bounced(message) if 500 <= code < 600 else SoftBounce(message)
