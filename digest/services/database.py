"""The database as a whole: made or upgraded, checked, a new revision written, closed."""

from __future__ import annotations

from pathlib import Path

from digest.config import Settings
from digest.store import db, schema


def prepare(settings: Settings, *, migrate: bool = False) -> None:
    """Create or upgrade the schema (`migrate`: init and run), else require it current:
    an old schema raises SchemaOutOfDate asking for `digest init`."""
    if migrate:
        schema.upgrade(settings.database_url)
    else:
        schema.require_current_schema(settings.database_url)


def new_revision(settings: Settings, message: str) -> Path:
    """Write a new migration from the difference between the models and the database."""
    return schema.new_revision(settings.database_url, message)


def close_all() -> None:
    """Close every pooled connection of this process (SQLite folds its log back in)."""
    db.close_all()
