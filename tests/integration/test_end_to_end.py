"""The whole path with real components: CLI -> Redis -> Celery worker -> SMTP server.

The sample RSS feed is served over loopback HTTP; the assertions read what the SMTP server
received, the way a subscriber's mail server would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from html import unescape

import feedparser
import httpx
import lxml.html
import pytest

from digest.runtime.samples import SAMPLES

pytestmark = pytest.mark.integration

SUBSCRIBERS = ["ana@example.org", "ben@example.net", "chloe@example.com"]


def feed_items(base: str) -> list[dict[str, str]]:
    """Titles and full body text of the fixture feed, read independently of the project."""
    raw = (SAMPLES / "harwick-news.rss").read_text().replace("{{BASE}}", base)
    items = []
    for entry in feedparser.parse(raw).entries:
        doc = lxml.html.fromstring(entry.content[0].value)
        paragraphs = [" ".join(p.text_content().split()) for p in doc.iter("p")]
        items.append({"title": entry.title, "body": " ".join(paragraphs), "link": entry.link})
    return items


def html_part(msg):  # type: ignore[no-untyped-def]  # an untyped helper
    return msg.get_body(("html",)).get_content()


def text_part(msg):  # type: ignore[no-untyped-def]  # an untyped helper
    return msg.get_body(("plain",)).get_content()


def test_gather_and_send_through_celery_to_smtp(cli, smtp, samples_url, worker) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    sink, _ = smtp
    feed_url = f"{samples_url}/harwick-news.rss"
    cli("sources", "add", feed_url, "--name", "Harwick Courier", "--topic", "city")
    for i, address in enumerate(SUBSCRIBERS):
        cli("subscribers", "add", address, "--name", f"Reader {i}", "--confirmed")

    gathered = json.loads(cli("gather", "--json").stdout)
    items = feed_items(samples_url)
    assert gathered == [
        {
            "source_id": 1,
            "name": "Harwick Courier",
            "new": len(items),
            "seen": 0,
            "error": None,
            "status": "ok",
            "kind": "feed",
            "note": None,
            "retry_after": None,
            "full_text": 0,
            "entries": len(items),
            "left_out": 0,
        }
    ]

    result = cli("send", "--now")
    assert "sent" in result.stdout

    messages = sink.wait_for(len(SUBSCRIBERS))
    assert len(messages) == len(SUBSCRIBERS)
    assert sorted(rcpt for _, rcpts in sink.envelopes for rcpt in rcpts) == sorted(SUBSCRIBERS)

    message_ids = set()
    for msg in messages:
        assert msg.get_content_type() == "multipart/alternative"
        assert msg["From"] == "Harwick Digest <digest@news.example.org>"
        assert msg["To"].addresses[0].addr_spec in SUBSCRIBERS
        assert msg["Subject"].startswith("Harwick Digest, ")
        assert msg["Date"].datetime is not None
        assert re.fullmatch(
            r"<digest\.e\d+\.s\d+\.[a-z2-7]{16}@news\.example\.org>", msg["Message-ID"]
        )
        message_ids.add(msg["Message-ID"])
        assert msg["List-Id"] == "Harwick Digest <harwick-digest.news.example.org>"
        assert re.fullmatch(
            r"<https://news\.example\.org/unsubscribe/[\w.-]+>", msg["List-Unsubscribe"]
        )
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        html, text = html_part(msg), text_part(msg)
        for item in items:
            assert unescape(item["title"]) in unescape(html)
            assert item["title"] in text
        # Every summary is a passage of its article's body, without page boilerplate.
        summaries = [
            " ".join(p.text_content().split())
            for p in lxml.html.fromstring(html).find_class("summary")
        ]
        assert len(summaries) == len(items)
        bodies = " ".join(item["body"] for item in items)
        for summary in summaries:
            assert summary.rstrip("…")[:80] in bodies
            for junk in ("Skip to content", "Read also", "Latest", "Photo: Courier"):
                assert junk not in summary
        # Every article gathered is an item of this email, and "Read also" never links
        # another item of the same email: there is nothing earlier to point to.
        assert "Read also" not in html and "Read also:" not in text
        assert "<script" not in html and "javascript:" not in html and "onerror" not in html
    assert len(message_ids) == len(SUBSCRIBERS)

    # Sending again finds nothing new and mails nobody twice.
    again = json.loads(cli("send", "--now", "--json").stdout)
    assert again["planned"] == 0 and again["nothing_new"] == len(SUBSCRIBERS)
    assert len(sink.wait_for(len(SUBSCRIBERS) + 1, timeout=2)) == len(SUBSCRIBERS)


def test_smtp_failures_are_retried_or_bounced_and_spare_the_others(
    cli, smtp, samples_url, worker
) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    sink, _ = smtp
    sink.replies["later@example.org"] = ["451 4.3.0 try again later"]
    sink.replies["gone@example.org"] = ["550 5.1.1 no such mailbox"]
    cli("sources", "add", f"{samples_url}/harbour-log.atom")
    for address in ("ok@example.org", "later@example.org", "gone@example.org"):
        cli("subscribers", "add", address, "--confirmed")
    cli("gather")

    # The 550 is a bounce (one attempt, the subscriber suppressed): the send exits 0.
    result = cli("send", "--now", "--json", check=False)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["sent"], summary["bounced"], summary["failed"]) == (2, 1, 0)
    assert "1 message(s) bounced" in result.stderr
    subscribers = {
        s["email"]: s["status"] for s in json.loads(cli("subscribers", "list", "--json").stdout)
    }
    assert subscribers["gone@example.org"] == "bounced"
    received = sorted(r for _, rcpts in sink.envelopes for r in rcpts)
    assert received == ["later@example.org", "ok@example.org"]


def test_one_click_unsubscribe_from_a_received_message(cli, smtp, samples_url, worker, web) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    sink, _ = smtp
    cli("sources", "add", f"{samples_url}/culture.json")
    cli("subscribers", "add", "leaver@example.org", "--confirmed")
    cli("gather")
    cli("send", "--now")
    (msg,) = sink.wait_for(1)
    # The link points at the public base URL; the test server stands in for that host.
    path = httpx.URL(msg["List-Unsubscribe"].strip("<>")).path
    one_click = {"List-Unsubscribe": "One-Click"}

    page = httpx.get(web + path)
    assert page.status_code == 200 and "<form" in page.text and "leaver@example.org" in page.text
    assert json.loads(cli("subscribers", "list", "--json").stdout)[0]["status"] == "confirmed"

    tampered = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    assert httpx.post(web + tampered, data=one_click).status_code == 400
    assert json.loads(cli("subscribers", "list", "--json").stdout)[0]["status"] == "confirmed"

    assert httpx.post(web + path, data=one_click).status_code == 200
    assert json.loads(cli("subscribers", "list", "--json").stdout)[0]["status"] == "unsubscribed"


def test_a_killed_worker_loses_no_message(cli, smtp, samples_url, env, start_worker) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    sink, _ = smtp
    first = start_worker()
    cli("sources", "add", f"{samples_url}/harbour-log.atom")
    addresses = ["first@example.org", "slow@example.org", "third@example.org"]
    for address in addresses:
        cli("subscribers", "add", address, "--confirmed")
    cli("gather")
    sink.delays["slow@example.org"] = 60

    queued = json.loads(cli("send", "--now", "--no-wait", "--json").stdout)
    assert queued["planned"] == 3
    deadline = time.monotonic() + 30
    while "slow@example.org" not in sink.in_flight:
        assert time.monotonic() < deadline, "the slow message never reached the server"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool, mid-message
    first.wait(10)
    del sink.delays["slow@example.org"]

    start_worker()
    deadline = time.monotonic() + 60
    while set(r for _, rcpts in sink.envelopes for r in rcpts) != set(addresses):
        assert time.monotonic() < deadline, sink.envelopes
        time.sleep(0.1)
    got = sorted(r for _, rcpts in sink.envelopes for r in rcpts)
    # Outcomes are recorded once per batch: a copy the server accepted before the kill but
    # that the dead worker had not recorded yet goes out again. Only "first" was accepted
    # in the killed batch, so at most it comes twice; nobody is missing.
    assert got in (addresses, sorted([*addresses, "first@example.org"])), got
    # The ledger agrees: every delivery settled as sent, none stuck "sending".
    listed = json.loads(cli("subscribers", "list", "--json").stdout)
    assert all(s["last_sent_at"] for s in listed)


def test_a_test_copy_is_sent_by_a_worker(
    cli, smtp, samples_url, env, tmp_path, start_worker
) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    import subprocess
    import sys
    from pathlib import Path

    sink, _ = smtp

    def test_send(*args: str) -> subprocess.CompletedProcess[str]:
        # This process cannot reach any SMTP server: only a worker can send the copy.
        return subprocess.run(
            [sys.executable, "-m", "digest", "send", "--test", *args],
            cwd=tmp_path,
            env={
                **env,
                "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
                "DIGEST_SMTP_URL": "smtp://127.0.0.1:9",
            },
            capture_output=True,
            text=True,
            timeout=120,
        )

    nobody = test_send("editor@example.org")
    assert nobody.returncode == 1 and "no worker answered" in nobody.stderr
    start_worker()
    cli("sources", "add", f"{samples_url}/culture.json")
    cli("subscribers", "add", "ana@example.org", "--confirmed")
    cli("gather")
    sent = test_send("Editor@Example.org", "--as", "ana@example.org", "--json")
    assert sent.returncode == 0, sent.stderr
    result = json.loads(sent.stdout)
    assert result["to"] == "editor@example.org" and result["subject"].startswith("[Test] ")
    (msg,) = sink.wait_for(1)
    assert msg["Message-ID"] == result["message_id"] and msg["To"] == "editor@example.org"
    # The worker's refusals come back as the same clear errors, and nothing is sent.
    bad = test_send("nobody")
    assert bad.returncode == 1 and "not a valid email address" in bad.stderr
    ghost = test_send("editor@example.org", "--as", "ghost@example.org")
    assert ghost.returncode == 1 and "ghost@example.org" in ghost.stderr
    assert "Traceback" not in bad.stderr + ghost.stderr
    assert len(sink.wait_for(2, timeout=1)) == 1
    # A test copy uses up nothing: the real send still goes to ana.
    summary = json.loads(cli("send", "--now", "--json").stdout)
    assert summary["planned"] == 1 and summary["sent"] == 1
