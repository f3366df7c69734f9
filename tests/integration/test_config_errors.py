"""Configuration mistakes, tried the way a new user makes them: the real `digest` command
prints one line naming the setting, no traceback, and exits non-zero."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from smtp_sink import free_port

ROOT = Path(__file__).resolve().parents[2]
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    environ.update(PYTHONPATH=str(ROOT), COLUMNS="80")

    def digest(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "digest", *args],
            cwd=tmp_path,
            env={**environ, **settings},
            capture_output=True,
            text=True,
            timeout=60,
        )

    return digest


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The stderr lines, after checking the run failed briefly and without a traceback."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    # Celery warns about running as root before the worker fails; that is not ours.
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines, result.stderr
    assert len(result.stderr.splitlines()) <= 10, result.stderr
    return lines


def only_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "command", [["sources", "list"], ["init"], ["send", "--now"], ["serve", "--port", "0"]]
)
def test_a_database_in_a_missing_folder(run: Run, command: list[str]) -> None:
    line = only_error(run(*command, DIGEST_DATABASE_URL="sqlite:///no/such/dir/x.db"))
    assert line == (
        "error: DIGEST_DATABASE_URL: cannot open the SQLite database "
        "sqlite:///no/such/dir/x.db: the folder no/such/dir does not exist"
    )


def test_a_file_that_is_not_a_database(run: Run, tmp_path: Path) -> None:
    (tmp_path / "digest.db").write_text("these are my notes, not a database\n" * 200)
    line = only_error(run("sources", "list", DIGEST_DATABASE_URL="sqlite:///digest.db"))
    assert line == (
        "error: DIGEST_DATABASE_URL: cannot open the SQLite database sqlite:///digest.db: "
        "the file digest.db is not an SQLite database"
    )


def test_a_folder_where_the_database_should_be(run: Run, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    line = only_error(run("sources", "list", DIGEST_DATABASE_URL="sqlite:///data"))
    assert line.startswith("error: DIGEST_DATABASE_URL: cannot open the SQLite database")
    assert "data is a folder" in line


def test_an_unreachable_postgresql(run: Run) -> None:
    url = f"postgresql+psycopg://digest:hunter2@127.0.0.1:{free_port()}/digest"
    line = only_error(run("sources", "list", DIGEST_DATABASE_URL=url))
    assert line.startswith("error: DIGEST_DATABASE_URL: ")
    assert "hunter2" not in line
    assert "digest:***@127.0.0.1" in line
    try:
        import psycopg  # noqa: F401
    except ImportError:
        assert "driver" in line and "is not installed" in line
    else:
        assert "cannot connect to the database" in line
        assert "Connection refused" in line


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql+nosuchdriver://u@h/x", "unknown database type 'mysql+nosuchdriver'"),
        ("ftp://example.org/x", "unknown database type 'ftp'"),
        ("just-a-name", "'just-a-name' is not a database URL"),
    ],
)
def test_a_database_url_of_the_wrong_kind(run: Run, url: str, message: str) -> None:
    line = only_error(run("sources", "list", DIGEST_DATABASE_URL=url))
    assert line.startswith("error: DIGEST_DATABASE_URL: ")
    assert message in line


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("smtp://host:notaport", "'smtp://host:notaport' has a port that is not a number"),
        ("smtp://host:70000", "has a port that is not a number from 1 to 65535"),
        ("http://user:s3cret@host", "must start with smtp://, smtp+starttls:// or smtps://"),
        ("smtp://", "'smtp://' has no host"),
    ],
)
def test_a_bad_smtp_url(run: Run, url: str, message: str) -> None:
    line = only_error(run("send", "--now", DIGEST_SMTP_URL=url))
    assert line.startswith("error: DIGEST_SMTP_URL: ")
    assert message in line
    assert "s3cret" not in line


def test_a_bad_broker_url(run: Run) -> None:
    line = only_error(run("gather", DIGEST_BROKER_URL="amqp://guest:s3cret@rabbit//"))
    assert line == (
        "error: DIGEST_BROKER_URL: must start with redis:// or rediss:// (Celery with Redis), "
        "not 'amqp://guest:***@rabbit//'"
    )


def test_a_bad_number(run: Run) -> None:
    line = only_error(run("sources", "list", DIGEST_MAX_ARTICLES="abc"))
    assert line.startswith("error: DIGEST_MAX_ARTICLES: input should be a valid integer")
    assert "'abc'" in line


def test_every_bad_setting_gets_its_own_line(run: Run) -> None:
    lines = error_lines(
        run(
            "sources",
            "list",
            DIGEST_FETCH_TIMEOUT="soon",
            DIGEST_SMTP_URL="smtp://host:port",
        )
    )
    assert [line.split(":")[1].strip() for line in lines] == [
        "DIGEST_SMTP_URL",
        "DIGEST_FETCH_TIMEOUT",
    ]


def test_a_worker_without_its_database_does_not_start(run: Run) -> None:
    # The broker is not reached: the worker checks its database before connecting.
    line = only_error(
        run(
            "worker",
            "--without-gossip",
            "--without-mingle",
            DIGEST_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0",
            DIGEST_DATABASE_URL="sqlite:///no/such/dir/x.db",
        )
    )
    assert line.startswith("error: DIGEST_DATABASE_URL: cannot open the SQLite database")


def test_init_writes_a_random_secret_key_once_and_later_commands_use_it(
    run: Run, tmp_path: Path
) -> None:
    first = run("init")
    assert first.returncode == 0, first.stderr
    env = tmp_path / ".env"
    assert f"Wrote a new random DIGEST_SECRET_KEY to {env}" in first.stdout.replace("\n", "")
    key = next(
        line.partition("=")[2]
        for line in env.read_text().splitlines()
        if line.startswith("DIGEST_SECRET_KEY=")
    )
    assert len(key) >= 48 and key != "change-me-in-production"
    again = run("init")
    assert again.returncode == 0 and "Wrote" not in again.stdout
    assert env.read_text().count("DIGEST_SECRET_KEY=") == 1
    # The key is what the settings read from now on: public links no longer warn.
    checked = run("check", "--json", DIGEST_BASE_URL="https://news.example.org")
    assert "DIGEST_SECRET_KEY is the default" not in checked.stdout


def test_serve_refuses_the_default_secret_key_beyond_loopback(run: Run) -> None:
    assert run("init", DIGEST_SECRET_KEY="change-me-in-production").returncode == 0
    line = only_error(
        run(
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
            DIGEST_SECRET_KEY="change-me-in-production",
        )
    )
    assert line.startswith("error: DIGEST_SECRET_KEY is the default")
    assert "served on 0.0.0.0" in line and "sign in to the admin" in line
    public = only_error(
        run(
            "serve",
            "--port",
            str(free_port()),
            DIGEST_SECRET_KEY="change-me-in-production",
            DIGEST_BASE_URL="https://news.example.org",
        )
    )
    assert "DIGEST_BASE_URL is https://news.example.org" in public


def test_check_for_production_names_the_default_key_and_local_links_as_errors(
    run: Run,
) -> None:
    assert run("init", DIGEST_SECRET_KEY="change-me-in-production").returncode == 0
    laptop = run("check", "--json", DIGEST_SECRET_KEY="change-me-in-production")
    assert laptop.returncode == 0, laptop.stdout
    production = run("check", "--json", "--production", DIGEST_SECRET_KEY="change-me-in-production")
    assert production.returncode == 1
    import json

    found = {c["name"]: c["status"] for c in json.loads(production.stdout)}
    assert found["secret key"] == "error" and found["base url"] == "error"
