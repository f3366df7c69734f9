"""Sending digests: `digest preview`, `digest send` (due, now, to one subscriber, a dry
run, a test copy) and `digest sends` (list, show, resume, cancel)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from digest import pipeline, wiring
from digest.cli.app import JsonOption, app, load_settings, make_dispatcher, sends_app
from digest.cli.output import Column, console, err, key_values, print_json, progress_bar, show, when
from digest.config import Settings
from digest.core.vocabulary import DeliveryStatus, SendKind
from digest.errors import InvalidInput
from digest.runtime import dispatch
from digest.services import sends


@app.command()
def preview(
    subscriber: Annotated[str | None, typer.Option(help="Preview this subscriber's copy.")] = None,
    output: Annotated[Path | None, typer.Option(help="Write the HTML here.")] = None,
    text: Annotated[bool, typer.Option("--text", help="Print the plain-text part.")] = False,
) -> None:
    """Render the current digest without sending it."""
    result = pipeline.preview(load_settings(), email=subscriber)
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


def send_digests(
    settings: Settings, *, kind: SendKind, email: str | None, dry_run: bool, wait: bool
) -> dispatch.SendOutcome:
    dispatcher = make_dispatcher(settings, check_now=not dry_run)
    with progress_bar() as on_progress:
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
        _send_test(load_settings(), test, as_subscriber, as_json)
        return
    if to and not now:
        raise InvalidInput("--to sends outside the schedule: use it with --now")
    settings = load_settings()
    check_signing(settings)
    kind = SendKind.NOW if now else SendKind.DUE
    outcome = send_digests(settings, kind=kind, email=to, dry_run=dry_run, wait=wait)
    plan, summary = outcome.plan, _send_summary(outcome)
    if as_json:
        print_json(summary)
    elif dry_run:
        table = Table("subscriber", "articles", "subject", title="Dry run: nothing sent")
        for copy in plan.copies:
            table.add_row(Text(copy.email), str(copy.articles), Text(copy.subject))
        console.print(table)
        console.print(f"{plan.nothing_new} subscriber(s) have nothing new.")
    else:
        key_values(
            f"Send #{plan.send_id}" if plan.send_id else "Send",
            [
                (key.replace("_", " "), str(value))
                for key, value in summary.items()
                if key != "send_id" and (value or key in ("planned", "sent"))
            ],
        )
        if outcome.status is None and plan.delivery_ids:
            console.print(f"Queued {len(plan.delivery_ids)} message(s) on the workers.")
        elif outcome.status is not None and plan.send_id:
            console.print(tally_line(outcome.status), markup=False, highlight=False)
        say_deferred(settings, outcome)
        if plan.already_failed:
            console.print(
                f"{plan.already_failed} subscriber(s) have a failed copy of this edition: "
                "it is not sent again by itself (see the failures of the earlier send)."
            )
    exit_on_failures(settings, outcome)


def _send_test(settings: Settings, to: str, as_subscriber: str | None, as_json: bool) -> None:
    # Sent where the digests go out: by a worker when there is a broker.
    result = make_dispatcher(settings).send_test(to, as_subscriber)
    if as_json:
        print_json(asdict(result))
        return
    console.print(f"Test sent to {result.to}: {result.subject}", markup=False)
    if as_subscriber and result.latest:
        console.print(
            f"{as_subscriber} has nothing new: the test holds the latest articles.", markup=False
        )


def check_signing(settings: Settings) -> None:
    """A bad DKIM key stops the send before anything is planned."""

    wiring.signer(settings)


# The outcomes a send's summary line counts, in this order (README: exit status).
TALLIED = (
    DeliveryStatus.SENT,
    DeliveryStatus.DEFERRED,
    DeliveryStatus.FAILED,
    DeliveryStatus.BOUNCED,
)


def tally_line(status: Mapping[DeliveryStatus, int]) -> str:
    """One line of the send's outcome: "3 sent, 0 deferred, 0 failed, 2 bounced"."""
    return ", ".join(f"{status.get(s, 0)} {s.value}" for s in TALLIED) + "."


def say_deferred(settings: Settings, outcome: dispatch.SendOutcome) -> None:
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


def exit_on_failures(settings: Settings, outcome: dispatch.SendOutcome) -> None:
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


def _rate(value: float | None) -> str:
    return f"{value:g}/s" if value else ""


SEND_COLUMNS = (
    Column("id", lambda r: str(r["id"])),
    Column("created", lambda r: when(r["created_at"])),
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
    show(sends.send_rows(load_settings()), SEND_COLUMNS, as_json)


@sends_app.command("show")
def sends_show(send_id: int, as_json: JsonOption = False) -> None:
    """One send: its counts, rate, why it is paused, and its errors."""
    detail = sends.send_detail(load_settings(), send_id)
    if as_json:
        print_json(detail)
        return
    show([detail], SEND_COLUMNS, as_json=False)
    if detail["paused_reason"]:
        console.print(f"paused: {detail['paused_reason']}", markup=False)
    show(detail["errors"], ERROR_COLUMNS, as_json=False)


@sends_app.command("resume")
def sends_resume(send_id: int, as_json: JsonOption = False) -> None:
    """Go on with a paused send: its copies still pending are sent now."""
    settings = load_settings()
    check_signing(settings)
    ids = sends.resume(settings, send_id)
    dispatcher = make_dispatcher(settings)
    status = None
    if ids:
        with progress_bar() as on_progress:
            status = dispatcher.deliver(send_id, ids, on_progress=on_progress)
    plan = pipeline.SendPlan(send_id=send_id, delivery_ids=ids)
    outcome = dispatch.SendOutcome(plan, status)
    if as_json:
        print_json(sends.send_detail(settings, send_id))
    else:
        show([sends.send_detail(settings, send_id)], SEND_COLUMNS, as_json=False)
    exit_on_failures(settings, outcome)


@sends_app.command("cancel")
def sends_cancel(send_id: int) -> None:
    """Stop a send: its copies not yet sent are never sent."""
    count = sends.cancel(load_settings(), send_id)
    console.print(f"Send #{send_id} cancelled; {count} copies will not be sent.")
