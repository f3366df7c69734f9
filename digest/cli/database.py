"""The database and the configuration: `digest init`, `digest check`, `digest db revision`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from digest.cli.app import JsonOption, app, db_app, load_settings
from digest.cli.output import console, print_json
from digest.config import get_settings
from digest.core.redact import mask_url
from digest.services import database


@app.command()
def init() -> None:
    """Create the database, or upgrade it to the newest schema. With no DIGEST_SECRET_KEY
    set anywhere, a random one is written into .env first."""
    from digest.runtime.secret_key import ensure_secret_key

    written = ensure_secret_key(Path(".env"))
    if written is not None:
        get_settings.cache_clear()  # read again, with the key
        console.print(f"Wrote a new random DIGEST_SECRET_KEY to {written}", markup=False)
    settings = load_settings(migrate=True, templates=True)
    console.print(f"Database ready: [bold]{escape(mask_url(settings.database_url))}[/]")


CHECK_STYLES = {"ok": "green", "warning": "yellow", "error": "red"}


@app.command()
def check(
    as_json: JsonOption = False,
    production: Annotated[
        bool,
        typer.Option(help="A deployment others use: the default key and local links are errors."),
    ] = False,
) -> None:
    """Try the configuration against what it names (database, broker, each SMTP server,
    the outbox, the DKIM key, the secret key and the public address) without changing
    anything or sending mail; exits 1 on an error."""
    from digest.runtime.checks import run_checks

    settings = get_settings()  # its warnings are among the checks; an old schema is one too
    found = run_checks(settings, production=production)
    if as_json:
        print_json([c.as_dict() for c in found])
    else:
        table = Table("check", "", "detail")
        for c in found:
            table.add_row(
                Text(c.name), Text(c.status, style=CHECK_STYLES[c.status]), Text(c.detail)
            )
        console.print(table)
    if any(c.status == "error" for c in found):
        raise typer.Exit(1)


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("-m", "--message", help="What the change does.")],
) -> None:
    """Write a new migration from the difference between the models and the database."""
    settings = load_settings()
    path = database.new_revision(settings, message)
    console.print(f"Wrote {path}: review it, then `digest init` applies it.", markup=False)
