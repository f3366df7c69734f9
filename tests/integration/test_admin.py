"""The admin pages and the JSON API through the real app (FastAPI's TestClient), on SQLite
and PostgreSQL: who is let in, what every route answers, and what the buttons do."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from smtp_sink import Sink
from sqlalchemy import func, select

from digest.config import Settings
from digest.services.admins import add_admin, create_token
from digest.store import db
from digest.store.models import Delivery, Subscriber

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "admin-token-for-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
PASSWORD = "correct horse battery"


def make_settings(database_url: str, tmp_path: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "admin_token": TOKEN,
        "secret_key": "admin-tests",
        "templates_dir": ROOT / "templates",
        "outbox_dir": tmp_path / "outbox",
        "base_url": "https://news.example.org",
        "list_name": "Harwick Digest",
        **extra,
    }
    return Settings(**values)


@pytest.fixture
def settings(migrated_database_url: str, tmp_path: Path) -> Settings:
    return make_settings(migrated_database_url, tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    from digest.web import create_app

    with TestClient(create_app(settings), base_url="https://testserver") as c:
        yield c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(client: TestClient, **fields: str) -> Any:
    page = client.get("/admin/login")
    return client.post(
        "/admin/login",
        data={"csrf": csrf_of(page.text), "next": "/admin", **fields},
        follow_redirects=False,
    )


# --- who is let in --------------------------------------------------------------------------


def all_routes(routes: list[Any]) -> list[Any]:
    """The app's routes, with those of included routers (kept as routers by FastAPI)."""
    found = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        found += all_routes(inner.routes) if inner is not None else [route]
    return found


def admin_get_paths(client: TestClient) -> list[str]:
    paths = []
    for route in all_routes(client.app.routes):  # type: ignore[attr-defined]  # the app is typed as a plain ASGI app
        path = getattr(route, "path", "")
        if path.startswith("/admin") and path != "/admin/login" and "GET" in route.methods:
            paths.append(re.sub(r"\{[^}]+\}", "1", path))
    return paths


def admin_post_paths(client: TestClient) -> list[str]:
    return [
        re.sub(r"\{[^}]+\}", "1", route.path)
        for route in all_routes(client.app.routes)  # type: ignore[attr-defined]  # the app is typed as a plain ASGI app
        if getattr(route, "path", "").startswith("/admin")
        and route.path != "/admin/login"
        and "POST" in route.methods
    ]


def api_operations(client: TestClient) -> list[tuple[str, str]]:
    schema = client.get("/api/v1/openapi.json").json()
    return [
        (method.upper(), "/api/v1" + re.sub(r"\{[^}]+\}", "1", path))
        for path, item in schema["paths"].items()
        for method in item
    ]


