"""The unsubscribe page in a real browser (headless Chromium driven by Playwright)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from digest.core.links import UNSUBSCRIBE, make_token

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_a_person_unsubscribes_with_the_button(chromium, cli, web, env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    from playwright.sync_api import sync_playwright

    cli("subscribers", "add", "clicker@example.org", "--confirmed")
    token = make_token(env["DIGEST_SECRET_KEY"], UNSUBSCRIBE, 1)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(f"{web}/unsubscribe/{token}")
        assert "clicker@example.org" in page.inner_text("main")
        # Opening the page alone changes nothing: link scanners open pages too.
        assert json.loads(cli("subscribers", "list", "--json").stdout)[0]["status"] == "confirmed"
        page.get_by_role("button", name="Unsubscribe").click()
        page.wait_for_load_state()
        assert page.inner_text("h1") == "Unsubscribed"
        page.screenshot(path=str(tmp_path / "unsubscribed.png"))
        browser.close()
    assert json.loads(cli("subscribers", "list", "--json").stdout)[0]["status"] == "unsubscribed"


def test_a_tampered_link_shows_an_error_page(chromium, web) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        response = page.goto(f"{web}/unsubscribe/MQ.forged-signature")
        assert response is not None and response.status == 400
        assert page.inner_text("h1") == "Invalid link"
        assert page.get_by_role("button").count() == 0
        browser.close()
