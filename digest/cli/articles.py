"""`digest articles list`: what gathering stored of each article."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from digest.cli.app import JsonOption, articles_app, load_settings
from digest.cli.output import Column, show, when
from digest.services.transaction import run as in_transaction

ARTICLE_COLUMNS = (
    Column("id", lambda r: str(r["id"])),
    Column("source", lambda r: str(r["source_id"])),
    Column("date", lambda r: when(r["published_at"] or r["first_seen_at"])),
    Column("title", lambda r: r["title"]),
    Column("lang", lambda r: r["language"] or ""),
    Column("text", lambda r: ("page" if r["full_text"] else "feed") + f", {len(r['text'])} ch"),
    Column("link", lambda r: r["link"] or ""),
)


@articles_app.command("list")
def articles_list(
    source: Annotated[int | None, typer.Option(help="Only this source's (id).")] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Only those dated (or first seen) since.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """The articles gathered, newest first: what extraction kept of each."""
    from digest.services import sources

    settings = load_settings()
    rows = in_transaction(
        settings, sources.article_rows, source_id=source, since=since, limit=limit
    )
    show(rows, ARTICLE_COLUMNS, as_json)
