"""docker-compose.yml: against the Compose Specification (offline, the schema check-jsonschema
ships), every digest service runs a real `digest` command, and every DIGEST_ variable it
sets is a setting the project reads."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from typer.main import get_command

from digest.cli import app
from digest.config import env_names

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def services() -> dict[str, dict]:  # type: ignore[type-arg]  # a bare generic
    # ruamel.yaml comes with check-jsonschema; it resolves the file's `<<: *common` merges.
    return YAML(typ="safe").load(COMPOSE.read_text())["services"]  # type: ignore[no-any-return]  # YAML gives Any


def digest_services() -> dict[str, dict]:  # type: ignore[type-arg]  # a bare generic
    # Those built from this project's image (the others are redis, postgres, a mail catcher).
    return {name: s for name, s in services().items() if s.get("image") == "digest:latest"}


def test_the_file_follows_the_compose_specification() -> None:
    binary = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert binary, "check-jsonschema is installed with the test extras"
    result = subprocess.run(
        [binary, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def check_command(words: list[str]) -> None:
    """Raise unless `digest WORDS` names a command and its options parse."""
    root: Any = get_command(app)
    command: Any = root
    ctx = root.make_context("digest", ["--help"], resilient_parsing=True)
    while hasattr(command, "get_command") and words and not words[0].startswith("-"):
        sub = command.get_command(ctx, words[0])
        assert sub is not None, f"no command {words[0]!r}"
        command, words = sub, words[1:]
    assert not hasattr(command, "get_command"), "a group, not a command"
    if not command.context_settings.get("ignore_unknown_options"):
        # Parsing the options is the check: an unknown one, or a bad value, raises.
        # (worker and beat hand their options to Celery.)
        command.make_context("digest", words, resilient_parsing=False)


def test_every_digest_service_runs_a_real_command() -> None:
    found = digest_services()
    assert {"migrate", "web", "worker", "beat"} <= set(found)
    for service in found.values():
        check_command(list(service["command"]))


def test_every_variable_it_sets_is_a_setting() -> None:
    known = set(env_names().values())
    for name, service in digest_services().items():
        env = service["environment"]
        assert env, name
        unknown = {key for key in env if key.startswith("DIGEST_")} - known
        assert unknown == set(), f"{name} sets {unknown}, which no setting reads"
        assert all(key.startswith("DIGEST_") for key in env), name


@pytest.mark.parametrize(
    "command", [["serve", "--port", "eighty"], ["sends", "fly"], ["sends"], ["serve", "--tls"]]
)
def test_the_command_check_can_fail(command: list[str]) -> None:
    with pytest.raises(Exception):  # noqa: B017  (an AssertionError or click's usage error)
        check_command(command)
