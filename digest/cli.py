"""The `digest` command: one function per command, each a call into the library.

With DIGEST_BROKER_URL set, gathering and sending are handed to Celery workers and this
process waits for them with a progress bar; unset, the same work runs here.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from digest import db, pipeline
from digest.config import Settings, get_settings
from digest.errors import DigestError, InvalidInput
from digest.mail import transport_from_url
from digest.models import DeliveryStatus, Frequency, Source, Subscriber
from digest.sources import add_source, list_sources, remove_source
from digest.subscribers import add_subscriber, list_subscribers, remove_subscriber

app = typer.Typer(
    help="Self-hosted newsletter digests.", no_args_is_help=True, add_completion=False
)
sources_app = typer.Typer(help="Manage sources (feeds and article pages).", no_args_is_help=True)
subscribers_app = typer.Typer(help="Manage subscribers.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")
app.add_typer(subscribers_app, name="subscribers")

console = Console()
err = Console(stderr=True)

SETTLED = {DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED}


def _settings() -> Settings:
    settings = get_settings()
    for warning in settings.warnings():
        err.print(f"[yellow]warning:[/] {warning}")
    return settings


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def _ensure_db(settings: Settings) -> None:
    if db.needs_upgrade(settings.database_url):
        db.upgrade(settings.database_url)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


# --- database -----------------------------------------------------------------------------


@app.command()
def init() -> None:
    """Create the database, or upgrade it to the newest schema."""
    settings = _settings()
    db.upgrade(settings.database_url)
    console.print(f"Database ready: [bold]{settings.database_url}[/]")


# --- sources ------------------------------------------------------------------------------


@sources_app.command("add")
def sources_add(
    url: str,
    name: Annotated[
        str | None, typer.Option(help="Display name (default: the feed's title).")
    ] = None,
    topic: Annotated[list[str] | None, typer.Option(help="Topic; repeat for several.")] = None,
) -> None:
    """Add a feed (RSS, Atom, JSON Feed) or an article page."""
    settings = _settings()
    _ensure_db(settings)
    with db.session_scope(settings.database_url) as session:
        source = add_source(session, url, name=name, topics=topic or [])
        console.print(f"Added source #{source.id}: {source.url}")


@sources_app.command("remove")
def sources_remove(source: Annotated[str, typer.Argument(help="URL or id.")]) -> None:
    """Remove a source and its articles."""
    settings = _settings()
    _ensure_db(settings)
    with db.session_scope(settings.database_url) as session:
        remove_source(session, source)
    console.print(f"Removed source {source}")


def _source_row(s: Source) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "url": s.url,
        "topics": s.topics,
        "articles": len(s.articles),
        "last_ok_at": s.last_ok_at,
        "last_error": s.last_error,
    }


@sources_app.command("list")
def sources_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List sources with their article counts and last error."""
    settings = _settings()
    _ensure_db(settings)
    with db.session_scope(settings.database_url) as session:
        rows = [_source_row(s) for s in list_sources(session)]
    if as_json:
        _print_json(rows)
        return
    table = Table("id", "name", "url", "topics", "articles", "last gathered", "error")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["name"],
            r["url"],
            ", ".join(r["topics"]),
            str(r["articles"]),
            r["last_ok_at"].strftime("%Y-%m-%d %H:%M") if r["last_ok_at"] else "never",
            f"[red]{r['last_error']}[/]" if r["last_error"] else "",
        )
    console.print(table)


# --- subscribers --------------------------------------------------------------------------


