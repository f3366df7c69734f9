"""Settings: what they accept and how their mistakes are reported."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from digest.config import Settings, describe_validation_error, env_names
from digest.core.redact import mask_url


def test_urls_in_messages_hide_their_password() -> None:
    assert mask_url("smtps://user:p%40ss@mail.example.org:465") == (
        "smtps://user:***@mail.example.org:465"
    )
    assert mask_url("postgresql+psycopg://u:a@b@db/x") == "postgresql+psycopg://u:***@db/x"
    assert mask_url("redis://:secret@redis:6379/0") == "redis://:***@redis:6379/0"
    assert mask_url("smtp://user@host") == "smtp://user@host"
    assert mask_url("sqlite:///digest.db") == "sqlite:///digest.db"


def test_empty_urls_mean_unset() -> None:
    settings = Settings(smtp_url="", broker_url="")
    assert settings.smtp_url is None and settings.broker_url is None


def test_each_bad_setting_is_one_line_naming_its_variable() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        Settings(
            database_url="postgresql+psycopg://u:hunter2@db:notaport/x",
            smtp_url="smtps://u:hunter2@mail.example.org:99999",
            max_articles="many",
        )
    lines = describe_validation_error(info.value)
    assert [line.split(":")[0] for line in lines] == [
        "DIGEST_DATABASE_URL",
        "DIGEST_SMTP_URL",
        "DIGEST_MAX_ARTICLES",
    ]
    assert all("\n" not in line and "hunter2" not in line for line in lines)


def readme_variables() -> set[str]:
    """The variables named in the first column of the README's configuration table."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Configuration", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert len(rows) > 2, "the configuration table is gone"
    names: set[str] = set()
    for row in rows[2:]:  # after the header and the |---| line
        first_cell = row.strip("|").split("|", 1)[0]
        found = re.findall(r"`(DIGEST_[A-Z0-9_]+)`", first_cell)
        assert found, f"a row without a variable: {row}"
        names.update(found)
    return names


def test_the_readme_table_lists_every_setting_and_nothing_else() -> None:
    documented = readme_variables()
    read = set(env_names().values())
    assert read - documented == set(), "settings missing from the README table"
    assert documented - read == set(), "README rows for settings that do not exist"


def test_setting_names_follow_the_prefix_or_the_alias() -> None:
    names = env_names()
    assert names["database_url"] == "DIGEST_DATABASE_URL"
    assert names["from_address"] == "DIGEST_FROM"


def environment_reads(root: Path) -> set[str]:
    """DIGEST_* names the code reads from the environment itself, not through Settings:
    `os.environ.get("X")`, `os.environ["X"]`, `os.getenv("X")`."""
    names: set[str] = set()
    for path in [*root.joinpath("digest").rglob("*.py"), *root.joinpath("workers").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            key: ast.expr | None = None
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                if isinstance(func, ast.Attribute) and (
                    func.attr == "getenv"
                    or (func.attr == "get" and ast.unparse(func.value).endswith("environ"))
                ):
                    key = node.args[0]
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("environ"):
                key = node.slice
            if isinstance(key, ast.Constant) and str(key.value).startswith("DIGEST_"):
                names.add(str(key.value))
    return names


def test_variables_read_outside_the_settings_are_named_in_the_readme() -> None:
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Configuration", 1)[1].split("\n#", 1)[0]
    outside = environment_reads(root) - set(env_names().values())
    assert "DIGEST_NEW_ADMIN_PASSWORD" in outside  # the scan finds what is there
    assert {name for name in outside if f"`{name}`" not in section} == set()
