"""Golden cases: one folder per case under tests/golden/, from feed files to the email sent.

Each folder holds its input (feed files and/or article pages, and case.toml with the
settings and the subscriber) and the expected digest.html, digest.txt and message.eml.
The test serves the folder on loopback, gathers it into a fresh database, sends for real at
the case's `now` into an outbox folder and compares what was written with the expected
files. UPDATE_GOLDEN=1 rewrites the expected files after an intended change; review the
diff like any other change to what subscribers see. See tests/golden/README.md.
"""

from __future__ import annotations

import email
import html
import os
import re
import socket
import tomllib
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from digest import pipeline
from digest.config import Settings
from digest.mail import transport_from_url
from digest.runtime.samples import serve_samples
from digest.services.sources import add_source
from digest.services.subscribers import add_subscriber
from digest.store import db, schema
from digest.store.models import Article

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "case.toml").is_file())

# The fixture server's address varies with its port. It is replaced by a name of the same
# length, so lines in message.eml (quoted-printable wraps at 76) stay exactly as sent.
SERVER_HOST = "127.0.0.1"
SERVER_STANDIN = "http://fixture.example"  # as long as http://127.0.0.1:NNNNN
# The Date header is the wall clock at delivery, not the case's `now`.
DATE_STANDIN = "Date: (wall clock at delivery)"
BOUNDARY_STANDIN = "==boundary=="

DEFAULT_SETTINGS: dict[str, Any] = {
    "list_name": "Golden",
    "base_url": "https://news.example.org",
    "from": "Golden <digest@news.example.org>",
    "secret_key": "golden",
    # Articles are first seen at the wall clock, whatever the case's `now`: take them all.
    "first_digest_days": 100_000,
}


def test_there_are_cases() -> None:
    assert len(CASES) >= 8, CASES


def five_digit_port() -> int:
    """A free port whose URL is as long as SERVER_STANDIN (ephemeral ports almost always are)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind((SERVER_HOST, 0))
            port = s.getsockname()[1]
        if port >= 10_000:
            return port
    raise RuntimeError("no free five-digit port")


def case_settings(case: dict[str, Any], database_url: str, outbox: Path) -> Settings:
    values = {**DEFAULT_SETTINGS, **case.get("settings", {})}
    sender = values.pop("from")
    return Settings(
        _env_file=None,  # type: ignore[call-arg]  # pydantic-settings' own argument
        database_url=database_url,
        templates_dir=ROOT / "templates",
        outbox_dir=outbox,
        smtp_url=None,
        DIGEST_FROM=sender,
        **values,
    )


def part_text(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return part.get_content()  # type: ignore[no-any-return]  # get_content gives Any


def decoded(text: str, base: str) -> str:
    """A decoded part with the server's address replaced and the wire's CRLF as newlines."""
    return text.replace("\r\n", "\n").replace(base, SERVER_STANDIN)


def normalized_message(raw: bytes, base: str) -> str:
    """The message as written, with only what varies between runs replaced."""
    # Headers are 7-bit (encoded words); the parts are 8bit UTF-8, no line over 998 octets.
    head, _, _ = raw.partition(b"\r\n\r\n")
    assert head.isascii(), head
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    text = raw.decode("utf-8")
    # The base URL, also when a quoted-printable soft line break ("=\r\n") falls inside it.
    pattern = "(?:=\r\n)?".join(re.escape(c) for c in base)

    def swap(match: re.Match[str]) -> str:
        chars = iter(SERVER_STANDIN)
        return "".join(c if c in "=\r\n" else next(chars) for c in match.group())

    text = re.sub(pattern, swap, text)
    text = re.sub(r"^Date: [^\r\n]*", DATE_STANDIN, text, count=1, flags=re.MULTILINE)
    boundary = re.search(r'boundary="([^"]+)"', text)
    assert boundary is not None, "not a multipart message"
    return text.replace(boundary.group(1), BOUNDARY_STANDIN)


def stored_html(database_url: str, base: str) -> str:
    """Each article's HTML as stored after sanitizing, for cases that want to show it."""
    with db.session_scope(database_url) as session:
        articles = session.scalars(select(Article).order_by(Article.id))
        text = "".join(f"<!-- {html.escape(a.title)} -->\n{a.content_html}\n\n" for a in articles)
    return text.replace(base, SERVER_STANDIN)


def run_case(
    folder: Path, case: dict[str, Any], database_url: str, outbox: Path
) -> tuple[EmailMessage, bytes, str]:
    now = case["now"]
    settings = case_settings(case, database_url, outbox)
    schema.upgrade(database_url)
    with serve_samples(folder, port=five_digit_port()) as base:
        assert len(base) == len(SERVER_STANDIN), base
        with db.session_scope(database_url) as session:
            for source in case["sources"]:
                add_source(
                    session,
                    f"{base}/{source['path']}",
                    name=source.get("name"),
                    topics=source.get("topics"),
                )
            sub = case["subscriber"]
            add_subscriber(
                session,
                sub["email"],
                name=sub.get("name"),
                confirmed=True,
                timezone=sub.get("timezone", "UTC"),
                hour=sub.get("hour", 7),
                topics=sub.get("topics"),
                now=now,
            )
        results = pipeline.gather_all(settings)
        assert [r.error for r in results] == [None] * len(case["sources"])
    plan = pipeline.plan_send(settings, kind="now", now=now)
    assert len(plan.delivery_ids) == 1, plan
    transport = transport_from_url(None, outbox)
    report = pipeline.deliver_in_process(settings, plan.delivery_ids, transport)
    assert report.sent == 1, report
    (path,) = outbox.glob("*.eml")
    raw = path.read_bytes()
    return email.message_from_bytes(raw, policy=default), raw, base  # type: ignore[return-value]  # the default policy makes an EmailMessage


@pytest.mark.parametrize("name", CASES)
def test_golden_case(name: str, database_url: str, tmp_path: Path) -> None:
    folder = GOLDEN / name
    case = tomllib.loads((folder / "case.toml").read_text(encoding="utf-8"))
    msg, raw, base = run_case(folder, case, database_url, tmp_path / "outbox")
    actual = {
        "digest.html": decoded(part_text(msg, "html"), base),
        "digest.txt": decoded(part_text(msg, "plain"), base),
        "message.eml": normalized_message(raw, base),
    }
    if case.get("stored_html"):
        actual["stored.html"] = stored_html(database_url, base)
    if os.environ.get("UPDATE_GOLDEN"):
        for file, content in actual.items():
            (folder / file).write_bytes(content.encode("utf-8"))
    for file in actual:
        expected = (folder / file).read_bytes().decode("utf-8")
        assert actual[file] == expected, f"{name}/{file} differs (UPDATE_GOLDEN=1 rewrites it)"