@subscribers_app.command("add")
def subscribers_add(
    email: str,
    name: Annotated[str | None, typer.Option()] = None,
    confirmed: Annotated[bool, typer.Option(help="Skip double opt-in.")] = False,
    frequency: Annotated[Frequency, typer.Option()] = Frequency.DAILY,
    hour: Annotated[int, typer.Option(min=0, max=23, help="Local hour the digest is due.")] = 7,
    tz: Annotated[str, typer.Option(help="Time zone, Area/City.")] = "UTC",
    topic: Annotated[list[str] | None, typer.Option(help="Topic; repeat. None: all.")] = None,
) -> None:
    """Add a subscriber."""
    settings = _settings()
    _ensure_db(settings)
    with db.session_scope(settings.database_url) as session:
        sub = add_subscriber(
            session,
            email,
            name=name,
            confirmed=confirmed,
            frequency=frequency.value,
            hour=hour,
            timezone=tz,
            topics=topic or [],
        )
        console.print(f"Added subscriber #{sub.id}: {sub.email} ({sub.status})")


@subscribers_app.command("remove")
def subscribers_remove(email: str) -> None:
    """Delete a subscriber and their delivery history (to unsubscribe, use the link)."""
    settings = _settings()
    _ensure_db(settings)
    with db.session_scope(settings.database_url) as session:
        remove_subscriber(session, email)
    console.print(f"Removed subscriber {email}")


def _subscriber_row(s: Subscriber) -> dict[str, Any]:
    return {
        "id": s.id,
        "email": s.email,
        "name": s.name,
        "status": s.status,
        "frequency": s.frequency,
        "hour": s.hour,
        "timezone": s.timezone,
        "topics": s.topics,
        "last_sent_at": s.last_sent_at,
    }


@subscribers_app.command("list")
def subscribers_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List subscribers and their preferences."""
    settings = _settings()
    _ensure_db(settings)
    with db.session_scope(settings.database_url) as session:
        rows = [_subscriber_row(s) for s in list_subscribers(session)]
    if as_json:
        _print_json(rows)
        return
    table = Table("id", "email", "name", "status", "schedule", "topics", "last sent")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["email"],
            r["name"] or "",
            r["status"],
            f"{r['frequency']} at {r['hour']:02d}:00 {r['timezone']}",
            ", ".join(r["topics"]) or "all",
            r["last_sent_at"].strftime("%Y-%m-%d %H:%M") if r["last_sent_at"] else "never",
        )
    console.print(table)


# --- gather -------------------------------------------------------------------------------


def _gather_in_process(settings: Settings) -> list[dict[str, Any]]:
    total = len(pipeline.source_ids(settings.database_url))
    results: list[dict[str, Any]] = []
    with _progress() as progress:
        task = progress.add_task("Gathering", total=total)

        def on_result(result: pipeline.GatherResult) -> None:
            results.append(result.__dict__)
            progress.advance(task)

        pipeline.gather_all(settings, on_result=on_result)
    return results


def _workers_ready(settings: Settings) -> None:
    """Fail clearly when the broker is unreachable; warn when no worker answers."""
    from workers import app as celery

    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
        answers = celery.control.ping(timeout=1.0)
    except Exception as exc:
        raise DigestError(f"cannot reach the broker at {settings.broker_url}: {exc}") from None
    if not answers:
        err.print(
            "[yellow]warning:[/] no worker answered; the work waits in the queue until "
            "`digest worker` runs"
        )


def _gather_on_workers(settings: Settings) -> list[dict[str, Any]]:
    from workers.tasks import enqueue_gather

    _workers_ready(settings)
    group = enqueue_gather()
    total = len(group.results or [])
    with _progress() as progress:
        task = progress.add_task("Gathering (workers)", total=total)
        while not group.ready():
            progress.update(task, completed=group.completed_count())
            time.sleep(0.2)
        progress.update(task, completed=total)
    return list(group.get(propagate=True))


def do_gather(settings: Settings) -> list[dict[str, Any]]:
    _ensure_db(settings)
    if settings.broker_url:
        return _gather_on_workers(settings)
    return _gather_in_process(settings)


def _gather_table(results: list[dict[str, Any]]) -> Table:
    table = Table("source", "new", "seen", "status")
    for r in results:
        status = f"[red]{r['error']}[/]" if r["error"] else "[green]ok[/]"
        table.add_row(r["name"], str(r["new"]), str(r["seen"]), status)
    return table


@app.command()
def gather(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Fetch every source now and store new articles."""
    results = do_gather(_settings())
    if as_json:
        _print_json(results)
    else:
        console.print(_gather_table(results))


