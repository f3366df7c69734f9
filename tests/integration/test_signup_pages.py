"""Sign-up, confirmation and preferences as a person meets them: `digest serve` as a real
process, a real SMTP server receiving the confirmation and welcome mails, headless Chromium
pressing the buttons, and (with the broker set) a real Celery worker sending the mails."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path

import httpx
import pytest
from smtp_sink import Sink
from test_browser import CHROMIUM_FLAGS, chromium  # noqa: F401  (the fixture)

from digest.core.links import make_confirm_token


def body_text(msg: Message) -> str:
    part = msg.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]  # a message of the default policy is an EmailMessage
    return str(part.get_content())


def link_in(msg: Message, kind: str) -> str:
    found = re.search(rf"https://news\.example\.org(/{kind}/\S+)", body_text(msg))
    assert found, body_text(msg)
    return found.group(1)


def subscribers(cli) -> list[dict]:  # type: ignore[no-untyped-def]  # an untyped helper
    return json.loads(cli("subscribers", "list", "--json").stdout)  # type: ignore[no-any-return]  # json gives Any


def test_sign_up_confirm_and_change_preferences_in_a_browser(  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    chromium,  # noqa: F811
    cli,
    web,
    worker,
    smtp: tuple[Sink, str],
    tmp_path: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    sink = smtp[0]
    cli(
        "sources",
        "add",
        "https://harwick.example/feed.xml",
        "--topic",
        "harbour",
        "--topic",
        "arts",
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        # A phone-sized window in Lisbon: the script preselects the browser's time zone.
        context = browser.new_context(
            viewport={"width": 390, "height": 800}, timezone_id="Europe/Lisbon"
        )
        page = context.new_page()
        page.goto(f"{web}/subscribe")
        assert page.locator("#timezone").input_value() == "Europe/Lisbon"
        # The honeypot is off the screen: people never see it, bots that read HTML do.
        box = page.locator("input[name=website]").bounding_box()
        assert box is not None and box["x"] + box["width"] <= 0
        page.fill("#email", "tomasz.reed@example.org")
        page.fill("#name", "Tomasz Reed")
        page.select_option("#frequency", "weekly")
        page.select_option("#weekday", "friday")
        page.select_option("#hour", "6")
        page.check("input[name=topics][value=arts]")
        page.get_by_role("button", name="Subscribe").click()
        page.wait_for_load_state()
        assert page.inner_text("h1") == "Check your inbox"
        [pending] = subscribers(cli)
        assert pending["status"] == "pending"

        # The confirmation mail arrives at the real SMTP server, sent by the worker.
        [confirmation] = sink.wait_for(1)
        assert "confirm" in str(confirmation["Subject"]).lower()
        page.goto(web + link_in(confirmation, "confirm"))
        assert subscribers(cli)[0]["status"] == "pending"  # opening the page changes nothing
        page.get_by_role("button", name="Confirm my subscription").click()
        page.wait_for_load_state()
        assert page.inner_text("h1") == "Subscribed"
        [sub] = subscribers(cli)
        assert (sub["status"], sub["frequency"], sub["hour"], sub["timezone"]) == (
            "confirmed",
            "weekly",
            6,
            "Europe/Lisbon",
        )
        assert sub["topics"] == ["arts"]

        welcome = sink.wait_for(2)[1]
        assert str(welcome["Subject"]).startswith("Welcome")
        page.goto(web + link_in(welcome, "preferences"))
        assert page.locator("#weekday").input_value() == "friday"
        # A bad value shows its message at the field and changes nothing...
        page.select_option("#frequency", "monthly")
        page.evaluate("document.querySelector('#hour').options[0].value = '99'")
        page.select_option("#hour", index=0)
        page.get_by_role("button", name="Save").click()
        page.wait_for_load_state()
        assert "whole number" in page.inner_text("#hour-error")
        assert subscribers(cli)[0]["frequency"] == "weekly"
        # ...and a good one is saved.
        page.select_option("#frequency", "monthly")
        page.select_option("#day_of_month", "last")
        page.select_option("#hour", "18")
        page.get_by_role("button", name="Save").click()
        page.wait_for_load_state()
        assert page.inner_text("[role=status]") == "Saved."
        page.screenshot(path=str(tmp_path / "preferences.png"), full_page=True)
        browser.close()
    [sub] = subscribers(cli)
    assert (sub["frequency"], sub["hour"]) == ("monthly", 18)


@pytest.fixture
def env_in_process(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The same deployment without a broker: mails go out from `digest serve` itself."""
    env.pop("DIGEST_BROKER_URL")
    env["DIGEST_SIGNUP_RATE"] = "4/minute"
    yield env


def test_pages_over_http_in_process(env_in_process, cli, web, smtp) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    sink = smtp[0]
    form = {"email": "ada@example.org", "frequency": "daily", "hour": "7", "timezone": "UTC"}
    with httpx.Client(base_url=web, timeout=10) as http:
        first = http.post("/subscribe", data=form)
        again = http.post("/subscribe", data=form)
        assert first.status_code == again.status_code == 200 and first.text == again.text
        # The honeypot: the same answer, and nothing written or sent.
        bot = http.post("/subscribe", data={**form, "email": "bot@example.org", "website": "x"})
        assert bot.status_code == 200 and "Check your inbox" in bot.text
        mails = sink.wait_for(2)
        assert [m["To"] for m in mails] == ["ada@example.org", "ada@example.org"]
        # An expired link (stamped eight days ago) and a tampered one: 400, nothing changes.
        expired = make_confirm_token(
            "integration-secret", 1, issued_at=datetime.now(UTC) - timedelta(days=8)
        )
        link = link_in(mails[1], "confirm")
        tampered = link[:-6] + ("Q" if link[-6] != "Q" else "R") + link[-5:]
        for bad in (f"/confirm/{expired}", tampered):
            answer = http.post(bad)
            assert answer.status_code == 400 and "new confirmation link" in answer.text
        assert [s["status"] for s in subscribers(cli)] == ["pending"]
        assert http.post(link).status_code == 200
        welcome = sink.wait_for(3)[2]
        assert str(welcome["Subject"]).startswith("Welcome")
        assert [s["status"] for s in subscribers(cli)] == ["confirmed"]
        # One click on the unsubscribe link of the welcome mail (RFC 8058 style POST).
        assert http.post(link_in(welcome, "unsubscribe")).status_code == 200
        assert [s["status"] for s in subscribers(cli)] == ["unsubscribed"]
        # An admin cannot add an address that left, and is told why.
        refused = cli("subscribers", "add", "ada@example.org", "--confirmed", check=False)
        assert refused.returncode != 0 and "only its owner" in refused.stdout + refused.stderr
        # Its owner comes back by signing up and confirming: the same row, confirmed again.
        time.sleep(1.1)  # the new link is stamped in whole seconds, after the unsubscribe
        assert http.post("/subscribe", data=form).text == first.text
        link = link_in(sink.wait_for(4)[3], "confirm")
        assert [s["status"] for s in subscribers(cli)] == ["unsubscribed"]
        assert http.post(link).status_code == 200
        # The fifth form from this address in a minute is one too many.
        assert http.post("/subscribe", data={**form, "email": "eve@example.org"}).status_code == 429
    assert [(s["email"], s["status"]) for s in subscribers(cli)] == [
        ("ada@example.org", "confirmed")
    ]
