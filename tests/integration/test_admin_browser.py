"""The admin console in a real browser: headless Debian Chromium (Playwright) against the
app served by uvicorn on loopback, feeds from the loopback sample server, and a real SMTP
server (aiosmtpd) receiving the test send and the send. Screenshots of each step are kept
in test-artifacts/admin-browser/ (not committed)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from smtp_sink import Sink, free_port
from test_browser import CHROMIUM_FLAGS, chromium  # noqa: F401  (the fixture)

from digest.config import Settings
from digest.services.admins import add_admin
from digest.store import db

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "admin-browser"
PASSWORD = "a password for the browser"


@pytest.fixture
def console(migrated_database_url: str, smtp: tuple[Sink, str], tmp_path: Path) -> Iterator[str]:
    """The whole web app served by uvicorn in a thread; yields its base URL."""
    from digest.web import create_app

    settings = Settings(
        database_url=migrated_database_url,
        smtp_url=smtp[1],
        secret_key="browser-secret",
        templates_dir=ROOT / "templates",
        outbox_dir=tmp_path / "outbox",
        list_name="Harwick Digest",
        from_address="Harwick Digest <digest@news.example.org>",
    )
    with db.session_scope(settings.database_url) as session:
        add_admin(session, "editor@example.org", PASSWORD)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_an_editor_runs_the_newsletter_from_the_browser(  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    chromium,  # noqa: F811
    console: str,
    smtp: tuple[Sink, str],
    samples_url: str,
    request: pytest.FixtureRequest,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    sink = smtp[0]
    shots = ARTIFACTS / request.node.callspec.id
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})

        def shot(name: str) -> None:
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

        # Anonymous: sent to the sign-in form, and back to the page asked for after it.
        page.goto(f"{console}/admin/sources")
        assert page.url.startswith(f"{console}/admin/login")
        page.fill("#email", "editor@example.org")
        page.fill("#password", "not the password")
        page.click("button:has-text('Sign in')")
        expect(page.get_by_role("alert")).to_contain_text("Wrong address and password")
        page.fill("#email", "editor@example.org")
        page.fill("#password", PASSWORD)
        shot("01-sign-in")
        page.click("button:has-text('Sign in')")
        assert page.url == f"{console}/admin/sources"

        page.fill("#url", f"{samples_url}/harwick-news.rss")
        page.fill("#name", "Harwick Courier")
        page.fill("#topic_list", "city, transport")
        page.click("button:has-text('Add source')")
        # The form fetches the URL first (its box is ticked) and says what it found.
        expect(page.get_by_role("status")).to_contain_text("Added Harwick Courier")
        expect(page.get_by_role("status")).to_contain_text("is a feed 'Harwick Courier'")
        page.click("button:has-text('Gather now')")
        expect(page.get_by_role("status")).to_contain_text("Gathered 1 sources")
        assert "0 errors" in page.get_by_role("status").inner_text()
        shot("02-sources-gathered")

        page.click("header >> text=Subscribers")
        page.fill("#new-email", "ana@example.org")
        page.fill("#new-name", "Ana")
        page.click("button:has-text('Add subscriber')")
        expect(page.get_by_role("status")).to_have_text("Added ana@example.org (confirmed)")
        shot("03-subscriber-added")

        page.click("header >> text=Sends")
        page.fill("#preview-subscriber", "ana@example.org")
        page.click("button:has-text('Preview')")
        subject = page.inner_text("#preview-subject")
        assert "Harwick Digest" in subject
        frame = page.frame_locator("iframe[title='HTML part']")
        expect(frame.locator("body")).to_contain_text("Ana")
        assert "Unsubscribe" in page.inner_text("#preview-text")
        shot("04-preview")

        page.click("header >> text=Sends")
        page.fill("#test-email", "proofreader@example.org")
        page.fill("#test-as", "ana@example.org")
        page.click("button:has-text('Send test')")
        expect(page.get_by_role("status")).to_have_text("Test sent to proofreader@example.org")
        (test_copy,) = sink.wait_for(1)
        assert str(test_copy["To"]) == "proofreader@example.org"
        assert str(test_copy["Subject"]) == f"[Test] {subject}"
        shot("05-test-sent")

        page.once("dialog", lambda dialog: dialog.accept())
        page.click("button:has-text('Send now')")
        expect(page.locator("#done")).to_have_text("finished", timeout=20_000)
        expect(page.locator("[data-state=sent]")).to_have_text("1")
        assert [str(m["To"]) for m in sink.wait_for(2)][1] == "Ana <ana@example.org>"
        shot("06-send-finished")

        page.click("header >> text=Dashboard")
        chart = page.locator("#activity-chart svg")
        expect(chart).to_be_visible()
        bars = chart.locator("rect.bar")
        heights = [float(bars.nth(i).get_attribute("height") or 0) for i in range(bars.count())]
        assert bars.count() == 30 and heights[-1] > 0 and heights[:-1] == [0] * 29
        expect(page.locator("#subscriber-counts")).to_contain_text("confirmed")
        shot("07-dashboard")
        page.click("text=Check the setup")
        expect(page.locator("#checks tr[data-status=ok]")).to_have_count(2)  # database, SMTP
        expect(page.locator("#checks")).to_contain_text("8BITMIME")

        # An API token for a script: shown once, works at once, stops on revoking.
        page.click("header >> text=API tokens")
        page.fill("#token-name", "deploy script")
        page.click("button:has-text('Make token')")
        token = page.inner_text("#api-token").strip()
        bearer = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{console}/api/v1/sources", headers=bearer).status_code == 200
        page.click("text=Back to API tokens")
        expect(page.locator("main table")).to_contain_text("deploy script")
        shot("08-api-tokens")
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("button:has-text('Revoke')")
        expect(page.get_by_role("status")).to_have_text("Revoked API token #1 (deploy script)")
        assert httpx.get(f"{console}/api/v1/sources", headers=bearer).status_code == 401
        browser.close()