# --- preview ------------------------------------------------------------------------------


@app.command()
def preview(
    subscriber: Annotated[str | None, typer.Option(help="Preview this subscriber's copy.")] = None,
    output: Annotated[Path | None, typer.Option(help="Write the HTML here.")] = None,
    text: Annotated[bool, typer.Option("--text", help="Print the plain-text part.")] = False,
) -> None:
    """Render the current digest without sending it."""
    settings = _settings()
    _ensure_db(settings)
    result = pipeline.preview(settings, email=subscriber)
    if result is None:
        console.print("Nothing new to show.")
        return
    subject, html, plain = result
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(html, encoding="utf-8")
        err.print(f"Subject: {subject}\nWrote {output} ({len(html.encode()) / 1024:.1f} KB)")
    if text or not output:
        sys.stdout.write(f"Subject: {subject}\n\n{plain}")


# --- send ---------------------------------------------------------------------------------


def _wait_for_send(settings: Settings, send_id: int, total: int) -> dict[str, int]:
    with _progress() as progress:
        task = progress.add_task(f"Sending #{send_id} (workers)", total=total)
        while True:
            status = pipeline.send_status(settings, send_id)
            settled = sum(n for s, n in status.items() if s in SETTLED)
            progress.update(task, completed=settled)
            if settled >= total:
                return status
            time.sleep(0.25)


def _deliver_here(settings: Settings, plan: pipeline.SendPlan) -> dict[str, int]:
    transport = transport_from_url(settings.smtp_url, settings.outbox_dir)
    try:
        with _progress() as progress:
            task = progress.add_task(f"Sending #{plan.send_id}", total=len(plan.delivery_ids))
            pipeline.deliver_in_process(
                settings, plan.delivery_ids, transport, on_message=lambda: progress.advance(task)
            )
    finally:
        transport.close()
    assert plan.send_id is not None
    return pipeline.send_status(settings, plan.send_id)


def do_send(
    settings: Settings, *, kind: str, email: str | None, dry_run: bool, wait: bool
) -> tuple[pipeline.SendPlan, dict[str, int] | None]:
    _ensure_db(settings)
    plan = pipeline.plan_send(settings, kind=kind, email=email, dry_run=dry_run)
    if dry_run or not plan.delivery_ids:
        return plan, None
    assert plan.send_id is not None
    if not settings.broker_url:
        return plan, _deliver_here(settings, plan)
    from workers.tasks import enqueue_deliveries

    _workers_ready(settings)
    enqueue_deliveries(plan.delivery_ids)
    if not wait:
        return plan, None
    return plan, _wait_for_send(settings, plan.send_id, len(plan.delivery_ids))


