"""`digest ARGS` run in this process, as `python -m digest ARGS` would run it in its own.

A new process costs half a second or more (a second and more on a loaded machine) before
the command does anything; most command-line tests only need what the command prints and
its exit status. This runs `digest.cli.main` itself, with what a fresh process would have:
the given environment and working directory, the settings read afresh, new consoles
writing to captured streams, stdin from `input`. It ends where the real command ends
(`digest.cli._end`: connections closed, streams flushed), except that the last step, the
process's exit, is turned into a return. An exception that would end the process with a
traceback ends the run with the traceback on stderr and status 1.

Commands that replace or occupy the process (`worker`, `beat`, `serve`) are refused here:
run them as real processes.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

import digest.cli
from digest.config import get_settings
from digest.store import db

OWN_PROCESS = {"worker", "beat", "serve"}


class _Exit(BaseException):
    """The command reached os._exit(code): the end of its process."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class _OsWithoutExit:
    """`os` as digest.cli sees it during a run: the same, but `_exit` returns to the test
    and `exec*` (which would replace the test process) is refused."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("exec"):
            raise AssertionError(f"os.{name} in an in-process run: use a real process")
        return getattr(os, name)

    @staticmethod
    def _exit(code: int) -> None:
        raise _Exit(code)


@contextlib.contextmanager
def _fresh_workers() -> Iterator[None]:
    """The Celery app (workers.celery_app) is configured from the settings when imported,
    as a new process configures it: during the run, `workers` is imported afresh from this
    run's environment; afterwards the modules imported before are back."""

    def ours() -> dict[str, Any]:
        return {k: m for k, m in sys.modules.items() if k == "workers" or k.startswith("workers.")}

    before = ours()
    for name in before:
        del sys.modules[name]
    try:
        yield
    finally:
        during = ours()
        for name in during:
            del sys.modules[name]
        app = getattr(during.get("workers.celery_app"), "app", None)
        if app is not None:
            app.close()
        sys.modules.update(before)


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """os.environ (the same object: consoles and libraries hold it) holding only `env`."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_digest(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `digest ARGS` here; returns what subprocess.run(..., capture_output=True,
    text=True) would for the command in its own process."""
    args = [str(a) for a in args]
    if OWN_PROCESS & set(args[:1]):
        raise AssertionError(f"`digest {args[0]}` needs a process of its own")
    code: int | str | None = 0
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        patch.setattr(sys, "argv", ["digest", *args])
        patch.setattr(digest.cli, "os", _OsWithoutExit())
        runner = CliRunner()
        with (
            _environment(env),
            _fresh_workers(),
            runner.isolation(input=input) as (out, err, _),
        ):
            # What a new process builds on import: consoles on its own (captured) streams,
            # sized and coloured by its environment, and settings read from it.
            patch.setattr(digest.cli, "console", Console())
            patch.setattr(digest.cli, "err", Console(stderr=True))
            get_settings.cache_clear()
            try:
                digest.cli.main()
                code = 0  # main always ends in _end; not reached
            except _Exit as ended:
                code = ended.code
            except SystemExit as ended:  # _end under a profiler or a tracer
                code = ended.code
            except Exception:
                # Uncaught: the process would print it and end (the interpreter's teardown
                # closing its connections).
                sys.stderr.write(traceback.format_exc())
                db.close_all()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                get_settings.cache_clear()
            stdout = out.getvalue().decode()
            stderr = err.getvalue().decode("utf-8", "backslashreplace")
    if isinstance(code, str):
        stderr += code + "\n"
        code = 1
    return subprocess.CompletedProcess(["digest", *args], int(code or 0), stdout, stderr)
