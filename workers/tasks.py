"""Tasks: each a few lines handing ids to digest.pipeline."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import Task, group
from celery.result import GroupResult
from celery.signals import worker_process_shutdown

from digest import pipeline, wiring
from digest.core.vocabulary import MailStatus, SendKind, utcnow
from digest.mail import Transport
from digest.pipeline import testsend
from digest.pipeline import webhooks as webhook_delivery
from digest.pipeline.transactional import MAX_ATTEMPTS, due_mails, send_mail
from digest.store import db
from workers.celery_app import app, settings

POLICY = wiring.retry_policy(settings)

# One transport per worker process, its connection kept open from batch to batch (the
# transport reopens it when the server has closed it in between).
_transport: Transport | None = None


def transport() -> Transport:
    global _transport
    if _transport is None:
        _transport = wiring.transport_for(settings)
    return _transport


@worker_process_shutdown.connect
def _close_transport(**_: object) -> None:
    if _transport is not None:
        _transport.close()


@app.task(name="digest.prune")
def prune() -> dict[str, object]:
    """Deliveries and articles past their retention, folded and deleted in batches."""
    from digest.pipeline.retention import prune as prune_job

    return prune_job(settings).as_dict()


@app.task(name="digest.gather_source")
def gather_source(source_id: int) -> dict[str, Any]:
    with wiring.fetcher_for(settings) as fetcher:
        result = pipeline.gather_source(
            settings.database_url,
            source_id,
            fetcher=fetcher,
            backoff_base=settings.gather_backoff_base,
        )
    return asdict(result)


def enqueue_gather() -> GroupResult:
    ids = pipeline.source_ids(settings.database_url)
    gathering = group(gather_source.s(i) for i in ids)
    return gathering.apply_async()  # type: ignore[return-value]  # the stubs say AsyncResult


@app.task(name="digest.gather_all")
def gather_all() -> int:
    return len(enqueue_gather().results or [])


@app.task(name="digest.deliver_batch")
def deliver_batch(delivery_ids: list[int]) -> dict[str, Any]:
    report = pipeline.deliver_batch(settings, delivery_ids, transport(), policy=POLICY)
    if report.deferred:
        # The deferred copies come back as one task when the last of them is due (a task
        # that came earlier would skip the ones not due yet and leave them to the sweep).
        due = max(report.deferred.values())
        countdown = max(0.0, (due - utcnow()).total_seconds())
        deliver_batch.apply_async(args=(sorted(report.deferred),), countdown=countdown)
    return {
        "sent": report.sent,
        "failed": len(report.failed),
        "deferred": len(report.deferred),
        "skipped": report.skipped,
    }


def enqueue_deliveries(delivery_ids: list[int]) -> int:
    """Fan out in batches, one task per batch rather than per message."""
    batches = list(pipeline.batches(delivery_ids, settings.delivery_batch_size))
    with app.producer_or_acquire() as producer:  # one connection for them all
        for batch in batches:
            deliver_batch.apply_async((batch,), producer=producer)
    return len(batches)


def retry_countdown(status: MailStatus | None, retries: int) -> float | None:
    """Seconds until a transactional mail's next try (None: settled, or not ours): a
    temporary failure leaves the mail pending, tried again under the delivery policy."""
    return POLICY.delay(retries + 1) if status == MailStatus.PENDING else None


@app.task(name="digest.send_transactional", bind=True, max_retries=MAX_ATTEMPTS)
def send_transactional(self: Task, mail_id: int) -> str | None:
    transport = wiring.transport_for(settings)
    try:
        status = send_mail(settings, mail_id, transport, POLICY)
    finally:
        transport.close()
    countdown = retry_countdown(status, self.request.retries)
    if countdown is not None:
        # A retry lost with its worker is found by the sweep once it is overdue.
        raise self.retry(countdown=countdown)
    return None if status is None else status.value


def requeue_mails() -> int:
    """Hand out again the transactional mails nobody is sending (a broker that was down
    when they were queued, a process that died before or while sending); the claim keeps
    each one once. Stamped as handed out, so the next sweep waits another grace."""
    ids = due_mails(settings, policy=POLICY, mark_handed_out=True)
    for mail_id in ids:
        send_transactional.delay(mail_id)
    return len(ids)


def leftovers() -> list[int]:
    """What a lost queue or a dead worker left: pending copies handed out longer than the
    claim timeout ago, deferred ones now due, claims past the timeout."""
    return pipeline.due_deliveries(settings, queued_grace=settings.claim_timeout)


def requeue_leftovers() -> dict[str, int]:
    """Queue the leftovers again, then stamp them as handed out (only once queued, so a
    broker that is down leaves them for the next sweep)."""
    ids = leftovers()
    batches = enqueue_deliveries(ids)
    with db.session_scope(settings.database_url) as session:
        pipeline.mark_handed_out(session, ids, utcnow())
    return {"deliveries": len(ids), "batches": batches}


@app.task(name="digest.send_test")
def send_test(to: str, as_subscriber: str | None) -> dict[str, Any]:
    """A test copy, sent from a worker (which has the SMTP settings a web process may
    lack); the answer is plain data, an error included."""
    return testsend.answer(settings, to, as_subscriber)


@app.task(name="digest.deliver_webhooks")
def deliver_webhooks() -> dict[str, int]:
    """Every webhook event now due, one try each; a failed one is due again after its
    backoff, and the sweep (every minute) hands it out then."""
    return webhook_delivery.deliver_due(settings)


@app.task(name="digest.sweep")
def sweep() -> dict[str, int]:
    if webhook_delivery.due_events(settings):
        deliver_webhooks.delay()
    return {**requeue_leftovers(), "mails": requeue_mails()}


@app.task(name="digest.dispatch_due")
def dispatch_due() -> dict[str, int]:
    plan = pipeline.plan_send(settings, kind=SendKind.DUE)
    return {"deliveries": len(plan.delivery_ids), "batches": enqueue_deliveries(plan.delivery_ids)}
