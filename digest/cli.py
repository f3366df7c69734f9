"""The `digest` command: parse the arguments, call the library, print the outcome.

One function per command. Where the work runs (this process, or Celery workers when
DIGEST_BROKER_URL is set) is decided by `digest.runtime.dispatch`, not here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bar
from rich.table import Table
from rich.text import Text

from digest import pipeline, wiring
from digest.config import Settings, get_settings
from digest.core.redact import mask_url
from digest.core.vocabulary import DeliveryStatus, Frequency, SendKind
from digest.errors import DigestError, InvalidInput
from digest.pipeline.transactional import queue_confirmations
from digest.render.edition import check_templates
from digest.runtime import dispatch
from digest.services import sends
from digest.services.subscribers import add_subscriber, remove_subscriber
from digest.store import db, schema

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

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

console = Console()
err = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


# --- shared printing ----------------------------------------------------------------------


def _warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(message)}")


def _settings(*, migrate: bool = False, templates: bool = False) -> Settings:
    """The settings, with their warnings printed; the schema created or upgraded with
    `migrate` (init and run), else checked: an old schema asks for `digest init`. With
    `templates` (the commands that start something), a broken template is named here
    rather than when a digest is sent."""
    settings = get_settings()
    for warning in settings.warnings():
        _warn(warning)
    if templates:
        check_templates(settings.templates_dir, wiring.mailing(settings))
    if migrate:
        schema.upgrade(settings.database_url)
    else:
        schema.require_current_schema(settings.database_url)
    return settings


@contextmanager
def _progress_bar() -> Iterator[dispatch.OnProgress]:
    """A progress callback for the dispatcher, drawn as one bar per label on stderr."""
    bars: dict[str, TaskID] = {}
    with Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
        console=err,
    ) as bar:

        def on_progress(p: dispatch.Progress) -> None:
            if p.label not in bars:
                bars[p.label] = bar.add_task(p.label, total=p.total, note="")
            bar.update(bars[p.label], completed=p.done, total=p.total, note=p.note)

        yield on_progress


def _dispatcher(settings: Settings, *, check_now: bool = False) -> dispatch.Dispatcher:
    """Where the work runs. With `check_now` (a command about to send or gather), the
    broker is checked on a thread while this process plans."""

    def workers(
        settings: Settings, on_warning: Callable[[str], None] | None
    ) -> dispatch.Dispatcher:
        # Imported only with a broker configured: Celery costs every command time to import.
        from workers.dispatch import CeleryDispatcher

        return CeleryDispatcher(settings, on_warning, check_now=check_now)

    return dispatch.dispatcher_for(settings, workers=workers, on_warning=_warn)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[dict[str, Any]], str]
    # Whether the cell is Rich markup (its data escaped); else it is shown as plain text.
    markup: bool = False


def _show(rows: Sequence[dict[str, Any]], columns: Sequence[Column], as_json: bool) -> None:
    """Every list command prints through here: the rows as JSON, or a table of columns."""
    if as_json:
        _print_json(list(rows))
        return
    table = Table(*(c.header for c in columns))
    for row in rows:
        # Text, not markup: a subscriber may call themselves "[/b]" on the sign-up form.
        table.add_row(
            *(Text.from_markup(c.cell(row)) if c.markup else Text(c.cell(row)) for c in columns)
        )
    console.print(table)


def _show_rows(
    rows_of: Callable[[Session], Sequence[dict[str, Any]]],
    columns: Sequence[Column],
    as_json: bool,
) -> None:
    """Read rows in one session of the configured database and show them (see _show)."""
    settings = _settings()
    with db.session_scope(settings.database_url) as session:
        rows = rows_of(session)
    _show(rows, columns, as_json)


def _key_values(title: str, pairs: Sequence[tuple[str, str | Text]]) -> None:
    table = Table(title=Text(title), show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in pairs:
        table.add_row(key, value if isinstance(value, Text) else Text(value))
    console.print(table)


# --- database -----------------------------------------------------------------------------


@app.command()
def init() -> None:
    """Create the database, or upgrade it to the newest schema."""
    settings = _settings(migrate=True, templates=True)
    console.print(f"Database ready: [bold]{escape(mask_url(settings.database_url))}[/]")


CHECK_STYLES = {"ok": "green", "warning": "yellow", "error": "red"}


@app.command()
def check(as_json: JsonOption = False) -> None:
    """Try the configuration against what it names (database, broker, each SMTP server,
    the outbox, the DKIM key) without changing anything or sending mail; exits 1 on an
    error."""
    from digest.runtime.checks import run_checks

    settings = get_settings()  # its warnings are among the checks; an old schema is one too
    found = run_checks(settings)
    if as_json:
        _print_json([c.as_dict() for c in found])
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
    settings = _settings()
    path = schema.new_revision(settings.database_url, message)
    console.print(f"Wrote {path}: review it, then `digest init` applies it.", markup=False)


# --- sources ------------------------------------------------------------------------------


class FullTextMode(StrEnum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


@sources_app.command("add")
def sources_add(
    url: str,
    name: Annotated[
        str | None, typer.Option(help="Display name (default: the feed's title).")
    ] = None,
    topic: Annotated[list[str] | None, typer.Option(help="Topic; repeat for several.")] = None,
    full_text: Annotated[
        FullTextMode,
        typer.Option(help="Fetch each entry's page: for teasers (auto), always or never."),
    ] = FullTextMode.AUTO,
    check: Annotated[
        bool, typer.Option("--check", help="Fetch it now and say what it is (feed discovery).")
    ] = False,
) -> None:
    """Add a feed (RSS, Atom, JSON Feed), an article page, or a site's home or section page."""
    from digest.services import sources

    settings = _settings()
    url = sources.check_source_url(url)
    kind = None
    if check:
        found = pipeline.check_source(settings, url)
        console.print(found.summary, markup=False)
        url, kind = found.url, found.kind
    with db.session_scope(settings.database_url) as session:
        source = sources.add_source(
            session, url, name=name, topics=topic or [], kind=kind, full_text=full_text.value
        )
        console.print(f"Added source #{source.id}: {source.url}", markup=False)


