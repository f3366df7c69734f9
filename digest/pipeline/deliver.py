"""Deliver: claim a batch of planned copies, send them over one connection, record them.

`deliver_batch` goes in named steps: the claim (one statement per chunk in the store, an
UPDATE whose WHERE holds the condition, with RETURNING, so of two workers only one gets
each row) held by a `Lease` fenced by the claim's stamp; what the batch sends with
(`_load`: its subscribers and the editions' templates, serialised once, see
digest.mail.template); the sending threads (`_Sender.attempt` on each copy, over the
kept-open connections of the transport); each outcome noted in order (`_Outcomes.note`,
which counts the send's error budget, digest.core.budget); and the record of them all in
one commit (`_record`: the copies still ours, their subscribers, bounces, the budget and
the webhooks of finished sends).

A temporary failure (a 4xx, no connection, a timeout) defers the copy to a later time
under the `RetryPolicy` (exponential backoff with jitter, within a retry window), in this
process and on the workers alike; only a permanent answer (5xx) or the end of the window
fails it, with the last error kept. `due_deliveries` finds what a lost queue or a dead
worker left behind, so a sweep can hand it out again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from digest import wiring
from digest.config import Settings
from digest.core.budget import ErrorBudget
from digest.core.links import subscriber_links
from digest.core.retry import RetryPolicy
from digest.core.vocabulary import DeliveryStatus, SubscriberStatus, utcnow
from digest.errors import (
    Bounced,
    InvalidInput,
    PermanentError,
    RateLimited,
    SoftBounce,
    TemporaryError,
    TransportDown,
)
from digest.mail import Transport, message_id_for
from digest.mail.message import domain_of, list_id_for
from digest.mail.template import MessageTemplate, OutgoingCopy, Recipient, build_template
from digest.services import bounces, webhooks
from digest.store import deliveries, editions
from digest.store.db import Session, session_scope
from digest.store.deliveries import Addressee, Claimed, mark_handed_out
from digest.store.sends import record_error_budget

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    deferred: dict[int, datetime] = field(default_factory=dict)  # id -> next attempt
    skipped: int = 0  # taken by another worker, not due yet, or the subscriber left
    bounced: int = 0
    sent_ids: set[int] = field(default_factory=set)

    def forget(self, ids: set[int]) -> None:
        """Drop the outcomes of copies another sender took over (it reports them)."""
        self.sent -= len(ids & self.sent_ids)
        self.sent_ids -= ids
        self.failed = [f for f in self.failed if f[0] not in ids]
        for i in ids:
            self.deferred.pop(i, None)


# Builds one subscriber's copy from the edition's template; raising fails that copy only.
Composer = Callable[[Settings, MessageTemplate, Addressee, str, datetime], OutgoingCopy]


def compose(
    settings: Settings, template: MessageTemplate, sub: Addressee, message_id: str, now: datetime
) -> OutgoingCopy:
    """One subscriber's copy: the edition's bytes with their address, name and links."""
    links = subscriber_links(settings.base_url, settings.secret_key, sub.id)
    return template.copy_for(
        Recipient(
            address=sub.email,
            name=sub.name,
            message_id=message_id,
            unsubscribe_url=links.unsubscribe,
            preferences_url=links.preferences,
            date=now,
        )
    )


# Editions do not change once rendered: each process keeps the last few templates.
_templates: OrderedDict[tuple[str, int], tuple[MessageTemplate, int]] = OrderedDict()
TEMPLATES_KEPT = 8


def edition_template(
    session: Session, settings: Settings, edition_id: int
) -> tuple[MessageTemplate, int]:
    """The edition's message template and its newest article (0: none left)."""
    key = (settings.database_url, edition_id)
    if key in _templates:
        _templates.move_to_end(key)
        return _templates[key]
    edition = editions.get_edition(session, edition_id)
    template = build_template(
        sender=settings.from_address,
        subject=edition.subject,
        html=edition.html,
        text=edition.text,
        list_id=list_id_for(settings.list_name, settings.base_url),
        unsubscribe_mailto=settings.unsubscribe_mailto,
        anonymous=wiring.mailing(settings).anonymous,
    )
    _templates[key] = (template, max(edition.article_ids, default=0))
    while len(_templates) > TEMPLATES_KEPT:
        _templates.popitem(last=False)
    return _templates[key]


