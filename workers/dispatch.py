"""The Celery dispatcher: the same work as `digest.runtime.dispatch.InProcess`, done by workers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from digest import pipeline
from digest.config import Settings
from digest.core.vocabulary import DeliveryStatus, utcnow
from digest.errors import DigestError
from digest.runtime.dispatch import OnProgress, Progress, no_progress
from digest.services import sends

if TYPE_CHECKING:
    from digest.pipeline.testsend import TestSend

# Copies still queued or being sent; deferred ones are waiting for their next attempt.
WAITING = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
POLL_SECONDS = 0.2
POLL_LONGEST = 1.0


def poll_interval(done: int, waiting: int, elapsed: float) -> float:
    """How long to wait before counting the ledger again: a quarter of the time the rest
    should take at the rate so far, between 50 ms and 1 s. A big send is counted about
    once a second (each count reads every row of it); the end is seen within 50 ms."""
    if done <= 0 or elapsed <= 0:
        return POLL_SECONDS
    left = waiting / (done / elapsed)
    return min(POLL_LONGEST, max(0.05, left / 4))


class CeleryDispatcher:
    where = "on the workers"
    streams = True

    def __init__(
        self,
        settings: Settings,
        on_warning: Callable[[str], None] | None = None,
        *,
        check_now: bool = False,
    ) -> None:
        """With `check_now`, the broker check starts at once on a thread: it waits on the
        network while the caller plans (a command about to send or gather)."""
        self.settings = settings
        self.on_warning = on_warning or (lambda message: None)
        self._checked = False  # the broker answered (and the workers were asked)
        self._workers_answered = False
        self._check: threading.Thread | None = None
        self._check_failed: DigestError | None = None
        if check_now:
            self._check = threading.Thread(target=self._check_in_background, daemon=True)
            self._check.start()

    def _check_in_background(self) -> None:
        try:
            self._check_broker()
        except DigestError as exc:
            self._check_failed = exc

    def _ready(self) -> None:
        """Fail clearly when the broker is unreachable; warn when no worker answers."""
        if self._check is not None:
            self._check.join()
            self._check = None
            if self._check_failed is not None:
                raise self._check_failed
        if not self._checked:
            self._check_broker()

    def _check_broker(self) -> None:
        from workers import app

        try:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1)
            answers = app.control.ping(timeout=1.0, limit=1)  # back at the first answer
        except Exception as exc:
            raise DigestError(
                f"cannot reach the broker at {self.settings.broker_url}: {exc}"
            ) from None
        if not answers:
            self.on_warning(
                "no worker answered; the work waits in the queue until `digest worker` runs"
            )
        self._workers_answered = bool(answers)
        self._checked = True

    def hand_out(self, delivery_ids: Sequence[int]) -> None:
        """Queue a planned chunk's copies at once: workers send them while the plan goes on."""
        from workers.tasks import enqueue_deliveries

        self._ready()
        ids = list(delivery_ids)
        self._enqueue(lambda: enqueue_deliveries(ids))

    def gather(self, on_progress: OnProgress = no_progress) -> list[pipeline.GatherResult]:
        from workers.tasks import enqueue_gather

        self._ready()
        group = enqueue_gather()
        total = len(group.results or [])
        while not group.ready():
            on_progress(Progress("Gathering (workers)", group.completed_count(), total))
            time.sleep(POLL_SECONDS)
        on_progress(Progress("Gathering (workers)", total, total))
        return [pipeline.GatherResult(**r) for r in group.get(propagate=True)]

    def leftovers(self) -> list[int]:
        from workers.tasks import leftovers

        return leftovers()

    def deliver(
        self,
        send_id: int | None,
        delivery_ids: Sequence[int],
        *,
        wait: bool = True,
        on_progress: OnProgress = no_progress,
        earlier: Sequence[int] = (),
        handed_out: int = 0,
    ) -> dict[DeliveryStatus, int] | None:
        """Queue the copies in batches (but the first `handed_out`, queued while planning),
        then watch the ledger until none is queued or being sent. While watching, copies a
        lost queue or a dead worker left behind are queued again after the claim timeout;
        with no progress for DIGEST_SEND_WAIT_TIMEOUT seconds, give up and say what is left
        (the copies stay in the ledger)."""
        from workers.tasks import enqueue_deliveries, requeue_leftovers

        self._ready()
        rest = list(delivery_ids[handed_out:])
        if rest:
            self._enqueue(lambda: enqueue_deliveries(rest))
        if not wait:
            return None
        label = f"Sending #{send_id} (workers)" if send_id else "Sending (workers)"
        total = len(delivery_ids)
        started = last_change = time.monotonic()
        last = -1
        next_sweep = time.monotonic() + self.settings.claim_timeout
        while True:
            status = pipeline.delivery_status(self.settings, send_id, earlier)
            waiting = sum(status.get(s, 0) for s in WAITING)
            done = total - waiting
            note = ", ".join(
                f"{status[s]} {s.value}"
                for s in (*WAITING, DeliveryStatus.DEFERRED)
                if status.get(s)
            )
            on_progress(Progress(label, done, total, note))
            if send_id and sends.pause_reason(self.settings, send_id):
                return status  # the error budget stopped it: the CLI says why
            now = time.monotonic()
            if not waiting and not self._retry_soon(status, now - started):
                return status
            if done != last:
                last, last_change = done, now
            elif now - last_change > self.settings.send_wait_timeout:
                raise DigestError(
                    f"no progress for {self.settings.send_wait_timeout:g} s: {note} of "
                    f"{total}. Are the workers running (`digest worker`)? The copies stay in "
                    "the ledger; beat's sweep or the next `digest send` queues them again."
                )
            if now >= next_sweep:
                # A worker killed mid-batch, or a broker that lost its queue, leaves copies
                # that nothing will deliver: queue them again (claims keep each copy once).
                self._enqueue(lambda: self._say_requeued(requeue_leftovers()))
                next_sweep = now + self.settings.claim_timeout / 2
            time.sleep(poll_interval(done, waiting, now - started))

    def send_transactional(self, mail_id: int) -> None:
        # No ping here: a web request should not wait on the workers; the task queues.
        from workers.tasks import send_transactional

        try:
            send_transactional.delay(mail_id)
        except Exception as exc:  # kombu's connection errors vary by transport
            # The mail's row stays pending: beat's sweep hands it out once the broker is back.
            self.on_warning(
                f"the broker is unreachable ({type(exc).__name__}: {exc}); mail {mail_id} "
                "stays queued in the database and is sent when it is back"
            )

    def _retry_soon(self, status: dict[DeliveryStatus, int], waited: float) -> bool:
        """Deferred copies due within DIGEST_SEND_RETRY_WAIT of the start are waited for,
        as in this process; later ones are left to the workers' countdowns.

        The count and the next attempt are read one after the other: a worker may take the
        last deferred copy in between. None deferred any more is then a reason to count
        again (the copy is being sent), not to stop with it counted as deferred."""
        if not status.get(DeliveryStatus.DEFERRED):
            return False
        due = pipeline.next_attempt(self.settings)
        if due is None:
            return True
        return waited + max(0.0, (due - utcnow()).total_seconds()) <= self.settings.send_retry_wait

    def _say_requeued(self, counts: dict[str, int]) -> None:
        if counts["deliveries"]:
            self.on_warning(
                f"queued {counts['deliveries']} copies again that no worker had taken for "
                f"{self.settings.claim_timeout:g} s (a queue lost by the broker, or a worker "
                "that died); each is still sent once"
            )

    def _enqueue(self, enqueue: Callable[[], object]) -> None:
        """Queue, or say the broker is unreachable and go on: the ledger keeps the copies
        and the sweep queues them again once the broker is back."""
        try:
            enqueue()
        except Exception as exc:  # kombu's connection errors vary by transport
            self.on_warning(
                f"the broker went away while queuing ({type(exc).__name__}: {exc}); "
                "the copies stay pending and are queued again when it is back"
            )

    def send_test(self, to: str, as_subscriber: str | None = None) -> TestSend:
        """Sent by a worker, waited for: whoever asked hears what went or why not. A copy
        no worker takes in time is never sent later (the task expires)."""
        from celery.exceptions import TimeoutError as NoAnswer

        from digest.pipeline.testsend import from_answer
        from workers.tasks import send_test

        self._ready()
        if not self._workers_answered:
            raise DigestError(
                "no worker answered: test copies are sent by the workers (`digest worker`)"
            )
        wait = self.settings.smtp_timeout * 2 + 10  # a render, and one SMTP exchange
        result = send_test.apply_async((to, as_subscriber), expires=wait)
        try:
            answered = result.get(timeout=wait)
        except NoAnswer:
            raise DigestError(
                f"no worker sent the test copy within {wait:g} s; it will not be sent"
            ) from None
        finally:
            result.forget()
        return from_answer(answered)

    def deliver_webhooks(self) -> None:
        from workers.tasks import deliver_webhooks

        deliver_webhooks.delay()

    def send_stuck_mails(self) -> int:
        from workers.tasks import requeue_mails

        return requeue_mails()
