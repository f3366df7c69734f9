"""The `digest` command's Typer apps, the options its commands share, how a command gets
its settings, its dispatcher and its rows, and how it ends: the exit status of an error
of `digest.errors` follows its type.

The commands themselves are in one module per area (digest/cli/<area>.py); importing
the package registers them on these apps.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from digest import wiring
from digest.cli.output import Column, print_error_lines, show, warn
from digest.config import Settings, get_settings
from digest.errors import DigestError
from digest.runtime import dispatch
from digest.services import database
from digest.services.transaction import run as in_transaction

app = typer.Typer(
    help="Self-hosted newsletter digests.", no_args_is_help=True, add_completion=False
)
sources_app = typer.Typer(
    help="Manage sources (feeds, article pages, section pages).", no_args_is_help=True
)
articles_app = typer.Typer(help="The articles gathered.", no_args_is_help=True)
subscribers_app = typer.Typer(help="Manage subscribers.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema: migrations.", no_args_is_help=True)
bounces_app = typer.Typer(help="Bounces: read delivery status notifications.", no_args_is_help=True)
sends_app = typer.Typer(help="Sends: counts, errors, resume, cancel.", no_args_is_help=True)
admins_app = typer.Typer(help="Admin users of /admin and their API tokens.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Outgoing webhooks: events POSTed, signed.", no_args_is_help=True)
app.add_typer(admins_app, name="admins")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(bounces_app, name="bounces")
app.add_typer(sends_app, name="sends")
app.add_typer(sources_app, name="sources")
app.add_typer(articles_app, name="articles")
app.add_typer(subscribers_app, name="subscribers")
app.add_typer(db_app, name="db")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def load_settings(
    *,
    migrate: bool = False,
    templates: bool = False,
    say: Callable[[str], None] | None = None,
) -> Settings:
    """The settings, with their warnings printed; the schema created or upgraded with
    `migrate` (init and run), else checked: an old schema asks for `digest init`. With
    `templates` (the commands that start something), a broken template is named here
    rather than when a digest is sent. `say` is told each step before it is taken (a
    server that takes seconds to listen says what it is doing meanwhile)."""
    settings = get_settings()
    for warning in settings.warnings():
        warn(warning)
    if templates:
        from digest.render.edition import check_templates  # Jinja2: only when rendering

        if say:
            say(f"checking the templates ({settings.templates_dir or 'installed'})")
        check_templates(settings.templates_dir, wiring.mailing(settings))
    if say:
        say("checking the database schema" + (" and upgrading it" if migrate else ""))
    database.prepare(settings, migrate=migrate)
    return settings


def make_dispatcher(settings: Settings, *, check_now: bool = False) -> dispatch.Dispatcher:
    """Where the work runs. With `check_now` (a command about to send or gather), the
    broker is checked on a thread while this process plans."""

    def workers(
        settings: Settings, on_warning: Callable[[str], None] | None
    ) -> dispatch.Dispatcher:
        # Imported only with a broker configured: Celery costs every command time to import.
        from workers.dispatch import CeleryDispatcher

        return CeleryDispatcher(settings, on_warning, check_now=check_now)

    return dispatch.dispatcher_for(settings, workers=workers, on_warning=warn)


def show_rows(
    rows_of: Callable[[Any], Sequence[dict[str, Any]]],  # a service function of a session
    columns: Sequence[Column],
    as_json: bool,
) -> None:
    """Read rows in one transaction of the configured database and show them (see show)."""
    settings = load_settings()
    show(in_transaction(settings, rows_of), columns, as_json)


# The exit status of a command stopped by an error of digest.errors: that of the first
# type here the error is an instance of. Each is 1 (2 is a usage error, from Typer).
EXIT_STATUS: tuple[tuple[type[DigestError], int], ...] = ((DigestError, 1),)


def exit_status(exc: DigestError) -> int:
    return next(status for kind, status in EXIT_STATUS if isinstance(exc, kind))


def main() -> None:
    code: int | str | None = 0
    try:
        app()
    except DigestError as exc:
        print_error_lines(str(exc) or type(exc).__name__)
        code = exit_status(exc)
    except SystemExit as exc:  # how every command ends, with its status
        code = exc.code
    _end(code)


def _end(code: int | str | None) -> None:
    """Flush what was printed and leave without tearing the interpreter down.

    Every command's work is done and written by now (files closed, transactions
    committed, child processes joined); the database connections are closed here; what
    remains is freeing some 900 modules, which takes 0.1-0.3 s and changes nothing. An
    unexpected exception does not come here: it ends as Python ends, with its traceback.
    """
    if isinstance(code, str):  # sys.exit("message")
        print(code, file=sys.stderr)
        code = 1
    database.close_all()  # what the interpreter's teardown did: SQLite folds its log back in
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (`digest ... | head`) has nothing more to say.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    if sys.getprofile() is not None or sys.gettrace() is not None:
        # A profiler or a coverage tracer writes its figures as the interpreter ends.
        raise SystemExit(code or 0)
    os._exit(code or 0)