class Lease:
    """A batch's hold on the copies it claimed, fenced by the claim's stamp.

    The claim writes `claimed_at`; a sender that seems dead (no renewal for the claim
    timeout) may have its copies taken over by another, which writes its own stamp. So
    every renewal and the final record only touch rows still carrying this lease's stamp:
    a sender that stalled (a slow template, a hung connection) and lost its copies learns
    it at its next renewal, sends none of them, and never overwrites the new owner's
    outcome. Renewals come every third of the timeout, counted from the claim itself.
    """

    def __init__(self, settings: Settings, ids: Sequence[int], stamp: datetime) -> None:
        self.settings = settings
        self.held = set(ids)
        self.stamp = stamp
        self.renewed = time.monotonic()
        self._lock = threading.Lock()  # senders on several connections share the lease

    def keep(self) -> None:
        """Renew when a third of the claim timeout has passed since the last renewal."""
        if time.monotonic() - self.renewed <= self.settings.claim_timeout / 3:
            return
        with self._lock:
            if time.monotonic() - self.renewed > self.settings.claim_timeout / 3:
                with session_scope(self.settings.database_url) as session:
                    self.fence(session, utcnow())

    def fence(self, session: Session, stamp: datetime) -> set[int]:
        """Move the stamp on the rows still ours (locking them until the session commits);
        forget the ones another sender took over."""
        kept = deliveries.fence(session, sorted(self.held), self.stamp, stamp)
        self.held, self.stamp, self.renewed = kept, stamp, time.monotonic()
        return kept

    def holds(self, delivery_id: int) -> bool:
        return delivery_id in self.held


@dataclass
class _BatchState:
    down: str | None = None  # the server cannot be reached: defer the rest without trying
    limited: RateLimited | None = None  # every server at its limit: the rest waits too
    lost: int = 0  # copies another sender took over while this one stalled


@dataclass
class _Batch:
    """A claimed batch and what it sends with; its state is written by `_Outcomes.note`
    alone (in the batch's thread) and read by the senders."""

    claimed: list[Claimed]
    lease: Lease
    addressees: dict[int, Addressee]
    templates: dict[int, tuple[MessageTemplate, int]]  # edition id -> template, newest
    budget: ErrorBudget
    state: _BatchState = field(default_factory=_BatchState)


def _load(settings: Settings, claimed: list[Claimed], lease: Lease) -> _Batch:
    """The claimed copies' subscribers and their editions' templates, in one session."""
    with session_scope(settings.database_url) as session:
        addressees = deliveries.addressees(session, [c.subscriber_id for c in claimed])
        templates = {
            e: edition_template(session, settings, e) for e in {c.edition_id for c in claimed}
        }
    return _Batch(claimed, lease, addressees, templates, ErrorBudget(settings.error_budget))


@dataclass
class _Try:
    """One claimed copy's attempt: sent (no error), refused (error), or not tried."""

    claimed: Claimed
    sub: Addressee | None
    message_id: str | None = None
    sent_at: datetime | None = None
    error: Exception | None = None
    back: bool = False  # the error budget ran out: back to pending
    skipped: str | None = None  # why it was not sent (the subscriber left)
    lost: bool = False  # another sender holds it now


