"""One seam for "here or on the workers": the CLI and the web hand work to a Dispatcher.

`InProcess` runs gathering and delivery in the calling process; the Celery dispatcher in
`workers.dispatch` enqueues the same calls as tasks and watches them finish. Which one is
picked from the settings (`DIGEST_BROKER_URL`), here and nowhere else; the faces hand in
how to build the workers' dispatcher, so this module never imports a queue. Both report
progress through the same callback, so a progress bar or a web page needs no branch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from digest import pipeline, wiring
from digest.config import Settings
from digest.core.vocabulary import DeliveryStatus, SendKind
from digest.errors import DigestError

if TYPE_CHECKING:  # loaded by the test send itself: it brings the address checks
    from digest.mail import Transport
    from digest.pipeline.testsend import TestSend


@dataclass(frozen=True)
class Progress:
    label: str  # what is being done, e.g. "Gathering" or "Sending #12"
    done: int
    total: int
    note: str = ""  # e.g. "3 waiting 30 s for a retry"


OnProgress = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    pass


class Dispatcher(Protocol):
    where: str  # said to the user: "in this process", "on the workers"
    streams: bool  # copies can go out while the rest of the send is planned

    def gather(self, on_progress: OnProgress = no_progress) -> list[pipeline.GatherResult]:
        """Gather every source; one source's failure is in its result, not raised."""
        ...

    def leftovers(self) -> list[int]:
        """Copies of earlier sends to deliver with this one: deferred ones now due, ones a
        dead sender left claimed, ones a lost queue never handed out."""
        ...

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
        """Deliver these copies (the send's, and `earlier` ones of earlier sends); with
        wait, return them counted by state once none is queued or being sent (deferred ones
        wait for their next attempt). The first `handed_out` were given to `hand_out`
        already, while the send was planned."""
        ...

    def hand_out(self, delivery_ids: Sequence[int]) -> None:
        """Start on these copies now, while the plan goes on (only where `streams`)."""
        ...

    def send_transactional(self, mail_id: int) -> None:
        """Send one queued transactional mail (confirmation, welcome...), retrying 4xx."""
        ...

    def deliver_webhooks(self) -> None:
        """Deliver the webhook events now due (each try recorded; failures come back later)."""
        ...

    def send_stuck_mails(self) -> int:
        """Send again the transactional mails nobody is sending (a broker down when they
        were queued, a sender that died, a lost retry); the claim keeps each one once.
        Returns how many were handed out."""
        ...

    def send_test(self, to: str, as_subscriber: str | None = None) -> TestSend:
        """Mail a test copy (digest.pipeline.testsend) and say what went, or raise why not."""
        ...


class InProcess:
    """Everything in the calling process: the embedded default, no broker needed."""

    where = "in this process"
    streams = False

    def __init__(
        self, settings: Settings, transport: Callable[[], Transport] | None = None
    ) -> None:
        self.settings = settings
        self.transport = transport or (lambda: wiring.transport_for(settings))

    def gather(self, on_progress: OnProgress = no_progress) -> list[pipeline.GatherResult]:
        total = len(pipeline.source_ids(self.settings.database_url))
        done = 0
        on_progress(Progress("Gathering", 0, total))

        def on_result(result: pipeline.GatherResult) -> None:
            nonlocal done
            done += 1
            on_progress(Progress("Gathering", done, total))

        # Sources finish in any order; the results come back in the order of the sources.
        return pipeline.gather_all(self.settings, on_result=on_result)

    def leftovers(self) -> list[int]:
        # Nobody else hands out this process's copies: any pending one is fair game (a
        # concurrent send racing for it claims each copy once).
        return pipeline.due_deliveries(self.settings)

    def deliver(
        self,
        send_id: int | None,
        delivery_ids: Sequence[int],
        *,
        wait: bool = True,
        on_progress: OnProgress = no_progress,
        earlier: Sequence[int] = (),
        handed_out: int = 0,  # never here: this dispatcher does not stream
    ) -> dict[DeliveryStatus, int] | None:
        # In this process there is nobody to wait for: `wait` changes nothing.
        label = f"Sending #{send_id}" if send_id else "Sending earlier copies"
        total, done = len(delivery_ids), 0
        on_progress(Progress(label, 0, total))

        def on_settled(count: int) -> None:
            nonlocal done
            done += count
            on_progress(Progress(label, done, total))

        def on_wait(count: int, seconds: float) -> None:
            on_progress(
                Progress(label, done, total, f"{count} deferred, next try in {seconds:.0f} s")
            )

        transport = self.transport()
        try:
            report = pipeline.deliver_in_process(
                self.settings, delivery_ids, transport, on_settled=on_settled, on_wait=on_wait
            )
        finally:
            transport.close()
        if report.deferred:
            on_progress(Progress(label, done, total, f"{len(report.deferred)} deferred"))
        return pipeline.delivery_status(self.settings, send_id, earlier)

    def send_transactional(self, mail_id: int) -> None:
        # Retries wait in this process: the web app calls this after its answer has gone.
        transport = self.transport()
        try:
            pipeline.transactional.send_mail_in_process(self.settings, mail_id, transport)
        finally:
            transport.close()

    def hand_out(self, delivery_ids: Sequence[int]) -> None:
        raise NotImplementedError("one process plans first, then sends")

    def deliver_webhooks(self) -> None:
        from digest.pipeline import webhooks as webhook_delivery

        webhook_delivery.deliver_due(self.settings)

    def send_stuck_mails(self) -> int:
        # One try each: a temporary failure leaves the mail for a later sweep, after its
        # backoff, rather than holding this process.
        return sum(pipeline.transactional.send_due_mails(self.settings, self.transport).values())

    def send_test(self, to: str, as_subscriber: str | None = None) -> TestSend:
        from digest.pipeline.testsend import send_test

        return send_test(self.settings, to, as_subscriber=as_subscriber, transport=self.transport)