@sources_app.command("set")
def sources_set(
    source: Annotated[str, typer.Argument(help="URL or id.")],
    name: Annotated[str | None, typer.Option(help="A new display name.")] = None,
    topic: Annotated[
        list[str] | None, typer.Option(help="Topic; repeat for several. Replaces its topics.")
    ] = None,
    no_topics: Annotated[bool, typer.Option("--no-topics", help="Remove every topic.")] = False,
    full_text: Annotated[
        FullTextMode | None,
        typer.Option(help="Fetch each entry's page: for teasers (auto), always or never."),
    ] = None,
    paused: Annotated[
        bool | None,
        typer.Option("--pause/--resume", help="Leave it out of gathering, or take it back."),
    ] = None,
) -> None:
    """Change a source: its name, topics, full-text mode, or whether it is gathered."""
    from digest.services import sources

    if topic and no_topics:
        raise InvalidInput("give --topic or --no-topics, not both")
    settings = _settings()
    with db.session_scope(settings.database_url) as session:
        found = sources.find_source(session, source)
        sources.update_source(
            session,
            found,
            name=name,
            topics=[] if no_topics else topic,
            full_text=full_text.value if full_text else None,
            paused=paused,
        )
        state = "paused" if found.paused else "gathered"
        topics = ", ".join(found.topic_names) or "no topics"
        console.print(
            f"Source #{found.id} {escape(found.name)}: {state}, full text "
            f"{found.full_text_mode}, {escape(topics)}"
        )


@sources_app.command("remove")
def sources_remove(source: Annotated[str, typer.Argument(help="URL or id.")]) -> None:
    """Remove a source and its articles."""
    from digest.services import sources

    settings = _settings()
    with db.session_scope(settings.database_url) as session:
        sources.remove_source(session, source)
    console.print(f"Removed source {source}", markup=False)


def _source_state(row: dict[str, Any]) -> str:
    if row["paused"]:
        return "[yellow]paused[/]"
    if row["retry_after"] and row["retry_after"] > datetime.now(UTC):
        return f"[yellow]backing off until {_when(row['retry_after'])}[/]"
    if row["not_modified"]:
        return "not modified"
    return ""


