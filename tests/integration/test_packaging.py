"""The wheel carries the templates: an installed (non-editable) `digest` finds them without
DIGEST_TEMPLATES_DIR. Built from the files the Dockerfile copies, nothing else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from digest.render import default_templates_dir

ROOT = Path(__file__).resolve().parents[2]
# What the Dockerfile copies into /src before `pip install .`.
BUILD_INPUTS = ["pyproject.toml", "setup.py", "README.md", "digest", "workers", "templates"]
TEMPLATES = [
    "email/digest.html",
    "email/digest.txt",
    "web/base.html",
    "web/message.html",
    "web/preferences.html",
    "web/unsubscribe.html",
]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = out.glob("digest-*.whl")
    return built


def test_the_wheel_contains_the_templates_in_the_package(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in TEMPLATES:
        assert f"digest/templates/{template}" in names
    # The rest of the package is still there.
    assert {
        "digest/cli/__init__.py",
        "workers/tasks.py",
        "digest/store/migrations/env.py",
        "digest/store/migrations/manifest.txt",
    } <= names
    assert not any(name.startswith("templates/") for name in names)


def test_an_installed_copy_finds_its_templates(wheel: Path, tmp_path: Path) -> None:
    # A pure-Python wheel installs by unpacking it into site-packages; a folder on
    # PYTHONPATH, away from the source checkout, stands in for one.
    site = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(site)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    environ["PYTHONPATH"] = str(site)
    probe = (
        "import digest, digest.config as c, digest.render.edition as r;"
        "d = c.Settings().templates_dir;"
        "r.environment(d).get_template('email/digest.html');"
        "print(digest.__file__); print(d)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    module, templates = result.stdout.splitlines()
    assert Path(module).is_relative_to(site)
    assert Path(templates) == site / "digest" / "templates"


def test_a_source_checkout_uses_the_top_level_templates() -> None:
    # The editable install (`make test`) and a plain checkout on PYTHONPATH.
    assert default_templates_dir() == ROOT / "templates"
