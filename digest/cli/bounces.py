"""`digest bounces process`: a delivery status notification read and applied."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from digest.cli.app import JsonOption, bounces_app, load_settings
from digest.cli.output import Column, show

BOUNCE_COLUMNS = (
    Column("delivery", lambda r: str(r["delivery_id"])),
    Column("subscriber", lambda r: r["email"]),
    Column("found by", lambda r: r["found_by"]),
    Column("result", lambda r: r["result"] + (f" ({r['status']})" if r.get("status") else "")),
    Column("suppressed", lambda r: "yes" if r["suppressed"] else "no"),
)


@bounces_app.command("process")
def bounces_process(
    source: Annotated[str, typer.Argument(help="A DSN as an .eml file, or - for stdin.")],
    as_json: JsonOption = False,
) -> None:
    """Read a delivery status notification (RFC 3464) and apply its bounce."""
    from digest.services import bounces

    settings = load_settings()
    data = bounces.read_message(source, sys.stdin.buffer.read() if source == "-" else None)
    show([bounces.process_dsn(settings, data)], BOUNCE_COLUMNS, as_json)
