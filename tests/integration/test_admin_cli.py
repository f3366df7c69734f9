"""`digest send --test`, `digest admins` and `digest webhooks` in this process (Typer's
runner), against a real SMTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from smtp_sink import Sink
from typer.testing import CliRunner

from digest.cli import app
from digest.config import get_settings


@pytest.fixture
def run(
    migrated_database_url: str,
    smtp: tuple[Sink, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[object]:
    monkeypatch.chdir(tmp_path)
    for key in ("DIGEST_BROKER_URL", "DIGEST_ADMIN_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DIGEST_DATABASE_URL", migrated_database_url)
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp[1])
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, (result.output, result.exception)
        # An error a user can act on: what `digest` prints after "error:".
        failure = "" if isinstance(result.exception, SystemExit) else str(result.exception or "")
        return result.stdout + failure

    yield invoke
    get_settings.cache_clear()


def test_send_test_mails_any_address_and_uses_up_nothing(
    run, smtp: tuple[Sink, str], samples_url: str
) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    sink = smtp[0]
    run("sources", "add", f"{samples_url}/harwick-news.rss", "--topic", "city")
    run("gather")
    run("subscribers", "add", "ana@example.org", "--confirmed", "--name", "Ana")
    out = json.loads(
        run("send", "--test", "Editor@Example.org", "--as", "ana@example.org", "--json")
    )
    assert out["to"] == "editor@example.org" and out["latest"] is False
    (message,) = sink.wait_for(1)
    assert str(message["Subject"]).startswith("[Test] ")
    ana = json.loads(run("subscribers", "list", "--json"))[0]
    assert ana["last_sent_at"] is None
    assert json.loads(run("sends", "list", "--json")) == []
    # The real send still has everything new for her.
    assert json.loads(run("send", "--now", "--json"))["sent"] == 1
    assert "--as chooses" in run("send", "--as", "ana@example.org", code=1)


def test_send_test_refuses_what_it_cannot_do(run) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    assert "no articles yet" in run("send", "--test", "editor@example.org", code=1)
    assert "not a valid email" in run("send", "--test", "nobody", code=1)
    assert "not with --now" in run("send", "--test", "editor@example.org", "--now", code=1)


def test_admins_and_webhooks_from_the_command_line(run) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    env = {"DIGEST_NEW_ADMIN_PASSWORD": "a long enough password"}
    assert "Added admin #1" in run("admins", "add", "ops@example.org", env=env)
    assert "already an admin" in run("admins", "add", "ops@example.org", env=env, code=1)
    short = {"DIGEST_NEW_ADMIN_PASSWORD": "short"}
    assert "at least 10" in run("admins", "add", "b@example.org", env=short, code=1)
    token = run("admins", "token", "ops@example.org").strip()
    assert token.startswith("dgt_")
    assert [a["email"] for a in json.loads(run("admins", "list", "--json"))] == ["ops@example.org"]
    added = run("webhooks", "add", "https://hooks.example.org/in", "--event", "send.finished")
    assert "Signing secret" in added
    assert "unknown event" in run(
        "webhooks", "add", "https://h.example.org", "--event", "x", code=1
    )
    assert json.loads(run("webhooks", "list", "--json"))[0]["events"] == ["send.finished"]
    run("webhooks", "remove", "1")
    assert json.loads(run("webhooks", "list", "--json")) == []


def test_api_tokens_are_listed_and_revoked_from_the_command_line(run) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    env = {"DIGEST_NEW_ADMIN_PASSWORD": "a long enough password"}
    run("admins", "add", "ops@example.org", env=env)
    token = run("admins", "token", "ops@example.org", "--name", "site sign-up").strip()
    assert "say what the token is for" in run(
        "admins", "token", "ops@example.org", "--name", "  ", code=1
    )
    (row,) = json.loads(run("admins", "tokens", "--json"))
    assert (row["name"], row["admin"], row["last_used_at"]) == (
        "site sign-up",
        "ops@example.org",
        None,
    )
    listed = run("admins", "tokens")
    assert "site sign-up" in listed and token not in listed
    assert "Revoked API token #1 (site sign-up)" in run("admins", "revoke-token", str(row["id"]))
    assert json.loads(run("admins", "tokens", "--json")) == []
    assert "no API token #1" in run("admins", "revoke-token", "1", code=1)


def test_a_name_with_brackets_is_shown_as_typed_in_tables(run) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    # Anyone can pick their name on the sign-up form; a table must not read it as markup.
    run("subscribers", "add", "ana@example.org", "--confirmed", "--name", "[/b]Ana")
    assert "[/b]Ana" in run("subscribers", "list")
    # ... while the table's own colours still work.
    run("sources", "add", "https://example.org/feed.xml", "--name", "[i]Kit")
    run("sources", "set", "1", "--pause")
    listed = run("sources", "list")
    assert "[i]Kit" in listed and "paused" in listed and "[yellow]" not in listed


def test_lists_are_filtered_as_the_admin_and_the_api_filter_them(run) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    run("sources", "add", "https://harbour.example/feed.xml", "--name", "Harbour Log")
    run("sources", "add", "https://hills.example/feed.xml", "--name", "Hill Notes")
    run("subscribers", "add", "ana@example.org", "--confirmed", "--name", "Ana")
    run("subscribers", "add", "bo@example.org", "--name", "Bo")
    run("subscribers", "add", "cy@harbour.example", "--confirmed")

    def emails(*args: str) -> list[str]:
        return [r["email"] for r in json.loads(run("subscribers", "list", "--json", *args))]

    assert emails() == ["ana@example.org", "bo@example.org", "cy@harbour.example"]
    assert emails("--status", "confirmed") == ["ana@example.org", "cy@harbour.example"]
    assert emails("--search", "harbour") == ["cy@harbour.example"]
    assert emails("-q", "BO", "--status", "pending") == ["bo@example.org"]
    assert emails("--status", "pending", "--search", "ana") == []
    said = run("subscribers", "list", "--status", "lost", code=1)
    assert "status" in said and "confirmed" in said, said
    names = [r["name"] for r in json.loads(run("sources", "list", "--json", "-q", "hill"))]
    assert names == ["Hill Notes"]
