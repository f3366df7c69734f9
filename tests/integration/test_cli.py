"""The `digest` command as a user runs it: its own process, no broker, mail to the outbox."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from digest.runtime.samples import serve_samples
from digest.store.schema import upgrade

ROOT = Path(__file__).resolve().parents[2]
Run = Callable[..., subprocess.CompletedProcess[str]]


def runner(tmp_path: Path, database_url: str) -> Run:
    """`digest ARGS` in its own process against this database, as it is (not migrated)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    environ.update(
        PYTHONPATH=str(ROOT),
        COLUMNS="200",
        DIGEST_LIST_NAME="Test Digest",
        DIGEST_DATABASE_URL=database_url,
        # The samples have fixed publication dates: a first digest reaches back to them.
        DIGEST_FIRST_DIGEST_DAYS="100000",
        DIGEST_FETCH_ALLOW_NETWORKS=os.environ["DIGEST_FETCH_ALLOW_NETWORKS"],  # loopback
    )

    def digest(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "digest", *args],
            cwd=tmp_path,
            env={**environ, **extra_env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    return digest


@pytest.fixture
def run(tmp_path: Path, database_url: str) -> Run:
    upgrade(database_url)  # `digest init` of this deployment
    return runner(tmp_path, database_url)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sources", "add", "ftp://example.org/feed"], "must be an http:// or https:// URL"),
        (["sources", "add", "file:///etc/passwd"], "must be an http:// or https:// URL"),
        (["subscribers", "add", "not-an-address"], "is not a valid email address"),
        (["subscribers", "add", "a@example.org", "--tz", "Mars/Olympus"], "unknown time zone"),
        (["send", "--to", "a@example.org"], "use it with --now"),
        (["send", "--now", "--to", "nobody@example.org"], "no subscriber nobody@example.org"),
    ],
)
def test_bad_input_gets_a_clear_error_without_a_traceback(
    run: Run, args: list[str], message: str
) -> None:
    result = run(*args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_an_unreachable_broker_is_named_without_a_traceback(run: Run) -> None:
    result = run("gather", DIGEST_BROKER_URL="redis://127.0.0.1:9/0")
    assert result.returncode == 1
    assert "cannot reach the broker at redis://127.0.0.1:9/0" in result.stderr
    assert "Traceback" not in result.stderr


def test_duplicate_subscriber_is_refused_and_the_first_kept(run: Run) -> None:
    assert (
        run("subscribers", "add", "Ana@Example.org", "--name", "Ana", "--confirmed").returncode == 0
    )
    again = run("subscribers", "add", "ana@example.org")
    assert again.returncode == 1 and "already a subscriber" in again.stderr
    (only,) = json.loads(run("subscribers", "list", "--json").stdout)
    assert only["email"] == "ana@example.org" and only["status"] == "confirmed"


def test_main_job_on_the_samples_writes_the_outbox_and_a_preview(run: Run, tmp_path: Path) -> None:
    result = run("run", "--samples")
    assert result.returncode == 0, result.stderr
    assert "new articles" in result.stdout and "18" in result.stdout
    emls = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(emls) == 3
    preview = tmp_path / "outbox" / "preview.html"
    assert preview.stat().st_size > 0 and str(preview) in result.stdout.replace("\n", "")
    msg = message_from_bytes(emls[0].read_bytes(), policy=default)
    assert msg["Subject"].startswith("Test Digest, ")
    # The second run finds nothing new and mails nobody again.
    second = run("run", "--samples")
    assert second.returncode == 0 and "nothing new for" in second.stdout
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3


def test_lists_gather_preview_and_dry_run(run: Run, tmp_path: Path) -> None:
    with serve_samples() as base:
        assert (
            run("sources", "add", f"{base}/harbour-log.atom", "--topic", "Harbour").returncode == 0
        )
        assert run("sources", "add", f"{base}/missing.xml", "--name", "Gone").returncode == 0
        gathered = json.loads(run("gather", "--json").stdout)
    assert [g["new"] for g in gathered] == [5, 0]
    assert "404" in gathered[1]["error"]
    sources = json.loads(run("sources", "list", "--json").stdout)
    assert sources[0]["topics"] == ["harbour"] and sources[0]["articles"] == 5
    assert sources[0]["name"] == "Harwick Harbour Log"  # unnamed: takes the feed's title
    assert "404" in sources[1]["last_error"]
    table = run("sources", "list").stdout
    assert "Gone" in table and "404" in table

    run("subscribers", "add", "sam@example.org", "--confirmed", "--frequency", "weekly")
    out = tmp_path / "p.html"
    # Two shown, newest first; the other three are counted.
    preview = run(
        "preview", "--subscriber", "sam@example.org", "--output", str(out), "--text",
        DIGEST_MAX_ARTICLES="2",
    )  # fmt: skip
    assert preview.returncode == 0 and "And 3 more articles" in preview.stdout
    assert re.search(r"Subject: Test Digest, .*: Survey vessel maps the channel", preview.stdout)
    assert "<html" in out.read_text()
    dry = run("send", "--now", "--dry-run")
    assert dry.returncode == 0 and "sam@example.org" in dry.stdout
    assert not (tmp_path / "outbox").exists()

    assert run("sources", "remove", "2").returncode == 0
    assert run("subscribers", "remove", "sam@example.org").returncode == 0
    assert [s["name"] for s in json.loads(run("sources", "list", "--json").stdout)] == [
        "Harwick Harbour Log"
    ]
    assert json.loads(run("subscribers", "list", "--json").stdout) == []
    gone = run("sources", "remove", "2")
    assert gone.returncode == 1 and "no source 2" in gone.stderr


def test_only_init_and_run_migrate_the_others_ask_for_init(
    tmp_path: Path, database_url: str
) -> None:
    run = runner(tmp_path, database_url)  # on the empty database, no `digest init` yet
    for args in (["sources", "list"], ["send", "--now"], ["preview"], ["serve"], ["worker"]):
        env = {"DIGEST_BROKER_URL": "redis://127.0.0.1:1/0"} if args == ["worker"] else {}
        result = run(*args, **env)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "run `digest init`" in result.stderr and "Traceback" not in result.stderr
        # One line, wrapped, after the steps `serve` announces.
        error = [
            line
            for line in result.stderr.strip().splitlines()
            if not line.startswith("digest serve: ")
        ]
        assert len(error) <= 2, result.stderr
    assert run("init").returncode == 0
    listed = run("sources", "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []


def test_a_command_leaves_the_sqlite_file_whole_and_its_output_flushed(tmp_path: Path) -> None:
    # SQLite only: the write-ahead log is a file beside the database. A command ends
    # without the interpreter's teardown, so it must close its connections itself.
    import sqlite3

    path = tmp_path / "digest.db"
    run = runner(tmp_path, f"sqlite:///{path}")
    assert run("init").returncode == 0
    for i in range(3):
        assert run("subscribers", "add", f"r{i}@example.org", "--confirmed").returncode == 0
    listed = run("subscribers", "list", "--json")
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 3
    assert not (tmp_path / "digest.db-wal").exists()
    copy = tmp_path / "copy.db"
    copy.write_bytes(path.read_bytes())  # the file alone, as a backup would take it
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT count(*) FROM subscribers").fetchone() == (3,)
    refused = run("subscribers", "add", "not-an-address")
    assert refused.returncode == 1 and "error:" in refused.stderr


def test_a_command_under_a_profiler_still_writes_its_profile(tmp_path: Path) -> None:
    # A command skips the interpreter's teardown, but not when a profiler or a coverage
    # tracer is on: they write their figures as the interpreter ends.
    import pstats

    run = runner(tmp_path, f"sqlite:///{tmp_path / 'digest.db'}")
    assert run("init").returncode == 0
    profile = tmp_path / "list.prof"
    result = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "digest", "sources", "list"],
        cwd=tmp_path,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")},
            "PYTHONPATH": str(ROOT),
            "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'digest.db'}",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    functions = {name for _, _, name in pstats.Stats(str(profile)).stats}  # type: ignore[attr-defined]  # Stats.stats is not in the stubs
    assert "sources_list" in functions


def test_serve_says_what_it_does_before_it_listens(database_url: str, tmp_path: Path) -> None:
    # The template and schema checks take seconds on a slow machine: each is announced.
    import httpx
    from smtp_sink import free_port

    upgrade(database_url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(PYTHONPATH=str(ROOT), DIGEST_DATABASE_URL=database_url, DIGEST_SECRET_KEY="s")
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    steps = [line for line in stderr.splitlines() if line.startswith("digest serve: ")]
    assert [s.split(" (")[0].rstrip("…") for s in steps] == [
        "digest serve: checking the templates",
        "digest serve: checking the database schema",
        "digest serve: loading the web app",
        f"digest serve: opening http://127.0.0.1:{port}",
    ]
