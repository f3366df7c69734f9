"""The shape the project promises: the core knows no queue, and beat only enqueues known tasks."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The faces: the only modules of digest/ that may hand work to the workers.
FACES = ("digest/cli/", "digest/web/")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_faces_import_celery_or_workers() -> None:
    # digest/dispatch.py included: it picks a dispatcher, the faces hand in the workers'.
    offenders = []
    for path in sorted((ROOT / "digest").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(FACES):
            continue
        if imported_modules(path) & {"celery", "kombu", "workers"}:
            offenders.append(relative)
    assert offenders == []


def test_the_faces_do_reach_the_workers_and_not_celery_itself() -> None:
    # Guards the test above against passing because it looks at nothing.
    for face in (ROOT / "digest" / "cli" / "app.py", ROOT / "digest" / "web" / "public.py"):
        assert "workers" in imported_modules(face)
        assert "celery" not in imported_modules(face)  # only through workers/


def test_beat_schedule_enqueues_registered_tasks_at_the_promised_rates() -> None:
    from celery.schedules import crontab

    from workers import app

    app.loader.import_default_modules()  # what a worker does at start: loads workers.tasks
    schedule = app.conf.beat_schedule
    tasks = {entry["task"]: entry["schedule"] for entry in schedule.values()}
    assert set(tasks) == {
        "digest.gather_all",
        "digest.dispatch_due",
        "digest.sweep",
        "digest.prune",
    }
    assert set(tasks) <= set(app.tasks)
    assert tasks["digest.gather_all"] == crontab(minute="*/15")
    assert tasks["digest.dispatch_due"] == crontab()
    assert tasks["digest.sweep"] == crontab()
    assert tasks["digest.prune"] == crontab(minute=17, hour=3)  # once a day
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
