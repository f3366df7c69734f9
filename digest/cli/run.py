"""`digest run`: the main job, from the schema to the copies sent and a preview."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from digest import pipeline
from digest.cli.app import app, load_settings
from digest.cli.gathering import GATHER_COLUMNS, gather_sources, say_failed_sources
from digest.cli.output import key_values, show
from digest.cli.sending import say_deferred, send_digests
from digest.config import Settings
from digest.core.redact import mask_url
from digest.core.vocabulary import DeliveryStatus, SendKind


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
    """The main job: create the database if needed, gather, send to whoever is due, and
    prune what is past its retention (`digest prune`)."""
    from digest.pipeline.retention import prune

    settings = load_settings(migrate=True, templates=True)
    if samples:
        # The samples were published on fixed dates: the first digest reaches back to them.
        settings = settings.model_copy(update={"first_digest_days": 100_000})
    with _samples(settings) if samples else nullcontext(settings) as settings:
        gathered = gather_sources(settings)
    kind = SendKind.NOW if samples else SendKind.DUE
    outcome = send_digests(settings, kind=kind, email=None, dry_run=False, wait=True)
    pruned = prune(settings)
    result = pipeline.preview(settings, email=None)
    if result is not None:
        preview_path.parent.mkdir(parents=True, exist_ok=True)
        preview_path.write_text(result[1], encoding="utf-8")
    show(gathered, GATHER_COLUMNS, as_json=False)
    status = outcome.status or {}
    sent, failed = status.get(DeliveryStatus.SENT, 0), status.get(DeliveryStatus.FAILED, 0)
    where = mask_url(settings.smtp_url) if settings.smtp_url else str(settings.outbox_dir.resolve())
    rows: list[tuple[str, str | Text]] = [
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
    if pruned.deliveries_folded or pruned.articles:
        rows.append(
            (
                "pruned",
                f"{pruned.deliveries_folded} deliveries folded into counts, "
                f"{pruned.articles} articles",
            )
        )
    if result is not None:
        rows.append(("preview", str(preview_path.resolve())))
    key_values("Digest run", rows)
    say_deferred(settings, outcome)
    sources_failed = say_failed_sources(gathered)
    if failed or sources_failed:
        raise typer.Exit(1)