SOURCE_COLUMNS = (
    Column("id", lambda r: str(r["id"])),
    Column("name", lambda r: r["name"]),
    Column("url", lambda r: r["url"]),
    Column("kind", lambda r: r["kind"]),
    Column("topics", lambda r: ", ".join(r["topics"])),
    Column("articles", lambda r: str(r["articles"])),
    Column("last gathered", lambda r: _when(r["last_ok_at"])),
    Column("state", _source_state, markup=True),
    Column(
        "error",
        lambda r: (
            f"[red]{escape(r['last_error'])}[/] ({r['error_count']}x)" if r["last_error"] else ""
        ),
        markup=True,
    ),
)


@sources_app.command("list")
def sources_list(as_json: JsonOption = False) -> None:
    """List sources: kind, article counts, last error, backoff and whether it was unchanged."""
    _show(pipeline.source_rows(_settings()), SOURCE_COLUMNS, as_json)


OPML_ERROR_COLUMNS = (
    Column("where", lambda r: r["position"]),
    Column("url", lambda r: r["url"]),
    Column("error", lambda r: r["error"]),
)


@sources_app.command("import")
def sources_import(
    file: Annotated[Path, typer.Argument(help="An OPML file (feed readers export one).")],
    as_json: JsonOption = False,
) -> None:
    """Add the sources of an OPML file (nothing is fetched); folders become topics.

    Sources already added are left alone; each bad outline is reported with its line.
    """
    from digest.services import sources

    settings = _settings()
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None
    with db.session_scope(settings.database_url) as session:
        result = sources.import_opml(session, data)
    if as_json:
        _print_json(result.as_dict())
    else:
        if result.errors:
            _show(result.errors, OPML_ERROR_COLUMNS, False)
        _key_values(
            f"Import of {file}",
            [
                ("added", str(result.added)),
                ("already added", str(result.known)),
                ("refused", str(len(result.errors))),
            ],
        )
    if result.errors:
        raise typer.Exit(1)


