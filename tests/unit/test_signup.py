"""Sign-up, confirmation and preferences through the web app (in this process, mail to an
outbox folder), on SQLite and PostgreSQL: same answer for every address, honeypot, rate
limit, tampered and expired links, resubscribing, suppression, the mailto: unsubscribe."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from digest.config import Settings
from digest.core.links import PREFERENCES, link_path, make_confirm_token, make_token
from digest.core.vocabulary import MailKind, MailStatus, SubscriberStatus
from digest.errors import AlreadyExists
from digest.mail.template import build_template
from digest.pipeline.deliver import compose
from digest.services.bounces import Bounce, count_bounces
from digest.services.sources import add_source
from digest.services.subscribers import add_subscriber, unsubscribe
from digest.store import db, schema
from digest.store.models import Subscriber, TransactionalMail

ROOT = Path(__file__).resolve().parents[2]
SECRET = "signup-test-secret"
FORM = {
    "email": "Marta.Quill@Example.org",
    "name": "Marta Quill",
    "frequency": "weekly",
    "weekday": "thursday",
    "day_of_month": "1",
    "hour": "8",
    "timezone": "Europe/Berlin",
    "topics": ["harbour"],
}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    s = Settings(
        database_url=database_url,
        secret_key=SECRET,
        templates_dir=ROOT / "templates",
        list_name="Harwick Digest",
        base_url="https://news.example.org",
        outbox_dir=tmp_path / "outbox",
        signup_rate="100/minute",
    )
    schema.upgrade(s.database_url)
    with db.session_scope(s.database_url) as session:
        add_source(session, "https://harwick.example/feed.xml", topics=["harbour", "culture"])
    return s


def client_for(settings: Settings) -> TestClient:
    from digest.web import create_app

    return TestClient(create_app(settings))


@pytest.fixture
def client(settings: Settings) -> TestClient:
    return client_for(settings)


def outbox(settings: Settings) -> list[EmailMessage]:
    files = sorted(settings.outbox_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]  # the default policy makes an EmailMessage
        for p in files
    ]


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def confirm_link(msg: EmailMessage) -> str:
    found = re.search(r"https://news\.example\.org(/confirm/\S+)", text_of(msg))
    assert found, text_of(msg)
    return found.group(1)


def rows(settings: Settings) -> list[Subscriber]:
    with db.session_scope(settings.database_url) as session:
        subs = list(session.scalars(select(Subscriber).order_by(Subscriber.id)))
        for s in subs:
            _ = s.topic_names
        session.expunge_all()
        return subs


def mails(settings: Settings) -> list[tuple[MailKind, MailStatus, str]]:
    with db.session_scope(settings.database_url) as session:
        found = session.scalars(select(TransactionalMail).order_by(TransactionalMail.id))
        return [(m.kind, m.status, m.to_address) for m in found]


def test_sign_up_confirm_and_welcome(client, settings) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    page = client.get("/subscribe")
    assert page.status_code == 200
    assert 'name="website"' in page.text  # the honeypot
    assert "harbour" in page.text and "culture" in page.text  # the sources' topics
    answer = client.post("/subscribe", data=FORM)
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    [sub] = rows(settings)
    assert (sub.email, sub.status, sub.frequency, sub.weekday, sub.hour) == (
        "marta.quill@example.org",
        SubscriberStatus.PENDING,
        "weekly",
        3,
        8,
    )
    assert sub.topic_names == ["harbour"]
    [sent] = outbox(settings)
    assert sent["To"].addresses[0].addr_spec == "marta.quill@example.org"
    assert "List-Unsubscribe" not in sent  # not a list mail
    link = confirm_link(sent)
    # Opening the link shows one button and changes nothing: scanners open links too.
    shown = client.get(link)
    assert shown.status_code == 200 and shown.text.count("<button") == 1
    assert rows(settings)[0].status == SubscriberStatus.PENDING
    done = client.post(link)
    assert done.status_code == 200 and "Subscribed" in done.text
    assert rows(settings)[0].status == SubscriberStatus.CONFIRMED
    assert [(k, s) for k, s, _ in mails(settings)] == [
        (MailKind.CONFIRM, MailStatus.SENT),
        (MailKind.WELCOME, MailStatus.SENT),
    ]
    assert "confirmed" in text_of(outbox(settings)[1])
    # Pressing the button again is fine and sends no second welcome.
    assert client.post(link).status_code == 200
    assert len(mails(settings)) == 2


def test_the_answer_is_the_same_for_new_pending_and_confirmed(client, settings) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    new = client.post("/subscribe", data=FORM).text
    pending = client.post("/subscribe", data=FORM).text
    client.post(confirm_link(outbox(settings)[-1]))
    confirmed = client.post("/subscribe", data={**FORM, "frequency": "daily"}).text
    assert new == pending == confirmed
    [sub] = rows(settings)  # never a second row
    assert sub.status == SubscriberStatus.CONFIRMED and sub.frequency == "weekly"
    kinds = [k for k, _, _ in mails(settings)]
    assert kinds == [MailKind.CONFIRM, MailKind.CONFIRM, MailKind.WELCOME, MailKind.PREFERENCES]
    assert f"https://news.example.org{link_path(SECRET, PREFERENCES, sub.id)}" in text_of(
        outbox(settings)[-1]
    )


def test_honeypot_writes_and_sends_nothing(client, settings) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    answer = client.post("/subscribe", data={**FORM, "website": "http://spam.example"})
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert rows(settings) == [] and outbox(settings) == []


def test_rate_limit_per_address(settings) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    client = client_for(settings.model_copy(update={"signup_rate": "3/minute"}))
    codes = [
        client.post("/subscribe", data={**FORM, "email": f"p{i}@example.org"}).status_code
        for i in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    assert len(rows(settings)) == 3


def test_bad_sign_up_shows_each_message_at_its_field(client, settings) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    bad = {**FORM, "email": "not-an-address", "hour": "25", "timezone": "Mars/Olympus"}
    answer = client.post("/subscribe", data={**bad, "topics": ["harbour", "knitting"]})
    assert answer.status_code == 400
    for field in ("email", "hour", "timezone", "topics"):
        assert f'id="{field}-error"' in answer.text
    assert "no such topic: knitting" in answer.text
    assert 'value="Marta Quill"' in answer.text  # what was typed is kept
    assert rows(settings) == [] and outbox(settings) == []


def test_tampered_and_expired_links_change_nothing(client, settings) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    client.post("/subscribe", data=FORM)
    link = confirm_link(outbox(settings)[0])
    token = link.rsplit("/", 1)[1]
    # A changed character inside the signature (the last one may carry only padding bits).
    forged = token[:-5] + ("x" if token[-5] != "x" else "y") + token[-4:]
    sub_id = rows(settings)[0].id
    old = make_confirm_token(
        SECRET, sub_id, issued_at=datetime.now(UTC) - timedelta(days=7, minutes=1)
    )
    for bad, title in ((forged, "Invalid link"), (old, "Link expired")):
        for method in (client.get, client.post):
            answer = method(f"/confirm/{bad}")
            assert answer.status_code == 400 and title in answer.text
            assert 'action="/confirm"' in answer.text  # offers to send a new one
    assert rows(settings)[0].status == SubscriberStatus.PENDING
    assert len(mails(settings)) == 1
    # Asking for a new link mails one; the old-but-genuine one still works within its age.
    assert client.post("/confirm", data={"email": FORM["email"]}).status_code == 200
    assert [k for k, _, _ in mails(settings)] == [MailKind.CONFIRM, MailKind.CONFIRM]
    assert client.post(confirm_link(outbox(settings)[-1])).status_code == 200
    assert rows(settings)[0].status == SubscriberStatus.CONFIRMED


def test_preferences_form_saves_or_changes_nothing(client, settings) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    with db.session_scope(settings.database_url) as session:
        sub_id = add_subscriber(session, "olek@example.org", confirmed=True, name="Olek").id
    url = f"/preferences/{make_token(SECRET, PREFERENCES, sub_id)}"
    form = client.get(url)
    assert form.status_code == 200 and 'value="Olek"' in form.text
    assert '<option value="daily" selected>' in form.text
    bad = client.post(url, data={**FORM, "day_of_month": "31", "frequency": "monthly"})
    assert bad.status_code == 400 and 'id="day_of_month-error"' in bad.text
    assert "Nothing was changed" in bad.text
    [sub] = rows(settings)
    assert (sub.frequency, sub.name) == ("daily", "Olek")
    good = client.post(
        url, data={**FORM, "frequency": "monthly", "day_of_month": "last", "name": "Olek B."}
    )
    assert good.status_code == 200 and "Saved." in good.text
    [sub] = rows(settings)
    assert (sub.frequency, sub.day_of_month, sub.name, sub.timezone, sub.topic_names) == (
        "monthly",
        -1,
        "Olek B.",
        "Europe/Berlin",
        ["harbour"],
    )
    assert sub.status == SubscriberStatus.CONFIRMED and sub.email == "olek@example.org"


def test_coming_back_after_unsubscribing(client, settings) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    client.post("/subscribe", data=FORM)
    first_link = confirm_link(outbox(settings)[0])
    client.post(first_link)
    sub_id = rows(settings)[0].id
    with db.session_scope(settings.database_url) as session:
        unsubscribe(session, sub_id, now=datetime.now(UTC) + timedelta(seconds=2))
    # An admin cannot put a suppressed address back, and says why.
    with db.session_scope(settings.database_url) as session, pytest.raises(AlreadyExists) as exc:
        add_subscriber(session, FORM["email"], confirmed=True)
    assert "unsubscribed" in str(exc.value) and "signing up" in str(exc.value)
    # The old confirmation link, made before leaving, does not bring them back.
    assert client.post(first_link).status_code == 400
    assert rows(settings)[0].status == SubscriberStatus.UNSUBSCRIBED
    # Signing up again: still suppressed until they confirm, then back, same row.
    client.post("/subscribe", data={**FORM, "frequency": "daily"})
    assert rows(settings)[0].status == SubscriberStatus.UNSUBSCRIBED
    new_link = confirm_link(outbox(settings)[-1])
    assert new_link != first_link
    # The new link is stamped in whole seconds: let it be newer than the unsubscribe.
    with db.session_scope(settings.database_url) as session:
        sub = session.get_one(Subscriber, sub_id)
        sub.unsubscribed_at = datetime.now(UTC) - timedelta(seconds=5)
    assert client.post(new_link).status_code == 200
    [sub] = rows(settings)
    assert (sub.status, sub.frequency, sub.unsubscribed_at) == (
        SubscriberStatus.CONFIRMED,
        "daily",
        None,
    )


def test_a_link_from_before_a_hard_bounce_does_not_confirm_again(client, settings) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    client.post("/subscribe", data=FORM)
    first_link = confirm_link(outbox(settings)[0])
    client.post(first_link)
    sub_id = rows(settings)[0].id
    # The address bounces hard (later than the link was made), through the one bounce path.
    with db.session_scope(settings.database_url) as session:
        bounce = Bounce(sub_id, hard=True, reason="550 5.1.1 no such user")
        later = datetime.now(UTC) + timedelta(seconds=2)
        assert count_bounces(session, settings, [bounce], now=later) == {sub_id}
    # The old link, made before the bounce, is refused and changes nothing.
    answer = client.post(first_link)
    assert answer.status_code == 400 and "older than your bounce" in answer.text
    [sub] = rows(settings)
    assert (sub.status, sub.hard_bounces) == (SubscriberStatus.BOUNCED, 1)
    # Signing up again mails a new link; that one brings the address back, bounces cleared
    # (else its first soft bounce would suppress it again at once).
    client.post("/subscribe", data={**FORM, "frequency": "daily"})
    new_link = confirm_link(outbox(settings)[-1])
    assert new_link != first_link
    with db.session_scope(settings.database_url) as session:  # the link has whole seconds
        session.get_one(Subscriber, sub_id).bounced_at = datetime.now(UTC) - timedelta(seconds=5)
    assert client.post(new_link).status_code == 200
    [sub] = rows(settings)
    assert (sub.status, sub.frequency, sub.hard_bounces, sub.bounced_at) == (
        SubscriberStatus.CONFIRMED,
        "daily",
        0,
        None,
    )


def test_bounced_address_is_suppressed_for_admins(settings) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    with db.session_scope(settings.database_url) as session:
        sub = add_subscriber(session, "gone@example.org", confirmed=True)
        sub.status = SubscriberStatus.BOUNCED
    with db.session_scope(settings.database_url) as session, pytest.raises(AlreadyExists) as exc:
        add_subscriber(session, "gone@example.org")
    assert "bounced" in str(exc.value)
    with db.session_scope(settings.database_url) as session:
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 1


@pytest.mark.parametrize("mailto", [None, "leave@news.example.org"])
def test_list_unsubscribe_gets_a_mailto_entry_when_set(settings, mailto) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    s = settings.model_copy(update={"unsubscribe_mailto": mailto})
    with db.session_scope(s.database_url) as session:
        sub = add_subscriber(session, "ines@example.org", confirmed=True)
        template = build_template(
            sender=s.from_address,
            subject="News",
            html="<p>x</p>",
            text="x",
            list_id="News <news.example.org>",
            unsubscribe_mailto=s.unsubscribe_mailto,
        )
        copy = compose(s, template, sub, "<m@news.example.org>", datetime.now(UTC))
    assert copy.stuffed is not None
    sent = email.message_from_bytes(
        copy.stuffed.replace(b"\r\n..", b"\r\n."), policy=email.policy.default
    )
    # The same header whether the copy goes as 8bit bytes or is encoded on its own.
    for msg in (sent, copy.fallback()):
        entries = [e.strip() for e in str(msg["List-Unsubscribe"]).split(",")]
        assert entries[0].startswith("<https://news.example.org/unsubscribe/")
        expected = ["<mailto:leave@news.example.org?subject=unsubscribe>"] if mailto else []
        assert entries[1:] == expected
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_bad_mailto_setting_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not an email address"):
        Settings(unsubscribe_mailto="leave@x.org>\r\nBcc: all@example.org")
    with pytest.raises(ValidationError, match="not a rate"):
        Settings(signup_rate="lots")