class _Sender:
    """Makes and sends one copy at a time; `attempt` may run on several threads (a
    transport with several connections), so it only reads the batch's state and returns
    what happened."""

    def __init__(
        self, settings: Settings, batch: _Batch, transport: Transport, compose: Composer
    ) -> None:
        self.settings = settings
        self.batch = batch
        self.transport = transport
        self.compose = compose
        self.domain = domain_of(settings.from_address)
        self.finisher = wiring.finisher(settings)  # VERP return path and DKIM, when configured

    def attempt(self, c: Claimed) -> _Try:
        batch, state = self.batch, self.batch.state
        if batch.budget.exhausted:  # this batch used up the error budget: the rest goes back
            return _Try(c, None, back=True)
        sub = batch.addressees.get(c.subscriber_id)
        if sub is None or sub.status != SubscriberStatus.CONFIRMED:
            why = f"subscriber is {sub.status}" if sub else "subscriber is gone"
            return _Try(c, sub, skipped=why)
        template, _ = batch.templates[c.edition_id]
        message_id = message_id_for(c.edition_id, sub.id, self.domain, self.settings.secret_key)
        sent_at = utcnow()
        try:
            if state.down is not None:
                raise TemporaryError(state.down)
            if state.limited is not None:
                raise state.limited
            copy = self.compose(self.settings, template, sub, message_id, sent_at)
            # Renew the claim (all copies stay unrecorded until the batch's commit) right
            # before handing a copy over, and never hand over one that is no longer ours.
            batch.lease.keep()
            if not batch.lease.holds(c.id):
                return _Try(c, sub, lost=True)
            self.transport.send_copy(self.finisher.finish(copy, c.id))
        except Exception as exc:  # classified by `_Outcomes.note`, in the batch's thread
            return _Try(c, sub, message_id, sent_at, error=exc)
        return _Try(c, sub, message_id, sent_at)


def _row(c: Claimed, status: DeliveryStatus, **values: object) -> dict[str, object]:
    return {"id": c.id, "status": status, "next_attempt_at": None, **values}


class _Outcomes:
    """The batch's outcomes, noted in the order the copies were sent: the delivery rows
    and subscriber columns to write, the bounces to count, the report and the budget."""

    def __init__(self, batch: _Batch, policy: RetryPolicy, report: DeliveryReport) -> None:
        self.batch = batch
        self.policy = policy
        self.report = report
        self.rows: list[dict[str, object]] = []
        self.subscribers: dict[int, dict[str, object]] = {}
        self.bounced: list[bounces.Bounce] = []

    def note(self, t: _Try) -> None:
        """Record one attempt's outcome in the batch's rows and report."""
        c, sub, exc = t.claimed, t.sub, t.error
        rows, report, budget = self.rows, self.report, self.batch.budget
        state, policy = self.batch.state, self.policy
        if t.back:
            rows.append(_row(c, DeliveryStatus.PENDING))
            report.skipped += 1
        elif t.skipped is not None:
            rows.append(_row(c, DeliveryStatus.SKIPPED, last_error=t.skipped))
            report.skipped += 1
        elif t.lost:
            state.lost += 1
        elif sub is None or t.sent_at is None:
            raise AssertionError("an attempt without its subscriber")
        elif isinstance(exc, Bounced):  # 5xx to RCPT or DATA: one attempt, no retry
            rows.append(_row(c, DeliveryStatus.BOUNCED, last_error=str(exc)))
            self.bounced.append(bounces.Bounce(sub.id, True, str(exc)))
            report.bounced += 1
        elif isinstance(exc, TemporaryError):
            if isinstance(exc, TransportDown):
                state.down = str(exc)
            next_at = policy.next_attempt(c.attempts, c.created_at, t.sent_at)
            if isinstance(exc, RateLimited):  # not a failure: come back when there is room
                state.limited = exc
                next_at = policy.after(exc.until, c.created_at)
            if next_at is None and isinstance(exc, SoftBounce):  # refused to the end: soft
                error = f"refused for {policy.window:g} s: {exc}"
                rows.append(_row(c, DeliveryStatus.BOUNCED, last_error=error))
                self.bounced.append(bounces.Bounce(sub.id, False, error))
                report.bounced += 1
            elif next_at is None:
                error = f"gave up after {policy.window:g} s of retries: {exc}"
                rows.append(_row(c, DeliveryStatus.FAILED, last_error=error))
                report.failed.append((c.id, error))
                budget.outcome(c.id, False, error)
            else:
                rows.append(
                    _row(c, DeliveryStatus.DEFERRED, last_error=str(exc), next_attempt_at=next_at)
                )
                report.deferred[c.id] = next_at
        elif exc is not None:  # permanent refusals, and bugs: this copy only
            error = (
                str(exc)
                if isinstance(exc, (PermanentError, InvalidInput))
                else f"unexpected {type(exc).__name__}: {exc}"
            )
            rows.append(_row(c, DeliveryStatus.FAILED, last_error=error))
            report.failed.append((c.id, error))
            budget.outcome(c.id, False, error)
        else:
            budget.outcome(c.id, True)
            rows.append(
                _row(
                    c,
                    DeliveryStatus.SENT,
                    sent_at=t.sent_at,
                    message_id=t.message_id,
                    last_error=None,
                )
            )
            # An accepted copy starts the row of soft bounces again (digest.services.bounces).
            newest = self.batch.templates[c.edition_id][1]
            mark = self.subscribers.setdefault(
                sub.id, {"id": sub.id, "last_article_id": 0, "soft_bounces": 0}
            )
            mark["last_article_id"] = max(sub.last_article_id, newest, int(mark["last_article_id"]))  # type: ignore[call-overload]
            mark["last_sent_at"] = t.sent_at
            report.sent += 1
            report.sent_ids.add(c.id)

    def keep_only(self, ours: set[int], claim_timeout: float) -> None:
        """Drop the rows of copies another sender took over before the record (it reports
        them)."""
        gone = [r for r in self.rows if r["id"] not in ours]
        if not gone:
            return
        self.rows = [r for r in self.rows if r["id"] in ours]
        self.batch.state.lost += len(gone)
        self.report.forget({int(r["id"]) for r in gone})  # type: ignore[call-overload]
        log.warning(
            "%d copies were taken over by another sender before this batch recorded "
            "them (it stalled past the claim timeout of %g s); %d had been sent",
            len(gone),
            claim_timeout,
            sum(r["status"] == DeliveryStatus.SENT for r in gone),
        )


