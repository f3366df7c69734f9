"""`digest webhooks`: outgoing webhooks added, listed, removed, delivered."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli.app import JsonOption, load_settings, make_dispatcher, webhooks_app
from digest.cli.output import Column, console, show

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

    settings = load_settings()
    hook = webhooks.create_webhook(settings, url, event, secret)
    console.print(f"Added webhook #{hook['id']}: {hook['url']}", markup=False)
    console.print(f"Signing secret (shown once): {hook['secret']}", markup=False)


@webhooks_app.command("list")
def webhooks_list(as_json: JsonOption = False) -> None:
    """List webhooks with their events counted by state."""
    from digest.services import webhooks

    show(webhooks.list_webhooks(load_settings()), WEBHOOK_COLUMNS, as_json)


@webhooks_app.command("remove")
def webhooks_remove(webhook_id: int) -> None:
    """Remove a webhook and its events."""
    from digest.services import webhooks

    settings = load_settings()
    webhooks.delete_webhook(settings, webhook_id)
    console.print(f"Removed webhook #{webhook_id}")


@webhooks_app.command("deliver")
def webhooks_deliver() -> None:
    """Deliver the webhook events now due (here, or hand them to the workers)."""
    settings = load_settings()
    make_dispatcher(settings).deliver_webhooks()
    console.print("Webhook events due were handed out.")
