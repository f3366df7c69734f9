"""The database and the configuration: `digest init`, `digest check`, `digest db revision`,
`digest prune`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from digest.cli.app import JsonOption, app, db_app, load_settings
from digest.cli.output import console, print_json, when
from digest.config import get_settings
from digest.core.redact import mask_url
from digest.services import database

if TYPE_CHECKING:
    from digest.pipeline.retention import PruneReport


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


def prune_rows(report: PruneReport) -> list[dict[str, object]]:
    """What a prune folded and deleted (or would), one row per kind of row."""
    planned = (
        "kept for ever"
        if report.delivery_cutoff is None
        else f"planned before {when(report.delivery_cutoff)}"
    )
    seen = (
        "kept for ever"
        if report.article_cutoff is None
        else f"first seen before {when(report.article_cutoff)}"
    )
    rows: list[dict[str, object]] = [
        {"what": f"deliveries {status}", "rows": n, "which": planned}
        for status, n in sorted(report.deliveries.items())
    ]
    rows.append({"what": "deliveries in all", "rows": report.deliveries_folded, "which": planned})
    rows.append({"what": "articles in no edition", "rows": report.articles, "which": seen})
    return rows


@app.command()
def prune(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would go; change nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Fold settled deliveries older than DIGEST_DELIVERY_RETENTION_DAYS into per-send and
    per-edition counts and delete them, and delete articles older than
    DIGEST_ARTICLE_RETENTION_DAYS that no edition holds, in batches of
    DIGEST_PRUNE_BATCH_SIZE rows (`digest run` and beat do it too)."""
    from digest.pipeline.retention import prune as prune_job

    settings = load_settings()
    report = prune_job(settings, dry_run=dry_run)
    if as_json:
        print_json(report.as_dict())
        return
    title = "Would prune" if dry_run else "Pruned"
    table = Table("what", "rows", "which", title=title)
    for row in prune_rows(report):
        table.add_row(Text(str(row["what"])), Text(str(row["rows"])), Text(str(row["which"])))
    console.print(table)
    left = "would be left" if dry_run else "left"
    console.print(
        f"deliveries {left}: {report.deliveries_left}, articles {left}: {report.articles_left}",
        markup=False,
    )