def _send_all(
    claimed: Sequence[Claimed],
    attempt: Callable[[Claimed], _Try],
    note: Callable[[_Try], None],
    width: int,
) -> None:
    """Attempt every copy, on one thread per connection the transport keeps (`width`);
    the outcomes are noted in order, on this thread."""
    width = min(max(1, width), len(claimed))
    if width == 1:
        for c in claimed:
            note(attempt(c))
    else:
        with ThreadPoolExecutor(width, thread_name_prefix="digest-send") as pool:
            for t in pool.map(attempt, claimed):
                note(t)


def _record(settings: Settings, batch: _Batch, outcomes: _Outcomes) -> None:
    """Write the batch's outcomes in one commit: only those of the copies still ours (the
    lease's last fence), the subscribers' columns, the bounces, the error budget, and the
    sends that have nothing left to go."""
    with session_scope(settings.database_url) as session:
        ours = batch.lease.fence(session, utcnow())  # record only the copies still ours
        outcomes.keep_only(ours, settings.claim_timeout)
        deliveries.record_outcomes(session, outcomes.rows, list(outcomes.subscribers.values()))
        bounces.count_bounces(session, settings, outcomes.bounced)
        record_error_budget(session, batch.budget)
        # In the same commit as the outcomes: a send that has nothing left to go says so.
        webhooks.record_finished_sends(session, [c.id for c in batch.claimed])


