"""Queries of sends."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.store.models import Send


def count_sends(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Send)) or 0


def send_ids(session: Session, *, limit: int, offset: int = 0) -> list[int]:
    """The ids of a page of sends, newest first."""
    return list(
        session.scalars(select(Send.id).order_by(Send.id.desc()).limit(limit).offset(offset))
    )
