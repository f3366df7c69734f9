"""Queries about admin users and their API tokens."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.store.models import AdminUser, ApiToken


def by_email(session: Session, address: str) -> AdminUser | None:
    return session.scalar(select(AdminUser).where(AdminUser.email == address))


def all_admins(session: Session) -> list[AdminUser]:
    return list(session.scalars(select(AdminUser).order_by(AdminUser.id)))


def tokens_with_owner(session: Session) -> list[tuple[ApiToken, str]]:
    """Every API token with its admin's address, oldest first."""
    rows = session.execute(
        select(ApiToken, AdminUser.email)
        .join(AdminUser, AdminUser.id == ApiToken.admin_user_id)
        .order_by(ApiToken.id)
    )
    return [(token, email) for token, email in rows]


def token_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    return session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AdminUser)) or 0)
