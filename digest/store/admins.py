"""Queries about admin users and their API tokens."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from digest.store.models import AdminSession, AdminUser, ApiToken


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


def add_session(session: Session, row: AdminSession) -> None:
    session.add(row)
    session.flush()


def session_by_hash(session: Session, session_hash: str) -> AdminSession | None:
    return session.scalar(select(AdminSession).where(AdminSession.session_hash == session_hash))


def end_session(session: Session, session_hash: str) -> None:
    session.execute(delete(AdminSession).where(AdminSession.session_hash == session_hash))


def end_sessions_of_admin(session: Session, admin_user_id: int) -> None:
    """Every console session of this admin user (the password changed, or they left)."""
    session.execute(delete(AdminSession).where(AdminSession.admin_user_id == admin_user_id))


def end_sessions_of_token(session: Session, api_token_id: int) -> None:
    """Every console session signed in with this API token (it was revoked)."""
    session.execute(delete(AdminSession).where(AdminSession.api_token_id == api_token_id))