# Builds the Celery dispatcher. Only the faces (digest/cli.py, digest/web/) know the
# workers package, so they hand this in; the core never imports a queue.
WorkersFactory = Callable[[Settings, Callable[[str], None] | None], Dispatcher]


def dispatcher_for(
    settings: Settings,
    *,
    workers: WorkersFactory | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> Dispatcher:
    """The workers' dispatcher when a broker is configured, else this process."""
    if settings.broker_url:
        if workers is None:
            raise DigestError("DIGEST_BROKER_URL is set, but this program cannot reach workers")
        return workers(settings, on_warning)
    return InProcess(settings)


@dataclass(frozen=True)
class SendOutcome:
    plan: pipeline.SendPlan
    status: dict[DeliveryStatus, int] | None  # None: dry run, nothing to deliver, not waited
    picked_up: int = 0  # copies of earlier sends delivered with this one
    next_attempt: datetime | None = None  # the earliest deferred copy's next try
    mails_picked_up: int = 0  # transactional mails nobody was sending, handed out again


def send(
    settings: Settings,
    dispatcher: Dispatcher,
    *,
    kind: SendKind,
    email: str | None = None,
    topic: str | None = None,
    dry_run: bool = False,
    wait: bool = True,
    on_progress: OnProgress = no_progress,
    on_planned: Callable[[pipeline.SendPlan], None] | None = None,
) -> SendOutcome:
    """Plan a send here, pick up what earlier sends left (deferred copies now due, ones
    stuck past the claim timeout), then have the dispatcher deliver both.

    `on_planned` hears the plan as soon as it is written (the web answers with the send's
    id then, and shows its progress from the ledger while the copies go out).

    A send of everyone also hands out again, after its copies, the transactional mails
    nobody is sending (what beat's sweep does with workers; without them, a web process that
    died before its confirmation went out leaves it to the next `digest run`)."""
    outcome = _send(
        settings,
        dispatcher,
        kind=kind,
        email=email,
        topic=topic,
        dry_run=dry_run,
        wait=wait,
        on_progress=on_progress,
        on_planned=on_planned,
    )
    if dry_run or email:
        return outcome
    return replace(outcome, mails_picked_up=dispatcher.send_stuck_mails())


def _send(
    settings: Settings,
    dispatcher: Dispatcher,
    *,
    kind: SendKind,
    email: str | None,
    topic: str | None,
    dry_run: bool,
    wait: bool,
    on_progress: OnProgress,
    on_planned: Callable[[pipeline.SendPlan], None] | None,
) -> SendOutcome:
    plan = pipeline.plan_send(
        settings,
        kind=kind,
        email=email,
        topic=topic,
        dry_run=dry_run,
        on_chunk=dispatcher.hand_out if dispatcher.streams and not dry_run else None,
    )
    if on_planned is not None:
        on_planned(plan)
    if dry_run:
        return SendOutcome(plan, None)
    earlier: set[int] = set()
    if not email:
        earlier.update(dispatcher.leftovers())
        if plan.in_flight:
            # Copies of an earlier send still on their way: watch them too (handed out
            # again: a claim keeps each copy once), rather than saying "in flight" and
            # leaving them to a worker that may be dead.
            earlier.update(pipeline.unsettled_ids(settings))
    picked = sorted(earlier.difference(plan.delivery_ids)) if earlier else []
    ids = plan.delivery_ids + picked if picked else plan.delivery_ids
    if not ids:
        return SendOutcome(plan, None)
    status = dispatcher.deliver(
        plan.send_id,
        ids,
        wait=wait,
        on_progress=on_progress,
        earlier=picked,
        # Streamed: every copy of the plan was queued as its range was written.
        handed_out=len(plan.delivery_ids) if dispatcher.streams else 0,
    )
    deferred = (status or {}).get(DeliveryStatus.DEFERRED, 0)
    return SendOutcome(
        plan,
        status,
        picked_up=len(picked),
        next_attempt=pipeline.next_attempt(settings) if deferred else None,
    )