def deliver_batch(
    settings: Settings,
    delivery_ids: Sequence[int],
    transport: Transport,
    *,
    policy: RetryPolicy | None = None,
    on_settled: Callable[[int], None] | None = None,
    compose: Composer = compose,
) -> DeliveryReport:
    """Claim these deliveries, send the claimed ones, record every outcome in one commit.

    `on_settled(n)` is told, after the commit, how many copies reached their end (sent,
    failed or skipped); deferred copies are not settled yet.
    """
    policy = policy or wiring.retry_policy(settings)
    report = DeliveryReport()
    now = utcnow()
    with session_scope(settings.database_url) as session:
        claimed = deliveries.claim_batch(session, delivery_ids, settings.claim_timeout, now)
    lease = Lease(settings, [c.id for c in claimed], now)
    report.skipped = len(set(delivery_ids)) - len(claimed)
    if not claimed:
        if on_settled and report.skipped:
            on_settled(report.skipped)
        return report
    batch = _load(settings, claimed, lease)
    outcomes = _Outcomes(batch, policy, report)
    sender = _Sender(settings, batch, transport, compose)
    _send_all(claimed, sender.attempt, outcomes.note, getattr(transport, "width", 1))
    _record(settings, batch, outcomes)
    report.skipped += batch.state.lost
    settled = len(set(delivery_ids)) - len(report.deferred)
    if on_settled and settled:
        on_settled(settled)
    return report


def batches(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    """``ids`` in as few batches of at most ``size`` as can hold them, of even sizes (600
    ids in batches of 500 are two of 300, so that two workers share them)."""
    if not ids:
        return
    count = -(-len(ids) // max(1, size))
    even = -(-len(ids) // count)
    for start in range(0, len(ids), even):
        yield list(ids[start : start + even])


def deliver_in_process(
    settings: Settings,
    delivery_ids: Sequence[int],
    transport: Transport,
    *,
    policy: RetryPolicy | None = None,
    on_settled: Callable[[int], None] | None = None,
    on_wait: Callable[[int, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    compose: Composer = compose,
    retry_wait: float | None = None,
) -> DeliveryReport:
    """deliver_batch over every id, then the deferred copies that come due while this
    process is willing to wait (`retry_wait`, default DIGEST_SEND_RETRY_WAIT seconds).

    Copies deferred to later stay deferred in the ledger (in `report.deferred`): the next
    `digest send`, `digest run` or beat dispatch picks them up. `on_wait(count, seconds)`
    is told before each pause how many copies wait for a retry.
    """
    policy = policy or wiring.retry_policy(settings)
    wait_limit = settings.send_retry_wait if retry_wait is None else retry_wait
    started = time.monotonic()
    total = DeliveryReport()
    deferred: dict[int, datetime] = {}
    todo = list(delivery_ids)
    while True:
        for batch in batches(todo, settings.delivery_batch_size):
            report = deliver_batch(
                settings, batch, transport, policy=policy, on_settled=on_settled, compose=compose
            )
            total.sent += report.sent
            total.failed += report.failed
            total.skipped += report.skipped
            total.bounced += report.bounced
            for i in batch:
                deferred.pop(i, None)
            deferred.update(report.deferred)
        if not deferred:
            break
        pause = max(0.0, (min(deferred.values()) - utcnow()).total_seconds())
        if time.monotonic() - started + pause > wait_limit:
            break
        if on_wait:
            on_wait(len(deferred), pause)
        sleep(pause)
        now = utcnow()
        todo = sorted(i for i, at in deferred.items() if at <= now)
    total.deferred = deferred
    return total


def due_deliveries(
    settings: Settings,
    now: datetime | None = None,
    *,
    queued_grace: float = 0.0,
    mark_queued: bool = False,
) -> list[int]:
    """Copies that should be on their way and may not be: deferred ones now due, ones
    claimed by a sender that died (past the claim timeout), and pending ones handed to a
    queue more than `queued_grace` seconds ago (a broker that lost its queue).

    With `mark_queued`, the pending ones found are stamped as handed out now, so the next
    sweep leaves them alone for another `queued_grace` seconds.
    """
    now = now or utcnow()
    queued_before = now - timedelta(seconds=queued_grace)
    with session_scope(settings.database_url) as session:
        ids = deliveries.due_ids(
            session, now, queued_before=queued_before, claim_timeout=settings.claim_timeout
        )
        if mark_queued and ids:
            mark_handed_out(session, ids, now)
    return ids


def unsettled_ids(settings: Settings) -> list[int]:
    """Copies queued or being sent right now (by this send's predecessors, maybe dead)."""
    with session_scope(settings.database_url) as session:
        return deliveries.unsettled_ids(session)