def _send_summary(plan: pipeline.SendPlan, status: dict[str, int] | None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "send_id": plan.send_id,
        "planned": len(plan.delivery_ids),
        "nothing_new": plan.nothing_new,
        "already_delivered": plan.already_delivered,
        "in_flight": plan.in_flight,
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
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Send the digest to the subscribers due now (or to everyone with --now)."""
    settings = _settings()
    if to and not now:
        raise InvalidInput("--to sends outside the schedule: use it with --now")
    plan, status = do_send(
        settings, kind="now" if now else "due", email=to, dry_run=dry_run, wait=wait
    )
    summary = _send_summary(plan, status)
    failed = status.get(DeliveryStatus.FAILED, 0) if status else 0
    if as_json:
        _print_json(summary)
    elif dry_run:
        table = Table("subscriber", "articles", "subject", title="Dry run: nothing sent")
        for copy in plan.copies:
            table.add_row(copy.email, str(copy.articles), copy.subject)
        console.print(table)
        console.print(f"{plan.nothing_new} subscriber(s) have nothing new.")
    else:
        table = Table(title=f"Send #{plan.send_id}" if plan.send_id else "Send", show_header=False)
        table.add_column(style="bold")
        table.add_column(justify="right")
        for key, value in summary.items():
            if key != "send_id" and (value or key in ("planned", "sent")):
                table.add_row(key.replace("_", " "), str(value))
        console.print(table)
        if status is None and plan.delivery_ids:
            console.print(f"Queued {len(plan.delivery_ids)} message(s) on the workers.")
    if failed:
        for email, error in pipeline.failed_deliveries(settings, plan.send_id or 0):
            err.print(f"[red]failed[/] {email}: {error}")
        err.print(f"[red]{failed} message(s) failed permanently.[/]")
        raise typer.Exit(1)


# --- the main job -------------------------------------------------------------------------


@contextmanager
def _samples(settings: Settings) -> Iterator[None]:
    """Serve the bundled sample sources and make sure they and sample subscribers exist."""
    from digest.samples_server import DEMO_PORT, sample_sources, sample_subscribers, serve_samples

    with serve_samples(port=DEMO_PORT) as base:
        with db.session_scope(settings.database_url) as session:
            existing = {s.name: s for s in list_sources(session)}
            for sample in sample_sources(base):
                if sample.name in existing:
                    existing[sample.name].url = sample.url  # the port may differ per run
                else:
                    add_source(session, sample.url, name=sample.name, topics=sample.topics)
            emails = {s.email for s in list_subscribers(session)}
            for sub in sample_subscribers():
                if sub["email"] not in emails:
                    add_subscriber(
                        session,
                        sub["email"],
                        name=sub["name"],
                        confirmed=True,
                        frequency=sub["frequency"],
                        hour=sub["hour"],
                        timezone=sub["tz"],
                        topics=sub["topics"],
                    )
        yield


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
    settings = _settings()
    _ensure_db(settings)
    with _samples(settings) if samples else nullcontext():
        gathered = do_gather(settings)
    plan, status = do_send(
        settings, kind="now" if samples else "due", email=None, dry_run=False, wait=True
    )
    result = pipeline.preview(settings, email=None)
    if result is not None:
        preview_path.parent.mkdir(parents=True, exist_ok=True)
        preview_path.write_text(result[1], encoding="utf-8")
    console.print(_gather_table(gathered))
    sent = status.get(DeliveryStatus.SENT, 0) if status else 0
    failed = status.get(DeliveryStatus.FAILED, 0) if status else 0
    table = Table(title="Digest run", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("sources", str(len(gathered)))
    table.add_row("sources with errors", str(sum(1 for r in gathered if r["error"])))
    table.add_row("new articles", str(sum(r["new"] for r in gathered)))
    where = settings.smtp_url or str(settings.outbox_dir.resolve())
    table.add_row("emails " + ("sent" if settings.smtp_url else "written"), f"{sent} → {where}")
    if failed:
        table.add_row("emails failed", f"[red]{failed}[/]")
    if plan.nothing_new:
        table.add_row("nothing new for", f"{plan.nothing_new} subscriber(s)")
    if result is not None:
        table.add_row("preview", str(preview_path.resolve()))
    console.print(table)
    if failed:
        raise typer.Exit(1)


# --- servers ------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Run the web app (health, unsubscribe, preferences)."""
    import uvicorn

    from digest.web import create_app

    settings = _settings()
    _ensure_db(settings)
    uvicorn.run(create_app(settings), host=host, port=port)


def _exec_celery(args: list[str]) -> None:
    if not _settings().broker_url:
        raise InvalidInput("set DIGEST_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run workers")
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
    try:
        app()
    except DigestError as exc:
        # One line per problem (a ConfigError may name several settings), never wrapped,
        # and printed as it is: a message may contain [brackets] that are not markup.
        for line in str(exc).splitlines() or [type(exc).__name__]:
            err.print(Text.assemble(("error:", "red"), " ", line), soft_wrap=True)
        sys.exit(1)
