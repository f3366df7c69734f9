"""CSV import and export of subscribers, on SQLite and PostgreSQL: every bad row reported
with its line, good rows imported, a second import changes nothing, export round-trips."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.core.vocabulary import SubscriberStatus
from digest.errors import InvalidInput
from digest.services import importing
from digest.services.sources import add_source
from digest.services.subscribers import add_subscriber, unsubscribe
from digest.store import db, schema
from digest.store.models import Subscriber

HEADER = "email,name,status,frequency,weekday,day_of_month,hour,timezone,topics\n"
GOOD = (
    "ana@example.org,Ana Lind,confirmed,weekly,friday,1,8,Europe/Berlin,city|Harbour\n"
    "bo@example.org,,pending,monthly,monday,last,9,Asia/Kathmandu,\n"
    "cy@example.org,Cy,,,,,,,\n"
)


@pytest.fixture
def url(database_url: str) -> str:
    return install(database_url)


def install(url: str) -> str:
    """A migrated database with sources about the topics the lists below name."""
    schema.upgrade(url)
    with db.session_scope(url) as session:
        add_source(session, "https://city.example.org/feed", topics=["city", "harbour"])
        add_source(session, "https://arts.example.org/feed", topics=["arts"])
    return url


def run_import(url: str, text: str, **kwargs: object) -> importing.ImportResult:
    return importing.import_csv(lambda: db.session_scope(url), io.StringIO(text), **kwargs)  # type: ignore[arg-type]  # keyword arguments from a dict


def export(url: str) -> str:
    out = io.StringIO()
    with db.session_scope(url) as session:
        importing.export_csv(session, out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ("not-an-address,,,,,,,,", "not a valid email address"),
        ("d@example.org,,maybe,,,,,,", "status: must be one of"),
        ("d@example.org,,,hourly,,,,,", "frequency: must be one of"),
        ("d@example.org,,,weekly,someday,,,,", "weekday: must be one of"),
        ("d@example.org,,,monthly,,31,,,", "day_of_month: must be 1-28 or last"),
        ("d@example.org,,,monthly,,0,,,", "day_of_month"),
        ("d@example.org,,,,,,24,,", "hour: must be"),
        ("d@example.org,,,,,,seven,,", "hour: must be"),
        ("d@example.org,,,,,,,Mars/Olympus,", "timezone: unknown time zone"),
        ("d@example.org,,,,,,,,,extra", "10 fields, but the header names 9"),
    ],
)
def test_a_bad_row_is_refused_with_its_line_and_the_others_imported(
    url: str, row: str, words: str
) -> None:
    result = run_import(url, HEADER + GOOD + row + "\n")
    assert (result.imported, result.updated, result.unchanged) == (3, 0, 0)
    [error] = result.errors
    assert error.line == 5 and words in error.error
    assert "d@example.org" not in export(url)


def test_an_address_twice_is_refused_on_its_later_line(url: str) -> None:
    text = HEADER + GOOD + "\n" + "Cy@Example.org,Someone Else,,,,,,,\n"  # blank line 5
    result = run_import(url, text)
    assert [(e.line, e.email) for e in result.errors] == [(6, "cy@example.org")]
    assert "already appears on line 4" in result.errors[0].error
    assert result.imported == 3 and "Someone Else" not in export(url)


def test_a_quoted_field_over_two_lines_keeps_the_next_line_numbers(url: str) -> None:
    text = HEADER + 'ana@example.org,"Ana\nLind",,,,,,,\n' + "bad,,,,,,,,\n"
    result = run_import(url, text)
    assert [e.line for e in result.errors] == [4]


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("name,hour\n", "the header has no email column"),
        ("email,mail\n", "unknown column 'mail'"),
        ("email,hour,Hour\n", "the column 'hour' appears twice"),
        ("", "the file is empty"),
    ],
)
def test_a_wrong_header_imports_nothing(url: str, header: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words) as caught:
        run_import(url, header + "ana@example.org,7\n" if header else "")
    assert str(caught.value).startswith("line 1:")
    assert export(url) == HEADER


def test_columns_in_any_order_and_defaults_for_the_rest(url: str) -> None:
    result = run_import(url, "Timezone,EMAIL\nEurope/Berlin,ana@example.org\n")
    assert result.imported == 1 and not result.errors
    assert export(url) == HEADER + "ana@example.org,,confirmed,daily,monday,1,7,Europe/Berlin,\n"


def test_a_second_import_changes_nothing_and_a_changed_row_updates(url: str) -> None:
    first = run_import(url, HEADER + GOOD)
    assert (first.imported, first.updated, first.unchanged, first.errors) == (3, 0, 0, [])
    before = export(url)
    again = run_import(url, HEADER + GOOD)
    assert (again.imported, again.updated, again.unchanged, again.errors) == (0, 0, 3, [])
    assert export(url) == before
    changed = run_import(url, HEADER + "ana@example.org,,,,,,9,,harbour\n")
    assert (changed.imported, changed.updated, changed.unchanged) == (0, 1, 0)
    assert "ana@example.org,Ana Lind,confirmed,weekly,friday,1,9,Europe/Berlin,harbour" in export(
        url
    )


def test_export_then_import_round_trips_into_an_empty_database(
    url: str, tmp_path: Path, database_url: str
) -> None:
    run_import(url, HEADER + GOOD + "dee@example.org,Dee,unsubscribed,daily,,,23,UTC,arts\n")
    text = export(url)
    assert text.startswith(HEADER) and text.count("\n") == 5
    other = f"sqlite:///{tmp_path / 'other.db'}"
    install(other)
    result = run_import(other, text)
    assert (result.imported, result.errors) == (4, [])
    assert export(other) == text
    # And back into the first: nothing changes, nothing is refused.
    assert run_import(url, text).unchanged == 4


def test_a_suppressed_address_is_refused_unless_the_row_says_it_is_suppressed(
    url: str,
) -> None:
    with db.session_scope(url) as session:
        left = add_subscriber(session, "gone@example.org", name="Gone", confirmed=True)
        unsubscribe(session, left.id)
        left.unsubscribed_at = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
    before = export(url)
    result = run_import(url, HEADER + "gone@example.org,,confirmed,,,,,,\n")
    [error] = result.errors
    assert error.line == 2 and error.email == "gone@example.org"
    assert "unsubscribed on 2026-03-14" in error.error and "only its owner" in error.error
    assert run_import(url, HEADER + "gone@example.org,,pending,,,,,,\n").errors
    # A row that does not say the address left is refused too, with its line and reason:
    # an old list may not rename or reschedule someone who unsubscribed.
    blank = run_import(
        url, HEADER + "cy@example.org,Cy,,,,,,,\n" + "gone@example.org,Greta,,weekly,,,9,,\n"
    )
    assert (blank.imported, blank.updated, blank.unchanged) == (1, 0, 0)
    [error] = blank.errors
    assert error.line == 3 and "unsubscribed on 2026-03-14" in error.error
    assert export(url).startswith(before)  # gone's row as it was, cy's added after it
    # A suppression list imports as it is: the row that agrees is taken, then "unchanged".
    agrees = run_import(url, HEADER + "gone@example.org,Gone,unsubscribed,,,,,,\n")
    assert (agrees.updated, agrees.unchanged, agrees.errors) == (0, 1, [])
    with db.session_scope(url) as session:
        sub = session.query(Subscriber).filter_by(email="gone@example.org").one()
        assert (sub.status, sub.name) == (SubscriberStatus.UNSUBSCRIBED, "Gone")


def test_statuses_change_as_the_file_says_except_confirmed_to_pending(url: str) -> None:
    run_import(url, HEADER + GOOD)  # ana confirmed, bo pending
    result = run_import(
        url, HEADER + "ana@example.org,,pending,,,,,,\nbo@example.org,,confirmed,,,,,,\n"
    )
    assert (result.updated, result.unchanged) == (1, 1)
    left = run_import(url, HEADER + "ana@example.org,,unsubscribed,,,,,,\n")
    assert left.updated == 1
    lines = export(url).splitlines()
    assert lines[1].split(",")[2] == "unsubscribed" and lines[2].split(",")[2] == "confirmed"


def test_batches_and_topics_shared_across_them(url: str) -> None:
    rows = "".join(f"p{i}@example.org,,,,,,,,city|arts\n" for i in range(25))
    result = run_import(url, HEADER + rows + "bad,,,,,,,,\n", batch_size=4)
    assert result.imported == 25 and [e.line for e in result.errors] == [27]
    assert export(url).count("arts|city") == 25


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DIGEST_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "digest", "subscribers", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_the_cli_imports_prints_json_exits_1_on_refusals_and_exports(
    url: str, tmp_path: Path
) -> None:
    path = tmp_path / "list.csv"
    path.write_text("\ufeff" + HEADER + GOOD + "x@,,,,,,,,\n", encoding="utf-8")
    done = cli(url, "import", str(path), "--json")
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    assert summary["imported"] == 3 and summary["errors"][0]["line"] == 5
    path.write_text(HEADER + GOOD, encoding="utf-8")
    clean = cli(url, "import", str(path))
    assert clean.returncode == 0 and "unchanged" in clean.stdout
    out = tmp_path / "out.csv"
    assert cli(url, "export", "--output", str(out)).returncode == 0
    assert out.read_text(encoding="utf-8") == cli(url, "export").stdout
    listed = json.loads(cli(url, "list", "--json").stdout)
    assert set(importing.COLUMNS) <= set(listed[0])
    missing = cli(url, "import", str(tmp_path / "nope.csv"))
    assert missing.returncode == 1 and "no such file" in missing.stderr
    latin = tmp_path / "latin.csv"
    latin.write_bytes((HEADER + "zoe@example.org,Zoë,,,,,,,\n").encode("latin-1"))
    bad = cli(url, "import", str(latin))
    assert bad.returncode == 1 and "not UTF-8" in bad.stderr


def test_a_bounced_address_is_suppressed_like_an_unsubscribed_one(url: str) -> None:
    with db.session_scope(url) as session:
        add_subscriber(
            session, "hard@example.org", confirmed=True
        ).status = SubscriberStatus.BOUNCED
    [error] = run_import(url, HEADER + "hard@example.org,,confirmed,,,,,,\n").errors
    assert "bounced" in error.error and "only its owner" in error.error
    [error] = run_import(url, HEADER + "hard@example.org,Hal,,,,,,,\n").errors
    assert error.line == 2 and "bounced" in error.error
    # A suppression list from elsewhere comes in as it is, and nothing re-subscribes it.
    result = run_import(url, HEADER + "new-bounce@example.org,,bounced,,,,,,\n")
    assert (result.imported, result.errors) == (1, [])
    assert run_import(url, HEADER + "new-bounce@example.org,,pending,,,,,,\n").errors
    with db.session_scope(url) as session:
        statuses = {s.email: s.status for s in session.query(Subscriber)}
    assert statuses == {
        "hard@example.org": SubscriberStatus.BOUNCED,
        "new-bounce@example.org": SubscriberStatus.BOUNCED,
    }


def test_send_confirmations_mails_the_pending_rows_only(url: str, tmp_path: Path, smtp) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    sink, smtp_url = smtp
    path = tmp_path / "list.csv"
    path.write_text(
        HEADER
        + "wait@example.org,Wren,pending,,,,,,\n"
        + "sure@example.org,Sol,confirmed,,,,,,\n"
        + "later@example.org,,pending,weekly,friday,,9,Europe/Oslo,\n",
        encoding="utf-8",
    )
    env = {"DIGEST_SMTP_URL": smtp_url, "DIGEST_BASE_URL": "https://news.example.org"}
    done = cli_env(url, env, "import", str(path), "--send-confirmations", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["confirmations"] == 2
    received = {m["To"].addresses[0].addr_spec: m for m in sink.wait_for(2)}
    assert sorted(received) == ["later@example.org", "wait@example.org"]
    body = received["wait@example.org"].get_body(("plain",)).get_content()
    assert "https://news.example.org/confirm/" in body
    # A second run of the same file changes nothing, and asks the still pending again.
    again = json.loads(
        cli_env(url, env, "import", str(path), "--send-confirmations", "--json").stdout
    )
    assert (again["unchanged"], again["confirmations"]) == (3, 2)
    assert len(sink.wait_for(4)) == 4


def cli_env(url: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", "subscribers", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DIGEST_DATABASE_URL": url, **env},
        timeout=120,
    )


def test_a_name_that_is_a_formula_is_exported_as_text_and_imports_back_unchanged(
    url: str, tmp_path: Path
) -> None:
    # A public sign-up can choose its own name: nothing in it may run in a spreadsheet.
    formula = "=cmd|'/C calc'!A0"
    with db.session_scope(url) as session:
        add_subscriber(session, "-dash@example.org", name=formula, confirmed=True)
        add_subscriber(session, "plain@example.org", name="@home +1", confirmed=True)
    text = export(url)
    rows = {line.split(",")[0]: line for line in text.splitlines()[1:]}
    assert rows["'-dash@example.org"].split(",", 1)[1].startswith("'=cmd|")
    assert ",'@home +1," in rows["plain@example.org"]
    assert not any(
        cell.startswith(("=", "+", "-", "@")) for r in rows.values() for cell in r.split(",")
    )
    other = f"sqlite:///{tmp_path / 'other.db'}"
    install(other)
    assert run_import(other, text).imported == 2
    with db.session_scope(other) as session:
        names = {s.email: s.name for s in session.query(Subscriber)}
    assert names == {"-dash@example.org": formula, "plain@example.org": "@home +1"}
    assert export(other) == text


def test_a_topic_no_source_has_refuses_its_row_naming_the_topics_there_are(url: str) -> None:
    # Nothing would ever reach that subscriber through it: "Nothing new" forever.
    result = run_import(
        url, HEADER + "ann@example.org,,,,,,,,city\n" + "bo@example.org,,,,,,,,city|Sports\n"
    )
    assert result.imported == 1
    [error] = result.errors
    assert (error.line, error.email) == (3, "bo@example.org")
    assert (
        error.error
        == "topics: no source has the topic 'sports'; the topics are: arts, city, harbour"
    )
    # Asked for, the topic is made.
    made = run_import(url, HEADER + "bo@example.org,,,,,,,,city|Sports\n", new_topics=True)
    assert (made.imported, made.errors) == (1, [])
