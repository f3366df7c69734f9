"""`digest subscribers`: add, remove, list, import and export (CSV) subscribers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from digest.cli.app import JsonOption, load_settings, make_dispatcher, subscribers_app
from digest.cli.output import Column, console, key_values, print_json, progress_bar, show, when
from digest.config import Settings
from digest.core.vocabulary import Frequency
from digest.runtime import dispatch
from digest.services.subscribers import new_subscriber, remove_subscriber
from digest.services.transaction import run as in_transaction


@subscribers_app.command("add")
def subscribers_add(
    email: str,
    name: Annotated[str | None, typer.Option()] = None,
    confirmed: Annotated[bool, typer.Option(help="Skip double opt-in.")] = False,
    frequency: Annotated[Frequency, typer.Option()] = Frequency.DAILY,
    hour: Annotated[int, typer.Option(min=0, max=23, help="Local hour the digest is due.")] = 7,
    tz: Annotated[str, typer.Option(help="Time zone, Area/City.")] = "UTC",
    weekday: Annotated[str, typer.Option(help="Weekly: monday ... sunday.")] = "monday",
    day_of_month: Annotated[str, typer.Option(help="Monthly: 1-28 or last.")] = "1",
    topic: Annotated[list[str] | None, typer.Option(help="Topic; repeat. None: all.")] = None,
    new_topic: Annotated[
        bool, typer.Option("--new-topic", help="Make a topic no source has yet.")
    ] = False,
) -> None:
    """Add a subscriber. A topic no source has is refused unless --new-topic."""
    settings = load_settings()
    sub = new_subscriber(
        settings,
        email,
        name=name,
        confirmed=confirmed,
        frequency=frequency,
        hour=hour,
        timezone=tz,
        weekday=weekday,
        day_of_month=day_of_month,
        topics=topic or [],
        new_topics=new_topic,
    )
    console.print(f"Added subscriber #{sub['id']}: {sub['email']} ({sub['status']})", markup=False)


@subscribers_app.command("remove")
def subscribers_remove(email: str) -> None:
    """Delete a subscriber and their delivery history (to unsubscribe, use the link)."""
    settings = load_settings()
    in_transaction(settings, remove_subscriber, email)
    console.print(f"Removed subscriber {email}", markup=False)


def _schedule_text(row: dict[str, Any]) -> str:
    when = {"weekly": f" on {row['weekday']}", "monthly": f" on day {row['day_of_month']}"}
    at = f"at {row['hour']:02d}:00 {row['timezone']}"
    return f"{row['frequency']}{when.get(row['frequency'], '')} {at}"


SUBSCRIBER_COLUMNS = (
    Column("id", lambda r: str(r["id"])),
    Column("email", lambda r: r["email"]),
    Column("name", lambda r: r["name"] or ""),
    Column("status", lambda r: r["status"]),
    Column("schedule", lambda r: _schedule_text(r)),
    Column("topics", lambda r: ", ".join(r["topics"]) or "all"),
    Column("last sent", lambda r: when(r["last_sent_at"])),
)


@subscribers_app.command("list")
def subscribers_list(
    search: Annotated[
        str | None, typer.Option("--search", "-q", help="Only addresses or names containing this.")
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="Only this status: pending, confirmed, unsubscribed...")
    ] = None,
    topic: Annotated[str | None, typer.Option(help="Only subscribers of this topic.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List subscribers and their preferences (the admin's and the API's listing, filtered
    the same way)."""
    from digest.services.subscribers import subscriber_listing

    listing = subscriber_listing(load_settings(), q=search, status=status, topic=topic)
    show(listing["items"], SUBSCRIBER_COLUMNS, as_json)


IMPORT_ERROR_COLUMNS = (
    Column("line", lambda r: str(r["line"])),
    Column("email", lambda r: r["email"]),
    Column("error", lambda r: r["error"]),
)


@subscribers_app.command("import")
def subscribers_import(
    file: Annotated[Path, typer.Argument(help="CSV file with a header row.")],
    send_confirmations: Annotated[
        bool, typer.Option(help="Mail the pending rows a link to confirm.")
    ] = False,
    new_topics: Annotated[
        bool, typer.Option("--new-topics", help="Make the topics no source has yet.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import subscribers from CSV: new addresses added, known ones updated.

    Columns: email (required), name, status, frequency, weekday, day_of_month, hour,
    timezone, topics (separated by |). A row naming a topic no source has is refused
    unless --new-topics. Exits 1 when any row was refused.
    """
    from digest.services import importing

    settings = load_settings()
    result = importing.import_file(settings.database_url, file, new_topics=new_topics)
    summary = result.as_dict()
    if send_confirmations:
        summary["confirmations"] = _send_confirmations(settings, result.pending_ids)
    if as_json:
        print_json(summary)
    else:
        if result.errors:
            show(summary["errors"], IMPORT_ERROR_COLUMNS, False)
        key_values(
            f"Import of {file}",
            [(key, str(summary[key])) for key in ("imported", "updated", "unchanged")]
            + [("refused", str(len(result.errors)))]
            + ([("confirmations", str(summary["confirmations"]))] if send_confirmations else []),
        )
    if result.errors:
        raise typer.Exit(1)


def _send_confirmations(settings: Settings, subscriber_ids: Sequence[int]) -> int:
    from digest.pipeline.transactional import queue_confirmations  # the mail's renderer

    mail_ids = queue_confirmations(settings, subscriber_ids)
    dispatcher = make_dispatcher(settings)
    with progress_bar() as on_progress:
        for done, mail_id in enumerate(mail_ids, 1):
            dispatcher.send_transactional(mail_id)
            on_progress(dispatch.Progress("Confirmations", done, len(mail_ids)))
    return len(mail_ids)


@subscribers_app.command("export")
def subscribers_export(
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Write every subscriber as CSV, in the columns import reads."""
    from digest.services import importing

    settings = load_settings()
    count = importing.export_file(settings.database_url, output)
    if output is not None:
        console.print(f"Exported {count} subscriber(s) to {output}", markup=False)