@sources_app.command("export")
def sources_export(
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Write every source as OPML 2.0, topics as categories."""
    from digest.services import sources

    settings = _settings()
    with db.session_scope(settings.database_url) as session:
        text = sources.export_opml(session, title=f"{settings.list_name} sources")
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"Exported the sources to {output}", markup=False)


# --- articles -----------------------------------------------------------------------------

ARTICLE_COLUMNS = (
    Column("id", lambda r: str(r["id"])),
    Column("source", lambda r: str(r["source_id"])),
    Column("date", lambda r: _when(r["published_at"] or r["first_seen_at"])),
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

    settings = _settings()
    with db.session_scope(settings.database_url) as session:
        rows = sources.article_rows(session, source_id=source, since=since, limit=limit)
    _show(rows, ARTICLE_COLUMNS, as_json)


# --- subscribers --------------------------------------------------------------------------


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
) -> None:
    """Add a subscriber."""
    settings = _settings()
    with db.session_scope(settings.database_url) as session:
        sub = add_subscriber(
            session,
            email,
            name=name,
            confirmed=confirmed,
            frequency=frequency,
            hour=hour,
            timezone=tz,
            weekday=weekday,
            day_of_month=day_of_month,
            topics=topic or [],
        )
        console.print(f"Added subscriber #{sub.id}: {sub.email} ({sub.status})", markup=False)


@subscribers_app.command("remove")
def subscribers_remove(email: str) -> None:
    """Delete a subscriber and their delivery history (to unsubscribe, use the link)."""
    settings = _settings()
    with db.session_scope(settings.database_url) as session:
        remove_subscriber(session, email)
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
    Column("last sent", lambda r: _when(r["last_sent_at"])),
)


@subscribers_app.command("list")
def subscribers_list(as_json: JsonOption = False) -> None:
    """List subscribers and their preferences."""
    _show(pipeline.subscriber_rows(_settings()), SUBSCRIBER_COLUMNS, as_json)


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
    as_json: JsonOption = False,
) -> None:
    """Import subscribers from CSV: new addresses added, known ones updated.

    Columns: email (required), name, status, frequency, weekday, day_of_month, hour,
    timezone, topics (separated by |). Exits 1 when any row was refused.
    """
    from digest.services import importing

    settings = _settings()
    result = importing.import_file(settings.database_url, file)
    summary = result.as_dict()
    if send_confirmations:
        summary["confirmations"] = _send_confirmations(settings, result.pending_ids)
    if as_json:
        _print_json(summary)
    else:
        if result.errors:
            _show(summary["errors"], IMPORT_ERROR_COLUMNS, False)
        _key_values(
            f"Import of {file}",
            [(key, str(summary[key])) for key in ("imported", "updated", "unchanged")]
            + [("refused", str(len(result.errors)))]
            + ([("confirmations", str(summary["confirmations"]))] if send_confirmations else []),
        )
    if result.errors:
        raise typer.Exit(1)


def _send_confirmations(settings: Settings, subscriber_ids: Sequence[int]) -> int:
    mail_ids = queue_confirmations(settings, subscriber_ids)
    dispatcher = _dispatcher(settings)
    with _progress_bar() as on_progress:
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

    settings = _settings()
    count = importing.export_file(settings.database_url, output)
    if output is not None:
        console.print(f"Exported {count} subscriber(s) to {output}", markup=False)


# --- gather -------------------------------------------------------------------------------


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


def _say_failed_sources(gathered: Sequence[dict[str, Any]]) -> bool:
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


def _gather(settings: Settings) -> list[dict[str, Any]]:
    with _progress_bar() as on_progress:
        results = _dispatcher(settings, check_now=True).gather(on_progress)
    return [asdict(r) for r in results]


@app.command()
def gather(as_json: JsonOption = False) -> None:
    """Fetch every source now and store new articles; exits 1 when a source failed."""
    gathered = _gather(_settings())
    _show(gathered, GATHER_COLUMNS, as_json)
    if _say_failed_sources(gathered):
        raise typer.Exit(1)


# --- preview ------------------------------------------------------------------------------


@app.command()
def preview(
    subscriber: Annotated[str | None, typer.Option(help="Preview this subscriber's copy.")] = None,
    output: Annotated[Path | None, typer.Option(help="Write the HTML here.")] = None,
    text: Annotated[bool, typer.Option("--text", help="Print the plain-text part.")] = False,
) -> None:
    """Render the current digest without sending it."""
    result = pipeline.preview(_settings(), email=subscriber)
    if result is None:
        console.print("Nothing new to show.")
        return
    subject, html, plain = result
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(html, encoding="utf-8")
        err.print(
            f"Subject: {subject}\nWrote {output} ({len(html.encode()) / 1024:.1f} KB)",
            markup=False,
        )
    if text or not output:
        sys.stdout.write(f"Subject: {subject}\n\n{plain}")


# --- send ---------------------------------------------------------------------------------


def _send(
    settings: Settings, *, kind: SendKind, email: str | None, dry_run: bool, wait: bool
) -> dispatch.SendOutcome:
    dispatcher = _dispatcher(settings, check_now=not dry_run)
    with _progress_bar() as on_progress:
        return dispatch.send(
            settings,
            dispatcher,
            kind=kind,
            email=email,
            dry_run=dry_run,
            wait=wait,
            on_progress=on_progress,
        )


def _send_summary(outcome: dispatch.SendOutcome) -> dict[str, Any]:
    plan, status = outcome.plan, outcome.status
    summary: dict[str, Any] = {
        "send_id": plan.send_id,
        "planned": plan.planned,
        "nothing_new": plan.nothing_new,
        "already_delivered": plan.already_delivered,
        "already_failed": plan.already_failed,
        "in_flight": plan.in_flight,
        "taken_over": plan.taken_over,
        "picked_up": outcome.picked_up,
    }
    if status is not None:
        summary.update({s.value: status.get(s, 0) for s in DeliveryStatus})
    return summary


@app.command()
def send(
    now: Annotated[bool, typer.Option("--now", help="Ignore schedules: send to everyone.")] = False,
    to: Annotated[str | None, typer.Option("--to", help="Only this subscriber.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show who would get what.")] = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for workers.")] = True,
    test: Annotated[
        str | None,
        typer.Option("--test", help="Mail a test copy to this address; uses up nothing."),
    ] = None,
    as_subscriber: Annotated[
        str | None, typer.Option("--as", help="With --test: the copy this subscriber would get.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Send the digest to the subscribers due now (or to everyone with --now)."""
    if as_subscriber and not test:
        raise InvalidInput("--as chooses whose copy a test is: use it with --test EMAIL")
    if test:
        if now or to or dry_run:
            raise InvalidInput("--test sends one test copy: not with --now, --to or --dry-run")
        _send_test(_settings(), test, as_subscriber, as_json)
        return
    if to and not now:
        raise InvalidInput("--to sends outside the schedule: use it with --now")
    settings = _settings()
    _check_signing(settings)
    kind = SendKind.NOW if now else SendKind.DUE
    outcome = _send(settings, kind=kind, email=to, dry_run=dry_run, wait=wait)
    plan, summary = outcome.plan, _send_summary(outcome)
    if as_json:
        _print_json(summary)
    elif dry_run:
        table = Table("subscriber", "articles", "subject", title="Dry run: nothing sent")
        for copy in plan.copies:
            table.add_row(Text(copy.email), str(copy.articles), Text(copy.subject))
        console.print(table)
        console.print(f"{plan.nothing_new} subscriber(s) have nothing new.")
    else:
        _key_values(
            f"Send #{plan.send_id}" if plan.send_id else "Send",
            [
                (key.replace("_", " "), str(value))
                for key, value in summary.items()
                if key != "send_id" and (value or key in ("planned", "sent"))
            ],
        )
        if outcome.status is None and plan.delivery_ids:
            console.print(f"Queued {len(plan.delivery_ids)} message(s) on the workers.")
        _say_deferred(settings, outcome)
        if plan.already_failed:
            console.print(
                f"{plan.already_failed} subscriber(s) have a failed copy of this edition: "
                "it is not sent again by itself (see the failures of the earlier send)."
            )
    _exit_on_failures(settings, outcome)


def _send_test(settings: Settings, to: str, as_subscriber: str | None, as_json: bool) -> None:
    # Sent where the digests go out: by a worker when there is a broker.
    result = _dispatcher(settings).send_test(to, as_subscriber)
    if as_json:
        _print_json(asdict(result))
        return
    console.print(f"Test sent to {result.to}: {result.subject}", markup=False)
    if as_subscriber and result.latest:
        console.print(
            f"{as_subscriber} has nothing new: the test holds the latest articles.", markup=False
        )


def _check_signing(settings: Settings) -> None:
    """A bad DKIM key stops the send before anything is planned."""

    wiring.signer(settings)


def _say_deferred(settings: Settings, outcome: dispatch.SendOutcome) -> None:
    deferred = (outcome.status or {}).get(DeliveryStatus.DEFERRED, 0)
    if not deferred:
        return
    when = (
        outcome.next_attempt.strftime("%Y-%m-%d %H:%M:%S UTC") if outcome.next_attempt else "later"
    )
    by = (
        "the workers try them again"
        if settings.broker_url
        else "the next `digest send`, `digest run` or beat dispatch tries them again"
    )
    console.print(
        f"[yellow]{deferred} message(s) deferred[/] after a temporary failure; next try "
        f"{when}: {by} (for up to {settings.retry_window:g} s after planning)."
    )


def _exit_on_failures(settings: Settings, outcome: dispatch.SendOutcome) -> None:
    """Exit 0 when every copy was sent, deferred or bounced; 1 when one failed otherwise,
    or when the send stopped (paused by the error budget) with copies left."""
    send_id = outcome.plan.send_id or 0
    failed = outcome.status.get(DeliveryStatus.FAILED, 0) if outcome.status else 0
    bounced = outcome.status.get(DeliveryStatus.BOUNCED, 0) if outcome.status else 0
    if bounced:
        err.print(f"[yellow]{bounced} message(s) bounced[/]: `digest sends show {send_id}`")
    paused = sends.pause_reason(settings, send_id) if send_id else None
    if paused:
        err.print(
            f"[red]send #{send_id} paused:[/] {escape(paused)}\n"
            f"`digest sends resume {send_id}` goes on, `digest sends cancel {send_id}` stops it."
        )
    if failed:
        for email, error in pipeline.failed_deliveries(settings, send_id):
            err.print(f"[red]failed[/] {escape(email)}: {escape(error)}")
        err.print(f"[red]{failed} message(s) failed permanently.[/]")
    if failed or paused:
        raise typer.Exit(1)


# --- sends --------------------------------------------------------------------------------


def _rate(value: float | None) -> str:
    return f"{value:g}/s" if value else ""


SEND_COLUMNS = (
    Column("id", lambda r: str(r["id"])),
    Column("created", lambda r: _when(r["created_at"])),
    Column("kind", lambda r: r["kind"]),
    Column("status", lambda r: r["status"]),
    Column("sent", lambda r: str(r["sent"])),
    Column("deferred", lambda r: str(r["deferred"])),
    Column("failed", lambda r: str(r["failed"])),
    Column("bounced", lambda r: str(r["bounced"])),
    Column("pending", lambda r: str(r["pending"] + r["sending"])),
    Column("rate", lambda r: _rate(r["rate_per_s"])),
)
ERROR_COLUMNS = (
    Column("status", lambda r: r["status"]),
    Column("copies", lambda r: str(r["count"])),
    Column("error", lambda r: r["error"]),
)


@sends_app.command("list")
def sends_list(as_json: JsonOption = False) -> None:
    """The latest sends with their copies counted by state, and the rate."""
    _show(sends.send_rows(_settings()), SEND_COLUMNS, as_json)


@sends_app.command("show")
def sends_show(send_id: int, as_json: JsonOption = False) -> None:
    """One send: its counts, rate, why it is paused, and its errors."""
    detail = sends.send_detail(_settings(), send_id)
    if as_json:
        _print_json(detail)
        return
    _show([detail], SEND_COLUMNS, as_json=False)
    if detail["paused_reason"]:
        console.print(f"paused: {detail['paused_reason']}", markup=False)
    _show(detail["errors"], ERROR_COLUMNS, as_json=False)


@sends_app.command("resume")
def sends_resume(send_id: int, as_json: JsonOption = False) -> None:
    """Go on with a paused send: its copies still pending are sent now."""
    settings = _settings()
    _check_signing(settings)
    ids = sends.resume(settings, send_id)
    dispatcher = _dispatcher(settings)
    status = None
    if ids:
        with _progress_bar() as on_progress:
            status = dispatcher.deliver(send_id, ids, on_progress=on_progress)
    plan = pipeline.SendPlan(send_id=send_id, delivery_ids=ids)
    outcome = dispatch.SendOutcome(plan, status)
    if as_json:
        _print_json(sends.send_detail(settings, send_id))
    else:
        _show([sends.send_detail(settings, send_id)], SEND_COLUMNS, as_json=False)
    _exit_on_failures(settings, outcome)


@sends_app.command("cancel")
def sends_cancel(send_id: int) -> None:
    """Stop a send: its copies not yet sent are never sent."""
    count = sends.cancel(_settings(), send_id)
    console.print(f"Send #{send_id} cancelled; {count} copies will not be sent.")


# --- bounces ------------------------------------------------------------------------------

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

    settings = _settings()
    data = bounces.read_message(source, sys.stdin.buffer.read() if source == "-" else None)
    _show([bounces.process_dsn(settings, data)], BOUNCE_COLUMNS, as_json)


# --- the main job -------------------------------------------------------------------------


@contextmanager
def _samples(settings: Settings) -> Iterator[Settings]:
    """Serve the bundled sample sources and make sure they and sample subscribers exist."""
    from digest.runtime.samples import DEMO_PORT, allowing_samples, seed_samples, serve_samples

    with serve_samples(port=DEMO_PORT) as base:
        seed_samples(settings.database_url, base)
        yield allowing_samples(settings, base)


@app.command()
def run(
    samples: Annotated[
        bool, typer.Option(help="Use the bundled sample sources and subscribers, send now.")
    ] = False,
    preview_path: Annotated[
        Path, typer.Option("--preview", help="Where to write a preview.")
    ] = Path("outbox/preview.html"),
) -> None:
    """The main job: create the database if needed, gather, send to whoever is due."""
    settings = _settings(migrate=True, templates=True)
    if samples:
        # The samples were published on fixed dates: the first digest reaches back to them.
        settings = settings.model_copy(update={"first_digest_days": 100_000})
    with _samples(settings) if samples else nullcontext(settings) as settings:
        gathered = _gather(settings)
    kind = SendKind.NOW if samples else SendKind.DUE
    outcome = _send(settings, kind=kind, email=None, dry_run=False, wait=True)
    result = pipeline.preview(settings, email=None)
    if result is not None:
        preview_path.parent.mkdir(parents=True, exist_ok=True)
        preview_path.write_text(result[1], encoding="utf-8")
    _show(gathered, GATHER_COLUMNS, as_json=False)
    status = outcome.status or {}
    sent, failed = status.get(DeliveryStatus.SENT, 0), status.get(DeliveryStatus.FAILED, 0)
    where = mask_url(settings.smtp_url) if settings.smtp_url else str(settings.outbox_dir.resolve())
    rows = [
        ("sources", str(len(gathered))),
        ("sources with errors", str(sum(1 for r in gathered if r["error"]))),
        ("sources failed", str(sum(1 for r in gathered if r.get("status") == "failed"))),
        ("new articles", str(sum(r["new"] for r in gathered))),
        ("emails " + ("sent" if settings.smtp_url else "written"), f"{sent} → {where}"),
    ]
    if failed:
        rows.append(("emails failed", Text(str(failed), style="red")))
    if outcome.plan.nothing_new:
        rows.append(("nothing new for", f"{outcome.plan.nothing_new} subscriber(s)"))
    if result is not None:
        rows.append(("preview", str(preview_path.resolve())))
    _key_values("Digest run", rows)
    _say_deferred(settings, outcome)
    sources_failed = _say_failed_sources(gathered)
    if failed or sources_failed:
        raise typer.Exit(1)


# --- admins and webhooks ------------------------------------------------------------------


def _ask_password() -> str:
    password = os.environ.get("DIGEST_NEW_ADMIN_PASSWORD")  # for scripts: not kept anywhere
    if password:
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@admins_app.command("add")
def admins_add(email: str) -> None:
    """Add an admin; asks for the password (hashed with argon2, never stored)."""
    from digest.services.admins import add_admin

    settings = _settings()
    password = _ask_password()
    with db.session_scope(settings.database_url) as session:
        user = add_admin(session, email, password)
        console.print(f"Added admin #{user.id}: {user.email}", markup=False)


@admins_app.command("password")
def admins_password(email: str) -> None:
    """Set a new password for an admin."""
    from digest.services.admins import set_password

    settings = _settings()
    password = _ask_password()
    with db.session_scope(settings.database_url) as session:
        set_password(session, email, password)
    console.print(f"Password of {email} changed", markup=False)


@admins_app.command("remove")
def admins_remove(email: str) -> None:
    """Remove an admin and their API tokens."""
    from digest.services.admins import remove_admin

    settings = _settings()
    with db.session_scope(settings.database_url) as session:
        remove_admin(session, email)
    console.print(f"Removed admin {email}", markup=False)


ADMIN_COLUMNS = (
    Column("id", lambda r: str(r["id"])),
    Column("email", lambda r: r["email"]),
    Column("last sign-in", lambda r: _when(r["last_login_at"])),
)


@admins_app.command("list")
def admins_list(as_json: JsonOption = False) -> None:
    """List the admins."""
    from digest.services.admins import admin_rows

    _show_rows(admin_rows, ADMIN_COLUMNS, as_json)


@admins_app.command("token")
def admins_token(
    email: str, name: Annotated[str, typer.Option(help="What the token is for.")] = "api"
) -> None:
    """Make an API token for an admin; printed once, stored only as a hash."""
    from digest.services.admins import create_token

    settings = _settings()
    with db.session_scope(settings.database_url) as session:
        token = create_token(session, email, name)
    sys.stdout.write(token + "\n")


TOKEN_COLUMNS = (
    Column("id", lambda r: str(r["id"])),
    Column("for", lambda r: r["name"]),
    Column("admin", lambda r: r["admin"]),
    Column("made", lambda r: _when(r["created_at"])),
    Column("last used", lambda r: _when(r["last_used_at"])),
)


@admins_app.command("tokens")
def admins_tokens(as_json: JsonOption = False) -> None:
    """List the API tokens of every admin (never the tokens themselves)."""
    from digest.services.admins import token_rows

    _show_rows(token_rows, TOKEN_COLUMNS, as_json)


@admins_app.command("revoke-token")
def admins_revoke_token(token_id: int) -> None:
    """Revoke an API token: its next request is refused."""
    from digest.services.admins import revoke_token

    settings = _settings()
    with db.session_scope(settings.database_url) as session:
        name = revoke_token(session, token_id)
    console.print(f"Revoked API token #{token_id} ({name})", markup=False)


WEBHOOK_COLUMNS = (
    Column("id", lambda r: str(r["id"])),
    Column("url", lambda r: r["url"]),
    Column("events", lambda r: ", ".join(r["events"])),
    Column("delivered", lambda r: str(r["delivered"])),
    Column("pending", lambda r: str(r["pending"] + r["sending"])),
    Column("failed", lambda r: str(r["failed"])),
)


@webhooks_app.command("add")
def webhooks_add(
    url: str,
    event: Annotated[
        list[str],
        typer.Option(
            "--event",
            help="subscriber.confirmed, subscriber.unsubscribed, "
            "subscriber.bounced or send.finished; repeat for several.",
        ),
    ],
    secret: Annotated[str | None, typer.Option(help="Signing secret (default: random).")] = None,
) -> None:
    """Add a webhook: each event is POSTed as JSON, signed with HMAC-SHA256."""
    from digest.services import webhooks

    settings = _settings()
    with db.session_scope(settings.database_url) as session:
        hook = webhooks.add_webhook(session, url, event, secret)
        console.print(f"Added webhook #{hook.id}: {hook.url}", markup=False)
        console.print(f"Signing secret (shown once): {hook.secret}", markup=False)


@webhooks_app.command("list")
def webhooks_list(as_json: JsonOption = False) -> None:
    """List webhooks with their events counted by state."""
    from digest.services import webhooks

    _show_rows(webhooks.webhook_rows, WEBHOOK_COLUMNS, as_json)


@webhooks_app.command("remove")
def webhooks_remove(webhook_id: int) -> None:
    """Remove a webhook and its events."""
    from digest.services import webhooks

    settings = _settings()
    with db.session_scope(settings.database_url) as session:
        webhooks.remove_webhook(session, webhook_id)
    console.print(f"Removed webhook #{webhook_id}")


@webhooks_app.command("deliver")
def webhooks_deliver() -> None:
    """Deliver the webhook events now due (here, or hand them to the workers)."""
    settings = _settings()
    _dispatcher(settings).deliver_webhooks()
    console.print("Webhook events due were handed out.")


# --- servers ------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Run the web app (sign-up, confirmation, preferences, unsubscribe, health)."""
    import uvicorn

    from digest.runtime.logs import configure
    from digest.web import create_app

    settings = _settings(templates=True)
    configure(settings)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None)


