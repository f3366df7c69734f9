"""Transactional mails as the pipeline writes them: queued, claimed by one sender, their
outcome recorded, and the ones the sweep should hand out again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from digest.core.vocabulary import MailStatus, SubscriberStatus
from digest.store.db import affected_rows
from digest.store.models import Subscriber, TransactionalMail

CHUNK = 1000  # ids per IN list, under any database's limit on bound parameters


def add_mail(session: Session, mail: TransactionalMail) -> int:
    """Write a mail's row now (flushed, so it has its id); returns the id."""
    session.add(mail)
    session.flush()
    return mail.id


def claim_mail(session: Session, mail_id: int, claim_timeout: float, now: datetime) -> bool:
    """Take the mail for sending, in one UPDATE: a pending row, or one whose sender died
    longer ago than the timeout. False: it was not there to take."""
    abandoned = (TransactionalMail.status == MailStatus.SENDING) & (
        TransactionalMail.claimed_at < now - timedelta(seconds=claim_timeout)
    )
    result = session.execute(
        update(TransactionalMail)
        .where(
            TransactionalMail.id == mail_id,
            or_(TransactionalMail.status == MailStatus.PENDING, abandoned),
        )
        .values(
            status=MailStatus.SENDING,
            attempts=TransactionalMail.attempts + 1,
            claimed_at=now,
        )
    )
    return affected_rows(result) == 1


def mail_with_subscriber(
    session: Session, mail_id: int
) -> tuple[TransactionalMail, Subscriber | None]:
    """The mail's row (it must exist) and its subscriber's (None: gone meanwhile)."""
    mail = session.get_one(TransactionalMail, mail_id)
    return mail, session.get(Subscriber, mail.subscriber_id)


def record_mail(
    session: Session,
    mail: TransactionalMail,
    status: MailStatus,
    *,
    error: str | None = None,
    sent_at: datetime | None = None,
    message_id: str | None = None,
) -> None:
    """One try's outcome on the mail's row: sent (when, with which Message-ID), or the
    error that left it pending or failed it."""
    mail.status = status
    if error is not None:
        mail.last_error = error
    if sent_at is not None:
        mail.sent_at = sent_at
    if message_id is not None:
        mail.message_id = message_id


def due_mail_rows(
    session: Session, *, queued_before: datetime, abandoned_before: datetime
) -> list[tuple[int, MailStatus, int, datetime | None]]:
    """(id, status, attempts, claimed_at) of the mails pending since before
    `queued_before` (when last handed out, or written) and of those claimed before
    `abandoned_before` and still being sent, by id."""
    pending = TransactionalMail.status == MailStatus.PENDING
    rows = session.execute(
        select(TransactionalMail.id, TransactionalMail.status, TransactionalMail.attempts)
        .add_columns(TransactionalMail.claimed_at)
        .where(
            or_(
                pending
                & (
                    func.coalesce(TransactionalMail.claimed_at, TransactionalMail.created_at)
                    <= queued_before
                ),
                (TransactionalMail.status == MailStatus.SENDING)
                & (TransactionalMail.claimed_at < abandoned_before),
            )
        )
        .order_by(TransactionalMail.id)
    ).all()
    return [(mail_id, status, attempts, claimed) for mail_id, status, attempts, claimed in rows]


def mark_mails_handed_out(session: Session, mail_ids: Sequence[int], now: datetime) -> None:
    """Stamp these mails, where still pending, as handed to a sender now (`claimed_at` on
    a pending row: when it was last handed out)."""
    pending = TransactionalMail.status == MailStatus.PENDING
    for start in range(0, len(mail_ids), CHUNK):
        session.execute(
            update(TransactionalMail)
            .where(TransactionalMail.id.in_(mail_ids[start : start + CHUNK]), pending)
            .values(claimed_at=now)
            .execution_options(synchronize_session=False)
        )


def pending_subscribers(session: Session, subscriber_ids: Sequence[int]) -> list[Subscriber]:
    """Of these subscribers (at most `CHUNK` ids), those still pending, by id."""
    return list(
        session.scalars(
            select(Subscriber)
            .where(Subscriber.id.in_(subscriber_ids))
            .where(Subscriber.status == SubscriberStatus.PENDING)
            .order_by(Subscriber.id)
        )
    )
