"""Transactional mail: confirmation, welcome and preferences-link mails to one person.

Not digest editions: each is rendered from its own template pair in `templates/email/`
when queued, recorded in `transactional_mails`, and sent through the same transports
under the same `RetryPolicy` (4xx and lost connections are tried again). A row is claimed
before it is sent, so a retried task never mails twice.

`due_mails` is the sweep: mails nobody is sending although somebody should be (a broker
that was down when the mail was queued, a process that died before or while sending it, a
retry that was lost). Handing them out again is safe: the claim keeps each mail once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from digest import wiring
from digest.config import Settings
from digest.core.links import PREFERENCES, UNSUBSCRIBE, confirm_url, link_url, make_confirm_token
from digest.core.retry import RetryPolicy
from digest.core.vocabulary import MailKind, MailStatus, utcnow
from digest.errors import InvalidInput, PermanentError, TemporaryError
from digest.mail import Transport
from digest.mail.message import build_transactional_message, domain_of
from digest.render.edition import environment
from digest.store import mails
from digest.store.db import Session, session_scope
from digest.store.models import Subscriber, TransactionalMail

# A confirmation or a welcome is wanted now, not tomorrow: a few tries, spaced by the
# delivery retry policy's delays, then the mail fails (the person can ask for a new one).
MAX_ATTEMPTS = 5
# How long a queued mail is left to the sender it was handed to before the sweep hands it
# out again (or the claim timeout, when that is shorter): a confirmation is wanted now.
QUEUED_GRACE = 60.0

SUBJECTS = {
    MailKind.CONFIRM: "Please confirm your subscription to {list_name}",
    MailKind.WELCOME: "Welcome to {list_name}",
    MailKind.PREFERENCES: "Your {list_name} preferences",
}


def render_mail(
    settings: Settings, kind: MailKind, context: dict[str, Any]
) -> tuple[str, str, str]:
    """Subject, HTML and text of one transactional mail."""
    env = environment(settings.templates_dir, "email")
    context = {"list_name": settings.list_name, **context}
    html = env.get_template(f"{kind.value}.html").render(context)
    text = env.get_template(f"{kind.value}.txt").render(context)
    return SUBJECTS[kind].format(list_name=settings.list_name), html, text


def queue_mail(
    session: Session,
    settings: Settings,
    sub: Subscriber,
    kind: MailKind,
    *,
    preferences: dict[str, Any] | None = None,
) -> int:
    """Write the mail's row (pending) and return its id; the caller dispatches it after
    the transaction commits. A confirmation carries a new link with these preferences."""
    base, secret = settings.base_url, settings.secret_key
    context: dict[str, Any] = {
        "name": sub.name,
        "email": sub.email,
        "preferences_url": link_url(base, secret, PREFERENCES, sub.id),
        "unsubscribe_url": link_url(base, secret, UNSUBSCRIBE, sub.id),
        "confirm_days": max(1, round(settings.confirm_max_age / 86400)),
    }
    if kind == MailKind.CONFIRM:
        context["confirm_url"] = confirm_url(
            base, make_confirm_token(secret, sub.id, preferences or {})
        )
    subject, html, text = render_mail(settings, kind, context)
    mail = TransactionalMail(
        subscriber_id=sub.id,
        kind=kind,
        to_address=sub.email,
        subject=subject,
        html=html,
        text=text,
        status=MailStatus.PENDING,
        created_at=utcnow(),
    )
    return mails.add_mail(session, mail)


def claim_mail(session: Session, mail_id: int, claim_timeout: float) -> bool:
    """One UPDATE: pending rows, or rows whose sender died longer ago than the timeout."""
    return mails.claim_mail(session, mail_id, claim_timeout, utcnow())


def due_mails(
    settings: Settings,
    now: datetime | None = None,
    *,
    policy: RetryPolicy | None = None,
    mark_handed_out: bool = False,
) -> list[int]:
    """Mails that should be on their way and may not be: pending ones handed to a sender
    more than the grace ago that it never took (a broker down when queued, a process that
    died first), pending ones whose retry is overdue (a retry lost with its worker), and
    ones claimed by a sender that died (past the claim timeout).

    A retry is overdue once the longest delay `policy` could have drawn after that attempt,
    plus the grace, has passed since the attempt. With `mark_handed_out`, the pending ones
    found are stamped as handed out now, so the next sweep leaves them alone for another
    grace (a long queue of confirmations is not queued again every minute).
    """
    now = now or utcnow()
    policy = policy or wiring.retry_policy(settings)
    grace = timedelta(seconds=min(QUEUED_GRACE, settings.claim_timeout))
    abandoned = now - timedelta(seconds=settings.claim_timeout)
    with session_scope(settings.database_url) as session:
        found = mails.due_mail_rows(session, queued_before=now - grace, abandoned_before=abandoned)
        ids: list[int] = []
        handed: list[int] = []
        for mail_id, status, attempts, claimed_at in found:
            if status == MailStatus.PENDING:
                if attempts and claimed_at is not None:
                    longest = timedelta(seconds=policy.delay(attempts, rand=lambda: 1.0))
                    if claimed_at + longest + grace > now:
                        continue  # its retry may still be on its way
                handed.append(mail_id)
            ids.append(mail_id)
        if mark_handed_out:
            mails.mark_mails_handed_out(session, handed, now)
    return ids


def send_mail(
    settings: Settings, mail_id: int, transport: Transport, policy: RetryPolicy
) -> MailStatus | None:
    """Send one queued mail once. Returns its state after: SENT, FAILED, PENDING (a
    temporary failure, to be tried again), or None when it was not ours to send."""
    with session_scope(settings.database_url) as session:
        if not claim_mail(session, mail_id, settings.claim_timeout):
            return None
    with session_scope(settings.database_url) as session:
        mail, sub = mails.mail_with_subscriber(session, mail_id)
        now = utcnow()
        message_id = f"<digest.t{mail.id}@{domain_of(settings.from_address)}>"
        try:
            msg = build_transactional_message(
                sender=settings.from_address,
                to_address=mail.to_address,
                to_name=sub.name if sub else None,
                subject=mail.subject,
                html=mail.html,
                text=mail.text,
                message_id=message_id,
                date=now,
            )
            transport.send(msg)
        except TemporaryError as exc:
            status = MailStatus.FAILED if mail.attempts >= MAX_ATTEMPTS else MailStatus.PENDING
            mails.record_mail(session, mail, status, error=str(exc))
            return status
        except Exception as exc:  # permanent refusals, and bugs: this mail only
            known = isinstance(exc, PermanentError | InvalidInput)
            error = str(exc) if known else f"unexpected {type(exc).__name__}: {exc}"
            mails.record_mail(session, mail, MailStatus.FAILED, error=error)
            return MailStatus.FAILED
        mails.record_mail(session, mail, MailStatus.SENT, sent_at=now, message_id=message_id)
        return MailStatus.SENT


def send_due_mails(
    settings: Settings, transport: Callable[[], Transport], *, policy: RetryPolicy | None = None
) -> dict[MailStatus, int]:
    """The sweep without workers: one try for each mail `due_mails` finds (a temporary
    failure leaves it pending, due again after its backoff). Counts by outcome; the
    transport is opened only when there is something to send."""
    policy = policy or wiring.retry_policy(settings)
    counts: dict[MailStatus, int] = {}
    ids = due_mails(settings, policy=policy, mark_handed_out=True)
    if not ids:
        return counts
    opened = transport()
    try:
        for mail_id in ids:
            status = send_mail(settings, mail_id, opened, policy)
            if status is not None:
                counts[status] = counts.get(status, 0) + 1
    finally:
        opened.close()
    return counts


def send_mail_in_process(
    settings: Settings,
    mail_id: int,
    transport: Transport,
    *,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> MailStatus | None:
    """send_mail with the retries a queue would otherwise give, under the same policy."""
    policy = policy or wiring.retry_policy(settings)
    status: MailStatus | None = None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        status = send_mail(settings, mail_id, transport, policy)
        if status != MailStatus.PENDING:
            return status
        sleep(policy.delay(attempt))
    return status


def queue_confirmations(settings: Settings, subscriber_ids: Sequence[int]) -> list[int]:
    """Queue a confirmation for each subscriber still pending (an import's pending rows):
    the link confirms the preferences they have. Returns the mails' ids, to dispatch."""
    mail_ids = []
    ids = sorted(set(subscriber_ids))
    for start in range(0, len(ids), 1000):  # under any database's limit on parameters
        with session_scope(settings.database_url) as session:
            pending = mails.pending_subscribers(session, ids[start : start + 1000])
            mail_ids += [queue_mail(session, settings, sub, MailKind.CONFIRM) for sub in pending]
    return mail_ids
