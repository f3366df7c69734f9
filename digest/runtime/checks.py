"""`digest check`: the configuration tried against what it names, before a send finds out.

Each check connects to the real thing (the database, the broker, every SMTP server, the
outbox folder, the DKIM key and its DNS record) and reports ok, a warning or an error
with what to do.
Nothing is changed and no mail is sent: an SMTP server is greeted, asked for its
extensions, and left with QUIT after STARTTLS and the login the URL asks for.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from digest import wiring
from digest.config import Settings
from digest.core.redact import mask_url
from digest.errors import DigestError
from digest.store import schema

Status = Literal["ok", "warning", "error"]
# What a server's EHLO answer says that matters to a send, in the order shown.
EXTENSIONS = ("8bitmime", "pipelining", "smtputf8", "starttls", "size")


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_checks(
    settings: Settings, resolver: Any = None, *, production: bool = False
) -> list[Check]:
    """Every check for these settings, in the order a send meets them; `resolver` (a
    dnspython Resolver) looks up the DKIM record, the system's when None. `production`:
    what is fine on a laptop alone (the default key, a local DIGEST_BASE_URL) is an error."""
    https = settings.https_warning()  # the key has a check of its own, below
    found = [Check("settings", "warning", https)] if https else []
    found += check_exposure(settings, production=production)
    found.append(_guarded("database", lambda: check_database(settings)))
    if settings.broker_url:
        found.append(_guarded("broker", lambda: check_broker(settings.broker_url or "")))
    if settings.smtp_url:
        found += check_smtp(settings)
    else:
        found.append(_guarded("outbox", lambda: check_outbox(settings)))
    if settings.dkim_key_file:
        found.append(_guarded("dkim", lambda: check_dkim(settings, resolver)))
    return found


def admins_exist(settings: Settings) -> bool:
    from digest.services.admins import any_admin

    try:
        return any_admin(settings)
    except Exception:  # no database, or not reachable, or an old schema: its check says so
        return False


def check_exposure(settings: Settings, *, production: bool = False) -> list[Check]:
    """The secret key and the public address: errors where others can reach what they
    protect (or `production` says they will), warnings on a machine used alone."""
    found = []
    alone: Status = "error" if production else "warning"
    refusal = settings.secret_key_refusal(admins_exist=admins_exist(settings))
    if refusal:
        found.append(Check("secret key", "error", refusal))
    elif settings.default_key:
        found.append(Check("secret key", alone, settings.default_key_problem()))
    if settings.base_url_is_local:
        found.append(Check("base url", alone, settings.local_base_url_problem()))
    return found


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except DigestError as exc:
        return Check(name, "error", str(exc))


def check_database(settings: Settings) -> Check:
    url = mask_url(settings.database_url)
    try:
        state = schema.schema_state(settings.database_url)
    except Exception as exc:  # every driver has its own errors; the message is what counts
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Check("database", "error", f"cannot reach {url}: {reason}")
    if not state.is_current:
        try:
            schema.require_current_schema(settings.database_url)
        except DigestError as exc:
            return Check("database", "error", f"{url}: {exc}")
    return Check("database", "ok", f"{url}, schema at {state.head}")


def broker_problem(url: str) -> str | None:
    """Why the Redis broker does not answer, or None when it answers PING."""
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
    except (redis.RedisError, OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__
    return None


def check_broker(url: str) -> Check:
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return Check("broker", "warning", f"{mask_url(url)}: only Redis brokers are checked")
    problem = broker_problem(url)
    if problem:
        return Check("broker", "error", f"cannot reach {mask_url(url)}: {problem}")
    return Check("broker", "ok", f"{mask_url(url)} answers")


def check_smtp(settings: Settings) -> list[Check]:
    """One check per server of DIGEST_SMTP_URL: connect, STARTTLS and log in as a send
    would, then read the extensions it announces."""
    from digest.core.smtp_urls import parse_servers
    from digest.mail.transports import SmtpTransport

    try:
        specs = parse_servers(settings.smtp_url or "")
    except ValueError as exc:
        return [Check("smtp", "error", f"DIGEST_SMTP_URL: {exc}")]
    found = []
    for spec in specs:
        name = f"smtp {spec.shown}"
        transport = SmtpTransport(spec.url.split("?", 1)[0], timeout=settings.smtp_timeout)
        try:
            extensions = transport.probe()
        except DigestError as exc:
            found.append(Check(name, "error", str(exc)))
            continue
        found.append(_smtp_answer(name, extensions, login=bool(transport.username)))
    return found


def _smtp_answer(name: str, extensions: dict[str, str], *, login: bool) -> Check:
    features = [e for e in EXTENSIONS if e in extensions]
    size = extensions.get("size", "").strip()
    shown = ", ".join(
        f"SIZE {int(size) / 1_000_000:g} MB" if e == "size" and size.isdigit() else e.upper()
        for e in features
    )
    said = [f"answers ({shown or 'no extensions'})"]
    if login:
        said.append("login accepted")
    if "8bitmime" not in features:
        said.append("no 8BITMIME: each copy is encoded on its own, which sends more slowly")
        return Check(name, "warning", "; ".join(said))
    return Check(name, "ok", "; ".join(said))


def check_outbox(settings: Settings) -> Check:
    """The outbox folder can be written (a missing one: its parent lets it be made)."""
    folder = settings.outbox_dir
    if not folder.exists():
        parent = next((p for p in folder.absolute().parents if p.exists()), None)
        if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            return Check("outbox", "error", f"cannot make {folder}: {parent} is not writable")
        return Check("outbox", "ok", f"no DIGEST_SMTP_URL: messages go to {folder} (made at once)")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".check-"):
            pass
    except OSError as exc:
        return Check("outbox", "error", f"cannot write to {folder}: {exc.strerror or exc}")
    return Check("outbox", "ok", f"no DIGEST_SMTP_URL: messages are written to {folder}")


def check_dkim(settings: Settings, resolver: Any = None) -> Check:
    """The key loads and the selector is set; the TXT record to publish for it, and
    whether the DNS already holds it."""
    from cryptography.hazmat.primitives import serialization

    from digest.mail.dkim import dns_record

    signer = wiring.signer(settings)
    assert signer is not None
    public = signer.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    where = f"{signer.selector.decode()}._domainkey.{signer.domain.decode()}"
    record = dns_record(public).decode()
    published, problem = _published_key(where, resolver)
    ours = _tags(record)["p"]
    if published == ours:
        return Check("dkim", "ok", f"{signer.algorithm.decode()}; {where} publishes this key")
    publish = f"publish TXT at {where}: {record}"
    if published == "":
        return Check("dkim", "error", f"{where} publishes a revoked key (empty p=); {publish}")
    if published is not None:
        return Check(
            "dkim", "error", f"{where} publishes another key: receivers will fail DKIM; {publish}"
        )
    return Check("dkim", "warning", f"{problem}; {publish}")


def _tags(record: str) -> dict[str, str]:
    """A DKIM key record's tags (RFC 6376 3.6.1), white space removed from the values."""
    tags = {}
    for part in record.split(";"):
        name, _, value = part.partition("=")
        if name.strip():
            tags[name.strip()] = "".join(value.split())
    return tags


def _published_key(name: str, resolver: Any) -> tuple[str | None, str]:
    """The p= of the DKIM record at `name`, or None and why there is none."""
    import dns.exception
    import dns.resolver

    if resolver is None:
        resolver = dns.resolver.Resolver()
        resolver.lifetime = 5.0
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None, f"no TXT record at {name} yet"
    except dns.exception.DNSException as exc:
        return None, f"could not look up {name} ({exc or type(exc).__name__})"
    for rdata in answer:
        text = b"".join(rdata.strings).decode(errors="replace")
        tags = _tags(text)
        if "p" in tags:
            return tags["p"], ""
    return None, f"the TXT record at {name} is not a DKIM key"