def test_every_admin_page_and_api_route_refuses_strangers_and_none_fails(
    client: TestClient,
) -> None:
    pages, posts, operations = (
        admin_get_paths(client),
        admin_post_paths(client),
        api_operations(client),
    )
    assert {
        "/admin",
        "/admin/sources",
        "/admin/subscribers",
        "/admin/sends",
        "/admin/editions",
    } <= set(pages)
    assert len(operations) >= 20
    for path in pages + posts:
        method = client.get if path in pages else client.post
        answer = method(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/admin/login?next="), path
    for method, path in operations:
        # Whatever the body, even one that is not JSON: the token is checked first.
        answer = client.request(
            method, path, content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 401, (method, path)
        forged = client.request(method, path, json={}, headers={"Authorization": "Bearer nope"})
        assert forged.status_code == 401, (method, path)
    assert sign_in(client, token=TOKEN).status_code == 303
    for path in pages:
        assert client.get(path).status_code in (200, 404), path
    for method, path in operations:
        if path.endswith("/gathers"):
            continue  # gathers for real: tested with sources below
        answer = client.request(method, path, json={}, headers=BEARER)
        assert answer.status_code < 500, (method, path, answer.text)


def test_the_openapi_schema_is_public_and_documents_the_routes_named(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    operations = set(api_operations(client))
    for wanted in [
        ("GET", "/api/v1/sources"),
        ("POST", "/api/v1/sources"),
        ("PATCH", "/api/v1/sources/1"),
        ("DELETE", "/api/v1/sources/1"),
        ("GET", "/api/v1/subscribers"),
        ("POST", "/api/v1/subscribers"),
        ("POST", "/api/v1/gathers"),
        ("POST", "/api/v1/sends"),
        ("GET", "/api/v1/sends/1"),
        ("POST", "/api/v1/test-sends"),
        ("GET", "/api/v1/preview"),
        ("GET", "/api/v1/deliveries"),
        ("GET", "/api/v1/editions"),
    ]:
        assert wanted in operations


def test_sign_in_with_a_password_sets_a_guarded_cookie(
    client: TestClient, settings: Settings
) -> None:
    with db.session_scope(settings.database_url) as session:
        add_admin(session, "Ops@Example.org", PASSWORD)
    assert sign_in(client, email="ops@example.org", password="wrong password!").status_code == 401
    assert client.get("/admin", follow_redirects=False).status_code == 303
    answer = sign_in(client, email="ops@example.org", password=PASSWORD)
    assert answer.status_code == 303 and answer.headers["location"] == "/admin"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
    page = client.get("/admin")
    assert page.status_code == 200 and "ops@example.org" in page.text
    # Sign out: the cookie goes, the pages close again.
    assert client.post("/admin/logout", data={"csrf": csrf_of(page.text)}).status_code == 200
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_forms_without_the_csrf_token_change_nothing(
    client: TestClient, settings: Settings
) -> None:
    assert sign_in(client, token=TOKEN).status_code == 303
    refused = client.post("/admin/sources", data={"url": "https://harwick.example/feed.xml"})
    assert refused.status_code == 403
    forged = client.post(
        "/admin/sources", data={"url": "https://harwick.example/feed.xml", "csrf": "guess"}
    )
    assert forged.status_code == 403
    assert client.get("/api/v1/sources", headers=BEARER).json()["total"] == 0
    login = client.get("/admin/login")
    assert client.post("/admin/login", data={"token": TOKEN}).status_code == 403
    assert "Sign in" in login.text


def test_sign_in_attempts_are_limited(migrated_database_url: str, tmp_path: Path) -> None:
    from digest.web import create_app

    settings = make_settings(migrated_database_url, tmp_path, admin_login_rate="3/minute")
    client = TestClient(create_app(settings), base_url="https://testserver")
    answers = [sign_in(client, token="wrong").status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]
    # Even the right token waits: the limit is per address, not per guess.
    assert sign_in(client, token=TOKEN).status_code == 429


def test_the_cookie_is_not_secure_on_plain_http(migrated_database_url: str, tmp_path: Path) -> None:
    from digest.web import create_app

    settings = make_settings(migrated_database_url, tmp_path, base_url="http://localhost:8000")
    answer = sign_in(TestClient(create_app(settings)), token=TOKEN)
    assert answer.status_code == 303 and "secure" not in answer.headers["set-cookie"].lower()


def test_an_admins_api_token_works_and_the_database_keeps_only_its_hash(
    client: TestClient, settings: Settings
) -> None:
    with db.session_scope(settings.database_url) as session:
        add_admin(session, "ops@example.org", PASSWORD)
        token = create_token(session, "ops@example.org", "script")
    answer = client.get("/api/v1/sources", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    with db.get_engine(settings.database_url).connect() as conn:
        stored = [row[0] for row in conn.exec_driver_sql("SELECT token_hash FROM api_tokens")]
    assert stored and token not in stored


def test_an_admin_makes_and_revokes_api_tokens_in_the_console(
    client: TestClient, settings: Settings
) -> None:
    with db.session_scope(settings.database_url) as session:
        add_admin(session, "ops@example.org", PASSWORD)
    assert sign_in(client, email="ops@example.org", password=PASSWORD).status_code == 303
    page = client.get("/admin/tokens")
    assert page.status_code == 200 and "No API tokens." in page.text
    csrf = csrf_of(page.text)
    assert client.post("/admin/tokens", data={"csrf": csrf, "name": " "}).status_code == 400
    made = client.post("/admin/tokens", data={"csrf": csrf, "name": "site <sign-up> form"})
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    found = re.search(r'<pre id="api-token">(dgt_[\w-]+)</pre>', made.text)
    assert found and "site &lt;sign-up&gt; form" in made.text
    token = found.group(1)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/sources", headers=bearer).status_code == 200
    listed = client.get("/admin/tokens").text
    assert "site &lt;sign-up&gt; form" in listed and "ops@example.org" in listed
    assert token not in listed and "never" not in listed  # used just now
    revoked = client.post("/admin/tokens/1/revoke", data={"csrf": csrf})
    assert "Revoked API token #1" in revoked.text and "No API tokens." in revoked.text
    assert client.get("/api/v1/sources", headers=bearer).status_code == 401
    assert client.post("/admin/tokens/1/revoke", data={"csrf": csrf}).status_code == 404
    # Without the CSRF token nothing is made.
    assert client.post("/admin/tokens", data={"name": "forged"}).status_code == 403
    with db.get_engine(settings.database_url).connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM api_tokens").scalar() == 0


def test_the_admin_token_holder_cannot_make_tokens_but_may_revoke_them(
    client: TestClient, settings: Settings
) -> None:
    with db.session_scope(settings.database_url) as session:
        add_admin(session, "ops@example.org", PASSWORD)
        create_token(session, "ops@example.org", "a leaked one")
    assert sign_in(client, token=TOKEN).status_code == 303
    csrf = csrf_of(client.get("/admin/tokens").text)
    refused = client.post("/admin/tokens", data={"csrf": csrf, "name": "mine"})
    assert refused.status_code == 400 and "belong to an admin user" in refused.text
    assert (
        "Revoked API token #1 (a leaked one)"
        in client.post("/admin/tokens/1/revoke", data={"csrf": csrf}).text
    )


def test_the_setup_check_page_tries_the_smtp_server_and_sends_nothing(
    migrated_database_url: str, smtp: tuple[Sink, str], tmp_path: Path
) -> None:
    from digest.web import create_app

    sink, url = smtp
    settings = make_settings(migrated_database_url, tmp_path, smtp_url=url)
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        assert client.get("/admin/check", follow_redirects=False).status_code == 303
        assert sign_in(client, token=TOKEN).status_code == 303
        assert 'href="/admin/check"' in client.get("/admin").text
        page = client.get("/admin/check")
    assert page.status_code == 200
    statuses = re.findall(r'<tr data-status="(\w+)"><td>([^<]+)</td>', page.text)
    assert sorted(statuses) == sorted([("ok", "database"), ("ok", f"smtp {url}")])
    assert "8BITMIME" in page.text
    assert sink.sessions == 1 and sink.messages == []


# --- bodies and answers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/sources", {"url": "ftp://harwick.example/feed"}, "url"),
        ("/api/v1/sources", {"name": "no url"}, "url"),
        ("/api/v1/sources", {"url": "https://a.example/f", "topics": "city"}, "topics"),
        ("/api/v1/subscribers", {"email": "not an address"}, "email"),
        ("/api/v1/subscribers", {"email": "a@example.org", "hour": 24}, "hour"),
        ("/api/v1/subscribers", {"email": "a@example.org", "hour": "seven"}, "hour"),
        ("/api/v1/subscribers", {"email": "a@example.org", "timezone": "Mars/Olympus"}, "timezone"),
        ("/api/v1/subscribers", {"email": "a@example.org", "frequency": "hourly"}, "frequency"),
        ("/api/v1/subscribers", {"email": "a@example.org", "day_of_month": 31}, "day_of_month"),
        ("/api/v1/subscribers", {"email": "a@example.org", "status": "bounced"}, "status"),
        ("/api/v1/subscribers", {"email": "a@example.org", "colour": "red"}, "colour"),
        ("/api/v1/test-sends", {"email": "nobody"}, "email"),
        ("/api/v1/sends", {"topic": "no-such-topic"}, "topic"),
    ],
)
def test_bad_input_gets_4xx_naming_the_field_and_writes_nothing(
    client: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    answer = client.post(path, json=body, headers=BEARER)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["field"] == field and field in answer.json()["error"]
    assert client.get("/api/v1/subscribers", headers=BEARER).json()["total"] == 0
    assert client.get("/api/v1/sources", headers=BEARER).json()["total"] == 0


def test_sources_and_subscribers_through_the_api(
    client: TestClient, settings: Settings, samples_url: str
) -> None:
    made = client.post(
        "/api/v1/sources",
        json={"url": f"{samples_url}/harwick-news.rss", "name": "Courier", "topics": ["City"]},
        headers=BEARER,
    )
    assert made.status_code == 201 and made.json()["topics"] == ["city"]
    again = client.post("/api/v1/sources", json={"url": made.json()["url"]}, headers=BEARER)
    assert again.status_code == 409
    source_id = made.json()["id"]
    paused = client.patch(f"/api/v1/sources/{source_id}", json={"paused": True}, headers=BEARER)
    assert paused.json()["paused"] is True and paused.json()["full_text"] == "auto"
    mode = client.patch(f"/api/v1/sources/{source_id}", json={"full_text": "never"}, headers=BEARER)
    assert (mode.json()["full_text"], mode.json()["paused"]) == ("never", True)
    wrong = client.patch(
        f"/api/v1/sources/{source_id}", json={"full_text": "sometimes"}, headers=BEARER
    )
    assert wrong.status_code == 422
    assert client.get(f"/api/v1/sources/{source_id}", headers=BEARER).json()["full_text"] == "never"
    client.patch(f"/api/v1/sources/{source_id}", json={"paused": False}, headers=BEARER)
    gathered = client.post("/api/v1/gathers", json={}, headers=BEARER).json()["results"]
    assert gathered[0]["new"] > 0 and gathered[0]["error"] is None
    articles = client.get(f"/api/v1/sources/{source_id}/articles", headers=BEARER).json()
    assert articles and articles[0]["summary"]

    sub = client.post(
        "/api/v1/subscribers",
        json={
            "email": "Ana@Example.org",
            "frequency": "weekly",
            "weekday": "friday",
            "topics": ["city"],
        },
        headers=BEARER,
    )
    assert sub.status_code == 201
    assert sub.json() | {} == sub.json() and sub.json()["email"] == "ana@example.org"
    assert sub.json()["status"] == "confirmed" and sub.json()["weekday"] == "friday"
    listed = client.get("/api/v1/subscribers?topic=city&status=confirmed", headers=BEARER).json()
    assert [s["email"] for s in listed["items"]] == ["ana@example.org"]
    assert client.get("/api/v1/subscribers?q=nobody", headers=BEARER).json()["total"] == 0
    sub_id = sub.json()["id"]
    changed = client.patch(f"/api/v1/subscribers/{sub_id}", json={"hour": 9}, headers=BEARER)
    assert changed.json()["hour"] == 9 and changed.json()["weekday"] == "friday"
    preview = client.get("/api/v1/preview?subscriber=ana@example.org", headers=BEARER)
    assert preview.status_code == 200 and "Harwick" in preview.json()["html"]
    suppressed = client.patch(
        f"/api/v1/subscribers/{sub_id}", json={"status": "unsubscribed"}, headers=BEARER
    )
    assert suppressed.json()["status"] == "unsubscribed"
    back = client.patch(
        f"/api/v1/subscribers/{sub_id}", json={"status": "confirmed"}, headers=BEARER
    )
    assert back.status_code == 422 and back.json()["field"] == "status"


def test_a_test_send_reaches_the_smtp_server_and_uses_up_nothing(
    migrated_database_url: str, tmp_path: Path, smtp: tuple[Sink, str], samples_url: str
) -> None:
    from digest.web import create_app

    sink, smtp_url = smtp
    settings = make_settings(migrated_database_url, tmp_path, smtp_url=smtp_url)
    client = TestClient(create_app(settings))
    client.post("/api/v1/sources", json={"url": f"{samples_url}/harbour-log.atom"}, headers=BEARER)
    client.post("/api/v1/gathers", json={}, headers=BEARER)
    client.post(
        "/api/v1/subscribers", json={"email": "ana@example.org", "name": "Ana"}, headers=BEARER
    )
    answer = client.post(
        "/api/v1/test-sends",
        json={"email": "editor@example.org", "as": "ana@example.org"},
        headers=BEARER,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["latest"] is False
    (message,) = sink.wait_for(1)
    assert str(message["To"]) == "editor@example.org"
    assert str(message["Subject"]).startswith("[Test] ")
    with db.session_scope(settings.database_url) as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
        ana = session.scalars(select(Subscriber)).one()
        assert ana.last_article_id == 0 and ana.last_sent_at is None
    unknown = client.post(
        "/api/v1/test-sends",
        json={"email": "editor@example.org", "as": "who@example.org"},
        headers=BEARER,
    )
    assert unknown.status_code == 422 and unknown.json()["field"] == "as"


def test_send_now_answers_202_at_once_and_its_progress_settles(
    client: TestClient, settings: Settings, samples_url: str
) -> None:
    for name in ("harwick-news.rss", "harbour-log.atom"):
        client.post(
            "/api/v1/sources",
            json={"url": f"{samples_url}/{name}", "topics": [name[:7]]},
            headers=BEARER,
        )
    client.post("/api/v1/gathers", json={}, headers=BEARER)
    for email, topic in [
        ("a@example.org", "harwick"),
        ("b@example.org", "harbour"),
        ("c@example.org", "harbour"),
    ]:
        client.post("/api/v1/subscribers", json={"email": email, "topics": [topic]}, headers=BEARER)
    answer = client.post("/api/v1/sends", json={"topic": "harbour"}, headers=BEARER)
    assert answer.status_code == 202
    send_id = answer.json()["id"]
    deadline = time.monotonic() + 30
    while True:
        progress = client.get(f"/api/v1/sends/{send_id}", headers=BEARER).json()
        if progress["done"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert progress["done"] and progress["sent"] == 2 and progress["total"] == 2
    deliveries = client.get(f"/api/v1/deliveries?send_id={send_id}", headers=BEARER).json()
    assert sorted(d["email"] for d in deliveries["items"]) == ["b@example.org", "c@example.org"]
    assert len(list((settings.outbox_dir).glob("*.eml"))) == 2
    # Nothing new for them now: the next send is planned empty.
    assert client.post("/api/v1/sends", json={"topic": "harbour"}, headers=BEARER).json() == {
        "id": None
    }
    editions = client.get("/api/v1/editions", headers=BEARER).json()["items"]
    assert editions and editions[0]["deliveries"] == {"sent": 2}
    archive = client.get(f"/archive/{editions[0]['id']}")
    assert archive.status_code == 200 and "Harbour" in archive.text
    assert "/unsubscribe/" not in archive.text  # nobody's own links in the public copy
    assert editions[0]["subject"] in client.get("/archive").text


def test_the_admin_pages_do_what_the_buttons_say(client: TestClient, samples_url: str) -> None:
    assert sign_in(client, token=TOKEN).status_code == 303
    csrf = csrf_of(client.get("/admin/sources").text)
    added = client.post(
        "/admin/sources",
        data={"csrf": csrf, "url": f"{samples_url}/culture.json", "topic_list": "arts, city"},
    )
    assert added.status_code == 200 and "Added" in added.text
    assert "arts, city" in added.text
    gathered = client.post("/admin/gather", data={"csrf": csrf})
    assert "Gathered 1 sources" in gathered.text
    paused = client.post("/admin/sources/1/pause", data={"csrf": csrf, "paused": "1"})
    assert "Paused" in paused.text and "Resume" in paused.text
    upload = "email,name,hour\nnew@example.org,New,8\nbroken,Bad,8\nlate@example.org,Late,99\n"
    imported = client.post(
        "/admin/subscribers/import",
        data={"csrf": csrf},
        files={"file": ("people.csv", upload.encode(), "text/csv")},
    )
    assert imported.status_code == 200
    assert "1 imported" in imported.text
    assert re.search(r"<td>3</td><td>broken</td>", imported.text)
    assert re.search(r"<td>4</td><td>late@example.org</td>", imported.text)
    filtered = client.get("/admin/subscribers?q=new&status=confirmed")
    assert "new@example.org" in filtered.text
    export = client.get("/admin/subscribers/export.csv")
    assert export.text.splitlines()[1].startswith("new@example.org,New,confirmed")
    preview = client.get("/admin/preview?subscriber=new@example.org")
    assert preview.status_code == 200 and 'id="preview-subject"' in preview.text
    suppressed = client.post("/admin/subscribers/1/suppress", data={"csrf": csrf})
    assert 'id="status">unsubscribed' in suppressed.text
    dashboard = client.get("/admin")
    assert "<svg" in dashboard.text and "sign-ups" in dashboard.text
    removed = client.post("/admin/sources/1/remove", data={"csrf": csrf})
    assert "Removed source #1" in removed.text
    hook = client.post(
        "/admin/webhooks",
        data={"csrf": csrf, "url": "https://hooks.example.org/in", "events": ["send.finished"]},
    )
    assert hook.status_code == 200
    secret = re.search(r'<pre id="webhook-secret">([^<]+)</pre>', hook.text)
    assert secret and len(secret.group(1)) >= 32
    listed = client.get("/admin/webhooks").text
    assert "https://hooks.example.org/in" in listed and secret.group(1) not in listed
    no_event = client.post("/admin/webhooks", data={"csrf": csrf, "url": "https://h.example.org"})
    assert no_event.status_code == 400 and "events" in no_event.text
    gone = client.post("/admin/webhooks/1/remove", data={"csrf": csrf})
    assert "Removed webhook #1" in gone.text and "No webhooks." in gone.text
    # What PostgreSQL cannot store is refused or cleaned, never a 500.
    long_url = "https://harwick.example/" + "x" * 3000
    too_long = client.post("/admin/sources", data={"csrf": csrf, "url": long_url})
    assert too_long.status_code == 400 and "at most 2000" in too_long.text
    assert client.get("/admin/subscribers", params={"q": "new\x00"}).status_code == 200
    renamed = client.post("/admin/subscribers/1", data={"csrf": csrf, "name": "Ne\x00w"})
    assert renamed.status_code == 200 and 'value="New"' in renamed.text


def test_metrics_need_the_token_unless_public(migrated_database_url: str, tmp_path: Path) -> None:
    from digest.web import create_app

    guarded = TestClient(create_app(make_settings(migrated_database_url, tmp_path)))
    assert guarded.get("/metrics").status_code == 401
    answer = guarded.get("/metrics", headers=BEARER)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    assert 'digest_deliveries{status="sent"} 0.0' in answer.text
    assert "# TYPE digest_queue_depth gauge" in answer.text
    public = make_settings(migrated_database_url, tmp_path, metrics_public=True)
    assert TestClient(create_app(public)).get("/metrics").status_code == 200


def test_health_names_an_unreachable_broker(migrated_database_url: str, tmp_path: Path) -> None:
    from smtp_sink import free_port

    from digest.web import create_app

    settings = make_settings(
        migrated_database_url, tmp_path, broker_url=f"redis://127.0.0.1:{free_port()}/0"
    )
    answer = TestClient(create_app(settings)).get("/health")
    assert answer.status_code == 503
    assert answer.json() == {"status": "error", "database": "ok", "broker": "unreachable"}


def test_the_archive_can_be_turned_off(migrated_database_url: str, tmp_path: Path) -> None:
    from digest.web import create_app

    settings = make_settings(migrated_database_url, tmp_path, archive=False)
    assert TestClient(create_app(settings)).get("/archive").status_code == 404


def test_the_admin_finds_a_sites_feed_and_changes_a_source(client: TestClient) -> None:
    from gather_pages import rss, section_page
    from web_site import serve_site

    assert sign_in(client, token=TOKEN).status_code == 303
    csrf = csrf_of(client.get("/admin/sources").text)
    with serve_site() as site:
        site.add("/feed.xml", rss([], title="Quay Weekly"), content_type="application/rss+xml")
        links = [(f"/2026/story-{i}", f"Story number {i} of the week") for i in range(6)]
        home = site.add("/", section_page(links, feed="/feed.xml"))
        added = client.post(
            "/admin/sources",
            data={"csrf": csrf, "url": home, "full_text": "never", "check": "1"},
        )
        assert added.status_code == 200
        assert "found the feed" in added.text and "Quay Weekly" in added.text
        (source,) = client.get("/api/v1/sources", headers=BEARER).json()["items"]
        assert source["url"] == f"{site.base}/feed.xml" and source["kind"] == "feed"
        assert source["full_text"] == "never"
        # Through the API too, with the check's finding in the answer.
        site.add("/other/feed.xml", rss([], title="Other"), content_type="application/rss+xml")
        site.add("/other/", section_page(links, feed="/other/feed.xml"))
        made = client.post(
            "/api/v1/sources",
            json={"url": f"{site.base}/other/", "check": True, "full_text": "always"},
            headers=BEARER,
        )
        assert made.status_code == 201, made.text
        assert "found the feed" in made.json()["found"] and "Other" in made.json()["found"]
        assert made.json()["url"] == f"{site.base}/other/feed.xml"
        assert made.json()["full_text"] == "always"
        unreachable = client.post(
            "/admin/sources", data={"csrf": csrf, "url": f"{site.base}/missing", "check": "1"}
        )
        assert unreachable.status_code == 400 and "404" in unreachable.text

    page = client.get(f"/admin/sources/{source['id']}").text
    assert f'value="{source["name"]}"' in page and '<option value="never" selected>' in page
    changed = client.post(
        f"/admin/sources/{source['id']}",
        data={
            "csrf": csrf,
            "name": "The Quay",
            "topic_list": "harbour, city",
            "full_text": "always",
        },
    )
    assert changed.status_code == 200 and "Saved The Quay" in changed.text
    now = client.get(f"/api/v1/sources/{source['id']}", headers=BEARER).json()
    assert (now["name"], sorted(now["topics"]), now["full_text"]) == (
        "The Quay",
        ["city", "harbour"],
        "always",
    )
    refused = client.post(
        f"/admin/sources/{source['id']}", data={"csrf": csrf, "name": "X", "full_text": "often"}
    )
    assert refused.status_code == 400 and "full_text" in refused.text
    assert (
        client.get(f"/api/v1/sources/{source['id']}", headers=BEARER).json()["name"] == "The Quay"
    )


def test_the_admin_opml_import_is_the_cli_one_with_folders_as_topics(client: TestClient) -> None:
    assert sign_in(client, token=TOKEN).status_code == 303
    csrf = csrf_of(client.get("/admin/sources").text)
    opml = (
        b'<?xml version="1.0"?>\n<opml version="2.0"><head><title>x</title></head><body>\n'
        b'<outline text="Harbour"><outline text="Log" xmlUrl="https://example.org/log.xml"/>'
        b"</outline>\n"
        b'<outline text="Bad" xmlUrl="ftp://example.org/x"/>\n'
        b"</body></opml>\n"
    )

    def send() -> Any:
        return client.post(
            "/admin/sources/import",
            data={"csrf": csrf},
            files={"file": ("feeds.opml", opml, "text/x-opml")},
        )

    first = send()
    assert first.status_code == 200 and "Added 1" in first.text and "line 4" in first.text
    (source,) = client.get("/api/v1/sources", headers=BEARER).json()["items"]
    assert source["url"] == "https://example.org/log.xml" and source["topics"] == ["harbour"]
    again = send()
    assert "Added 0, 1 already added" in again.text
    refused = client.post(
        "/admin/sources/import",
        data={"csrf": csrf},
        files={"file": ("feeds.opml", b"not xml", "text/x-opml")},
    )
    assert refused.status_code == 400 and "not an OPML file" in refused.text


def test_the_admin_and_the_api_show_a_sources_kind_and_its_entries_left_out(
    client: TestClient,
) -> None:
    from gather_pages import card_section_page
    from web_site import serve_site

    assert sign_in(client, token=TOKEN).status_code == 303
    csrf = csrf_of(client.get("/admin/sources").text)
    with serve_site() as site:
        links = [(f"/2026/quay-story-number-{i}", f"Quay story number {i}") for i in range(5)]
        page = site.add("/quays", card_section_page(links))  # its article links answer 404
        added = client.post(
            "/admin/sources", data={"csrf": csrf, "url": page, "check": "1", "kind": "section"}
        )
        assert added.status_code == 200, added.text
        assert "is a section page (set by hand), with 5 article links" in added.text
        gathered = client.post("/api/v1/gathers", json={}, headers=BEARER)
        assert gathered.status_code == 200, gathered.text

    (source,) = client.get("/api/v1/sources", headers=BEARER).json()["items"]
    assert (source["kind"], source["kind_origin"]) == ("section", "set")
    assert (source["entries"], source["stored"], source["left_out"]) == (5, 0, 5)
    assert source["left_out_summary"] == "5 pages not read"
    details = client.get(f"/api/v1/sources/{source['id']}", headers=BEARER).json()
    assert [e["link"] for e in details["left_out_entries"]] == [site.base + h for h, _ in links]
    assert all("404" in e["reason"] for e in details["left_out_entries"])

    shown = client.get(f"/admin/sources/{source['id']}").text
    assert "A section page, set by hand." in shown
    assert "Last read: 5 entries, 0 stored, left out: 5 pages not read." in shown
    assert shown.count("its page could not be read") == 5
    listed = client.get("/admin/sources").text
    assert "section (set)" in listed and "0 of 5 stored" in listed

    found_again = client.patch(
        f"/api/v1/sources/{source['id']}", json={"kind": "auto"}, headers=BEARER
    )
    assert found_again.status_code == 200 and found_again.json()["kind_origin"] == "auto"
    refused = client.patch(
        f"/api/v1/sources/{source['id']}", json={"kind": "podcast"}, headers=BEARER
    )
    assert refused.status_code == 422
