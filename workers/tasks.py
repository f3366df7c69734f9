"""Tasks: each a few lines handing ids to digest.pipeline."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import Task, group
from celery.result import GroupResult

from digest import pipeline
from digest.mail import transport_from_url
from digest.models import MailStatus, SendKind
from digest.pipeline.transactional import send_mail
from workers.celery_app import app, settings

POLICY = pipeline.RetryPolicy.from_settings(settings)


@app.task(name="digest.gather_source")
def gather_source(source_id: int) -> dict[str, Any]:
    fetcher = pipeline.settings_fetcher(settings)
    return asdict(pipeline.gather_source(settings.database_url, source_id, fetcher=fetcher))


def enqueue_gather() -> GroupResult:
    ids = pipeline.source_ids(settings.database_url)
    return group(gather_source.s(i) for i in ids).apply_async()  # type: ignore[no-any-return]


@app.task(name="digest.gather_all")
def gather_all() -> int:
    return len(enqueue_gather().results or [])


# A copy's attempts are counted on its row; the task may go round once per attempt.
@app.task(name="digest.deliver_batch", bind=True, max_retries=POLICY.max_attempts)
def deliver_batch(self: Task, delivery_ids: list[int]) -> dict[str, Any]:
    transport = transport_from_url(settings.smtp_url, settings.outbox_dir)
    try:
        report = pipeline.deliver_batch(settings, delivery_ids, transport, policy=POLICY)
    finally:
        transport.close()
    if report.retry:
        # Only the temporary failures go round again, with growing delays.
        raise self.retry(args=[report.retry], countdown=POLICY.delay(self.request.retries + 1))
    return asdict(report)


def enqueue_deliveries(delivery_ids: list[int]) -> int:
    """Fan out in batches, one task per batch rather than per message."""
    size = settings.delivery_batch_size
    batches = [delivery_ids[i : i + size] for i in range(0, len(delivery_ids), size)]
    for batch in batches:
        deliver_batch.delay(batch)
    return len(batches)


@app.task(name="digest.send_transactional", bind=True, max_retries=POLICY.max_attempts)
def send_transactional(self: Task, mail_id: int) -> str | None:
    transport = transport_from_url(settings.smtp_url, settings.outbox_dir)
    try:
        status = send_mail(settings, mail_id, transport, POLICY)
    finally:
        transport.close()
    if status == MailStatus.PENDING:
        raise self.retry(countdown=POLICY.delay(self.request.retries + 1))
    return None if status is None else status.value


@app.task(name="digest.dispatch_due")
def dispatch_due() -> dict[str, int]:
    plan = pipeline.plan_send(settings, kind=SendKind.DUE)
    return {"deliveries": len(plan.delivery_ids), "batches": enqueue_deliveries(plan.delivery_ids)}
