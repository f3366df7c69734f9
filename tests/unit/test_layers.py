"""The layering of docs/architecture.md holds: scripts/check_layers.py finds nothing, and
it does find each kind of break when one is made."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layers", ROOT / "scripts/check_layers.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


check_layers = _checker()


def test_the_project_keeps_its_layers() -> None:
    assert check_layers.problems() == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    # A few modules of each layer for the files under test to import.
    base = ["errors", "core/plan", "render/edition", "mail/a", "store/db", "store/models"]
    present = {f"digest/{name}.py": "" for name in base}
    for name, text in {**present, "workers/__init__.py": "", **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        for parent in path.relative_to(tmp_path).parents:
            init = tmp_path / parent / "__init__.py"
            if parent != Path(".") and not init.exists():
                init.write_text("")
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # a lower layer reaching up, even from inside a function
        (
            {"digest/core/plan.py": "def f():\n    from digest.store import db\n"},
            "core may not import store",
        ),
        # one edge importing another
        ({"digest/mail/a.py": "import digest.render.edition\n"}, "one edge may not import"),
        # SQL outside the store
        ({"digest/services/x.py": "from sqlalchemy import select\n"}, "only digest.store may"),
        # a face reaching past the services into the store
        ({"digest/web/page.py": "from digest.store.models import Source\n"}, "go through"),
        # the queue outside workers/
        ({"digest/pipeline/job.py": "import celery\n"}, "only workers may"),
        # a module nobody placed
        ({"digest/misc.py": "import digest.errors\n"}, "in no layer"),
        # two modules of one layer importing each other, one of them under TYPE_CHECKING
        (
            {
                "digest/services/a.py": "from digest.services import b\n",
                "digest/services/b.py": (
                    "from typing import TYPE_CHECKING\n"
                    "if TYPE_CHECKING:\n    from digest.services import a\n"
                ),
            },
            "import cycle: digest.services.a <-> digest.services.b",
        ),
    ],
)
def test_each_kind_of_break_is_reported(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    found = check_layers.problems(_tree(tmp_path, files))
    assert any(expected in line for line in found), found


def test_a_face_may_hand_work_to_the_workers_dispatcher_only(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "workers/dispatch.py": "",
            "workers/tasks.py": "",
            "digest/cli/app.py": "import workers.dispatch\n",
            "digest/web/x.py": "import workers.tasks\n",
        },
    )
    found = check_layers.problems(root)
    assert not any("digest.cli.app" in line for line in found), found
    assert any("digest.web.x" in line and "workers.tasks" in line for line in found), found
