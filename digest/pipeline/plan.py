"""Plan a send: who gets which edition now, and which abandoned copies are taken over.

`decide` is the rule book, a pure function of the recipients, the deliveries not yet
settled, what is new for each recipient and the clock. `plan_send` reads those from the
database, calls it, and writes the send, the editions and the ledger rows it decided on.
Every count it reports comes from rows it decided on or wrote, never from subtraction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from digest.config import Settings
from digest.core.plan import Unsettled, decide, due_recipients
from digest.core.schedule import ScheduleInfo, since
from digest.core.vocabulary import DeliveryStatus, SendKind, SubscriberStatus, utcnow
from digest.errors import InvalidInput
from digest.pipeline.editions import CANDIDATES, get_or_create_edition, render_subject
from digest.services.subscribers import find_subscriber
from digest.store import articles, deliveries, plans, sends
from digest.store.db import Session, session_scope
from digest.store.deliveries import UNSETTLED
from digest.store.models import Subscriber

# --- the rules (pure) ---------------------------------------------------------------------


# --- reads and writes around the rules ----------------------------------------------------


@dataclass(frozen=True)
class PlannedCopy:
    subscriber_id: int
    email: str
    subject: str
    articles: int


# New copies listed in a plan (a dry run lists every one): the count is in `planned`.
COPIES_LISTED = 1000


@dataclass
class SendPlan:
    send_id: int | None  # None: nothing to deliver, no send written (or a dry run)
    delivery_ids: list[int] = field(default_factory=list)  # every row this send delivers
    copies: list[PlannedCopy] = field(default_factory=list)  # the first COPIES_LISTED
    planned: int = 0  # new copies
    nothing_new: int = 0
    already_delivered: int = 0  # would have had an edition they were already sent
    # Would have had an edition whose copy failed (a 5xx, or the retry window ended):
    # not sent again by itself; `digest send` shows these failures.
    already_failed: int = 0
    in_flight: int = 0  # a copy from an earlier send is still being delivered
    taken_over: int = 0  # copies an earlier send left unsent, delivered by this one
    editions: set[int] = field(default_factory=set)


# Subscribers per query when reading their allowed sources: under any database's limit
# on bound parameters.
SUBSCRIBER_CHUNK = 1000
FIRST_RANGE = 100  # subscribers in the first range of a streamed plan


def allowed_sources(
    session: Session, subscriber_ids: Sequence[int], size: int = SUBSCRIBER_CHUNK
) -> dict[int, frozenset[int] | None]:
    """Each subscriber's allowed sources: None (every source) for one with no topics, else
    the sources sharing at least one topic with them (possibly none).

    One query per chunk of `size` subscribers (digest.store.plans.topic_sources).
    """
    allowed: dict[int, set[int]] = {}
    ids = list(dict.fromkeys(subscriber_ids))
    for start in range(0, len(ids), size):
        for subscriber_id, source_id in plans.topic_sources(session, ids[start : start + size]):
            sources = allowed.setdefault(subscriber_id, set())
            if source_id is not None:
                sources.add(source_id)
    return {i: frozenset(allowed[i]) if i in allowed else None for i in ids}


def new_articles(
    session: Session,
    subscribers: Sequence[Subscriber],
    settings: Settings,
    now: datetime,
    *,
    allowed: dict[int, frozenset[int] | None] | None = None,
) -> dict[int, tuple[int, ...]]:
    """For each subscriber, the ids of the articles they have not had yet (last stored
    first); the edition chooses which of them it shows (digest.pipeline.editions).

    A first digest reaches back `first_digest_days` by publication date (by when an undated
    article was first seen). Subscribers with the same sources and the same high-water mark
    share one query. `allowed` is `allowed_sources` of them when the caller has it.
    """
    if allowed is None:
        allowed = allowed_sources(session, [sub.id for sub in subscribers])
    groups: dict[tuple[frozenset[int] | None, int], list[int]] = defaultdict(list)
    for sub in subscribers:
        groups[(allowed[sub.id], sub.last_article_id)].append(sub.id)
    window_start = now - timedelta(days=settings.first_digest_days)
    result: dict[int, tuple[int, ...]] = {}
    for (sources, last_id), members in groups.items():
        ids: tuple[int, ...] = ()
        if sources is None or sources:
            ids = articles.new_article_ids(
                session,
                after=last_id,
                sources=sources,
                published_since=window_start if last_id == 0 else None,
                limit=CANDIDATES,
            )
        for member in members:
            result[member] = ids
    return result


def _by_scope(
    members: Sequence[int], allowed: dict[int, frozenset[int] | None]
) -> dict[frozenset[int] | None, list[int]]:
    """These subscribers by the sources of their topics (None: every source)."""
    groups: dict[frozenset[int] | None, list[int]] = defaultdict(list)
    for member in members:
        groups[allowed.get(member)].append(member)
    return groups


def recipients(session: Session, *, email: str | None) -> list[Subscriber]:
    """Every confirmed subscriber, or the one with this address (who must be confirmed)."""
    if email is not None:
        subscriber = find_subscriber(session, email)
        if subscriber.status != SubscriberStatus.CONFIRMED:
            raise InvalidInput(f"{subscriber.email} is {subscriber.status}, not confirmed")
        return [subscriber]
    return [s for chunk in recipient_chunks(session) for s in chunk]


def recipient_chunks(
    session: Session,
    size: int = SUBSCRIBER_CHUNK,
    *,
    topic: str | None = None,
    first: int | None = None,
) -> Iterator[list[Subscriber]]:
    """Confirmed subscribers by ascending id, `size` at a time (a range per query; the
    first range `first` long when given); with a topic, only those who chose it."""
    after = 0
    limit = min(first, size) if first else size
    while True:
        chunk = plans.confirmed_subscribers(session, after=after, limit=limit, topic=topic)
        if not chunk:
            return
        yield chunk
        after, limit = chunk[-1].id, size


def schedule_info(sub: Subscriber) -> ScheduleInfo:
    return ScheduleInfo(
        sub.id,
        sub.frequency,
        sub.hour,
        sub.timezone,
        since(sub.last_sent_at, sub.confirmed_at, sub.created_at, sub.slot_checked_at),
        weekday=sub.weekday,
        day_of_month=sub.day_of_month,
    )


def unsettled_deliveries(
    session: Session, first: int | None = None, last: int | None = None
) -> list[Unsettled]:
    """Deliveries not settled yet, of subscribers with ids from `first` to `last`."""
    return [
        Unsettled(
            r.id,
            r.subscriber_id,
            r.claimed_at or r.created_at,
            deferred=r.status == DeliveryStatus.DEFERRED,
        )
        for r in deliveries.unsettled_rows(session, first, last)
    ]


def plan_send(
    settings: Settings,
    *,
    kind: SendKind | str,
    email: str | None = None,
    topic: str | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    chunk_size: int = SUBSCRIBER_CHUNK,
    on_chunk: Callable[[list[int]], None] | None = None,
) -> SendPlan:
    """Decide who gets which edition now and write the ledger rows (unless dry_run).

    kind "now" sends to every confirmed subscriber (or `email`) regardless of schedule;
    kind "due" only to those whose local slot has come. Nobody gets a copy when nothing
    is new for them, and nobody gets the same edition twice. A due subscriber with nothing
    new has that slot marked as used (`slot_checked_at`): they wait for their next slot.

    Subscribers are read a range of `chunk_size` ids at a time and `decide` is applied to
    each range, its rows written in bulk, so memory does not grow with the list. The send's
    row is written only when there is something to deliver. `topic` limits it to the confirmed
    subscribers who chose that topic. With `on_chunk`, each range is committed on its own
    and the ids of its copies handed to `on_chunk` at once: workers start on them while
    the rest is planned.
    """
    kind = SendKind(kind)
    now = now or utcnow()
    plan = SendPlan(send_id=None)
    # (articles, readers' sources) -> edition id, subject
    editions: dict[tuple[tuple[int, ...], frozenset[int] | None], tuple[int, str]] = {}
    with session_scope(settings.database_url) as session:
        chunks: Iterable[list[Subscriber]] = (
            [recipients(session, email=email)]
            if email is not None
            # Streamed: a short first range, so that the first copies go out at once.
            else recipient_chunks(
                session, chunk_size, topic=topic, first=FIRST_RANGE if on_chunk else None
            )
        )
        for chunk in chunks:
            _plan_chunk(session, settings, chunk, plan, editions, kind, now, dry_run)
            session.expunge_all()  # the chunk's subscribers are done with
            if on_chunk is not None and plan.send_id is not None and not dry_run:
                # Written for good, so that the copies can go out while the next chunk
                # is planned (a plan cut short leaves pending rows the sweep hands out).
                session.commit()
                ids = deliveries.send_delivery_ids(session, plan.send_id, chunk[0].id, chunk[-1].id)
                if ids:
                    on_chunk(ids)
        if plan.send_id is not None:
            plan.delivery_ids = deliveries.send_delivery_ids(session, plan.send_id)
            if not plan.delivery_ids:  # every copy it meant to write existed already
                sends.delete_send(session, plan.send_id)
                plan.send_id = None
        return plan


def _plan_chunk(
    session: Session,
    settings: Settings,
    chunk: Sequence[Subscriber],
    plan: SendPlan,
    editions: dict[tuple[tuple[int, ...], frozenset[int] | None], tuple[int, str]],
    kind: SendKind,
    now: datetime,
    dry_run: bool,
) -> None:
    subscribers = {s.id: s for s in chunk}
    infos = [schedule_info(s) for s in chunk]
    due = [subscribers[i.subscriber_id] for i in due_recipients(infos, kind, now)]
    allowed = allowed_sources(session, [s.id for s in due])
    new = new_articles(session, due, settings, now, allowed=allowed)
    unsettled = unsettled_deliveries(session, chunk[0].id, chunk[-1].id)
    decision = decide(infos, unsettled, new, now, kind=kind, claim_timeout=settings.claim_timeout)
    plan.nothing_new += len(decision.nothing_new)
    plan.in_flight += len(decision.in_flight)
    plan.taken_over += len(decision.takeovers)
    # Readers of the same articles whose topics differ get editions of their own: "Read
    # also" and "Latest" come from their sources only.
    copies = [
        (ids, scope, scoped)
        for ids, members in decision.copies.items()
        for scope, scoped in _by_scope(members, allowed).items()
    ]
    if dry_run:
        for ids, scope, members in copies:
            if (ids, scope) not in editions:
                editions[ids, scope] = (0, render_subject(session, ids, settings, now))
            subject = editions[ids, scope][1]
            plan.planned += len(members)
            plan.copies += [
                PlannedCopy(m, subscribers[m].email, subject, len(ids)) for m in members
            ]
        return
    if kind is SendKind.DUE and decision.nothing_new:
        # Their slot came with nothing new: it is used up, so they wait for their next
        # slot rather than being mailed whenever the next article arrives.
        plans.mark_slot_checked(session, decision.nothing_new, now)
    if plan.send_id is None and (decision.copies or decision.takeovers):
        plan.send_id = sends.add_send(session, kind, now)
    taken = [t.delivery_id for t in decision.takeovers]
    if taken:
        deliveries.move_to_send(session, taken, plan.send_id)
    for ids, scope, members in copies:
        if (ids, scope) not in editions:
            edition = get_or_create_edition(session, ids, settings, now, sources=scope)
            editions[ids, scope] = (edition.id, edition.subject)
            plan.editions.add(edition.id)
        edition_id, subject = editions[ids, scope]
        existing = deliveries.add_copies(session, edition_id, members, plan.send_id, now)
        # A subscriber whose row was not inserted already has a copy of this edition: say
        # which kind (sent, failed, or being sent by a send planned at the same moment).
        others = [m for m in members if existing.get(m) != plan.send_id]
        if others:
            for status in deliveries.copy_statuses(session, edition_id, others):
                if status == DeliveryStatus.SENT:
                    plan.already_delivered += 1
                elif status in UNSETTLED:
                    plan.in_flight += 1
                else:
                    plan.already_failed += 1
        inserted = [m for m in members if existing.get(m) == plan.send_id]
        plan.planned += len(inserted)
        if len(plan.copies) < COPIES_LISTED:
            plan.copies += [
                PlannedCopy(m, subscribers[m].email, subject, len(ids))
                for m in inserted[: COPIES_LISTED - len(plan.copies)]
            ]