def _exec_celery(args: list[str]) -> None:
    if not get_settings().broker_url:
        raise InvalidInput("set DIGEST_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run workers")
    _settings(templates=True)  # an old schema or a broken template is named here, not in every task
    os.execvp(sys.executable, [sys.executable, "-m", "celery", "-A", "workers", *args])


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(ctx: typer.Context) -> None:
    """A Celery worker (extra arguments go to `celery worker`)."""
    _exec_celery(["worker", *ctx.args])


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def beat(ctx: typer.Context) -> None:
    """Celery beat: enqueues gathering every 15 minutes and due sends every minute."""
    _exec_celery(["beat", *ctx.args])


def main() -> None:
    code: int | str | None = 0
    try:
        app()
    except DigestError as exc:
        # One line per problem (a ConfigError may name several settings), never wrapped,
        # and printed as it is: a message may contain [brackets] that are not markup.
        for line in str(exc).splitlines() or [type(exc).__name__]:
            err.print(Text.assemble(("error:", "red"), " ", line), soft_wrap=True)
        code = 1
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
    db.close_all()  # what the interpreter's teardown did: SQLite folds its log back in
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (`digest ... | head`) has nothing more to say.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    if sys.getprofile() is not None or sys.gettrace() is not None:
        # A profiler or a coverage tracer writes its figures as the interpreter ends.
        raise SystemExit(code or 0)
    os._exit(code or 0)
