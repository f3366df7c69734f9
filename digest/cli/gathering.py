"""`digest gather`: every source fetched now, each one's outcome shown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import typer
from rich.markup import escape
from rich.text import Text

from digest.cli.app import JsonOption, app, load_settings, make_dispatcher
from digest.cli.output import Column, err, progress_bar, show
from digest.config import Settings


def _gather_status(row: dict[str, Any]) -> str:
    status = row.get("status", "ok")
    note = f" ({escape(row['note'])})" if row.get("note") else ""
    if status == "failed":
        return f"[red]{escape(row['error'] or 'failed')}[/]"
    if status == "skipped":
        return f"[yellow]skipped[/]{note}"
    if row["error"]:
        return f"[yellow]{escape(row['error'])}[/]{note}"
    if status == "not modified":
        return "not modified"
    full = f", {row['full_text']} with full text" if row.get("full_text") else ""
    return f"[green]ok[/]{full}{note}"


GATHER_COLUMNS = (
    Column("source", lambda r: r["name"]),
    Column("new", lambda r: str(r["new"])),
    Column("seen", lambda r: str(r["seen"])),
    Column("status", _gather_status, markup=True),
)


def say_failed_sources(gathered: Sequence[dict[str, Any]]) -> bool:
    """Name each source that failed on stderr; whether any did."""
    failed = [r for r in gathered if r.get("status") == "failed"]
    for row in failed:
        err.print(
            Text.assemble(
                ("failed:", "red"), f" #{row['source_id']} {row['name']}: {row['error']}"
            ),
            soft_wrap=True,
        )
    return bool(failed)


def gather_sources(settings: Settings) -> list[dict[str, Any]]:
    with progress_bar() as on_progress:
        results = make_dispatcher(settings, check_now=True).gather(on_progress)
    return [asdict(r) for r in results]


@app.command()
def gather(as_json: JsonOption = False) -> None:
    """Fetch every source now and store new articles; exits 1 when a source failed."""
    gathered = gather_sources(load_settings())
    show(gathered, GATHER_COLUMNS, as_json)
    if say_failed_sources(gathered):
        raise typer.Exit(1)
