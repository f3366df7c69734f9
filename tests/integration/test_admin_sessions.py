"""Admin console sessions end when what made them changes, on SQLite and PostgreSQL: a
cookie saved before signing out, before a password change, before its API token was
revoked or DIGEST_ADMIN_TOKEN changed, or left idle, opens nothing."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from digest.config import Settings
from digest.core.vocabulary import utcnow
from digest.services.admins import add_admin, create_token, set_password
from digest.store import db
from digest.store.models import AdminSession

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "admin-token-for-session-tests"
PASSWORD = "correct horse battery"
COOKIE = "digest_admin"


def settings_for(url: str, tmp_path: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "admin_token": TOKEN,
        "secret_key": "session-tests",
        "templates_dir": ROOT / "templates",
        "outbox_dir": tmp_path / "outbox",
        "base_url": "https://news.example.org",
        **extra,
    }
    return Settings(**values)


@pytest.fixture
def settings(migrated_database_url: str, tmp_path: Path) -> Settings:
    s = settings_for(migrated_database_url, tmp_path)
    with db.session_scope(s.database_url) as session:
        add_admin(session, "ops@example.org", PASSWORD)
    return s


def client_for(settings: Settings) -> TestClient:
    from digest.web import create_app

    return TestClient(create_app(settings), base_url="https://testserver")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with client_for(settings) as c:
        yield c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(client: TestClient, **fields: str) -> str:
    """Sign in; the session cookie's value."""
    page = client.get("/admin/login")
    answer = client.post(
        "/admin/login",
        data={"csrf": csrf_of(page.text), "next": "/admin", **fields},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return client.cookies[COOKIE]


def opens(settings: Settings, cookie: str) -> bool:
    """Whether this saved cookie, in a browser of its own, opens the admin."""
    with client_for(settings) as other:
        other.cookies.set(COOKIE, cookie)
        return other.get("/admin", follow_redirects=False).status_code == 200


def test_a_cookie_saved_before_signing_out_opens_nothing(
    client: TestClient, settings: Settings
) -> None:
    saved = sign_in(client, email="ops@example.org", password=PASSWORD)
    assert opens(settings, saved)
    page = client.get("/admin")
    client.post("/admin/logout", data={"csrf": csrf_of(page.text)})
    assert not opens(settings, saved)


def test_a_password_change_ends_every_session_of_that_admin(
    client: TestClient, settings: Settings
) -> None:
    saved = sign_in(client, email="ops@example.org", password=PASSWORD)
    with db.session_scope(settings.database_url) as session:
        add_admin(session, "eva@example.org", PASSWORD)
    with client_for(settings) as eva:
        other = sign_in(eva, email="eva@example.org", password=PASSWORD)
    with db.session_scope(settings.database_url) as session:
        set_password(session, "ops@example.org", "a new long password")
    assert not opens(settings, saved)
    assert opens(settings, other)  # another admin's session goes on


def test_revoking_the_api_token_a_console_signed_in_with_ends_it(
    client: TestClient, settings: Settings
) -> None:
    with db.session_scope(settings.database_url) as session:
        token = create_token(session, "ops@example.org", "console")
    saved = sign_in(client, token=token)
    assert opens(settings, saved)
    with client_for(settings) as admin:
        sign_in(admin, email="ops@example.org", password=PASSWORD)
        page = admin.get("/admin/tokens")
        assert "console" in page.text
        admin.post("/admin/tokens/1/revoke", data={"csrf": csrf_of(page.text)})
    assert not opens(settings, saved)


def test_changing_the_admin_token_ends_its_sessions(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    saved = sign_in(client, token=TOKEN)
    assert opens(settings, saved)
    changed = settings_for(settings.database_url, tmp_path, admin_token="a-new-admin-token")
    assert not opens(changed, saved)
    unset = settings_for(settings.database_url, tmp_path, admin_token=None)
    assert not opens(unset, saved)


def test_an_idle_session_ends(client: TestClient, settings: Settings) -> None:
    saved = sign_in(client, email="ops@example.org", password=PASSWORD)
    with db.session_scope(settings.database_url) as session:
        row = session.query(AdminSession).one()
        row.last_seen_at = utcnow() - timedelta(seconds=settings.admin_idle_timeout + 5)
    assert not opens(settings, saved)
    with db.session_scope(settings.database_url) as session:
        assert session.query(AdminSession).count() == 0  # ended for good


def test_a_session_in_use_stays_and_ends_after_twelve_hours(
    client: TestClient, settings: Settings
) -> None:
    saved = sign_in(client, email="ops@example.org", password=PASSWORD)
    with db.session_scope(settings.database_url) as session:
        row = session.query(AdminSession).one()
        row.created_at = utcnow() - timedelta(hours=11)
    assert opens(settings, saved)
    with db.session_scope(settings.database_url) as session:
        session.query(AdminSession).one().created_at = utcnow() - timedelta(hours=12, minutes=1)
    assert not opens(settings, saved)


def test_the_cookie_carries_random_ids_only(client: TestClient, settings: Settings) -> None:
    cookie = sign_in(client, token=TOKEN)
    payload = cookie.split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert set(data) == {"s", "n"}  # a session id and the CSRF nonce
    assert TOKEN not in cookie
    with db.session_scope(settings.database_url) as session:
        row = session.query(AdminSession).one()
        # The database keeps a hash of the id, and a keyed hash of the admin token.
        assert data["s"] not in (row.session_hash, row.admin_token_hash)
        assert row.admin_token_hash and TOKEN not in row.admin_token_hash
