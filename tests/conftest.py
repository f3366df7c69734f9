"""Shared fixtures. Temporary: a SQLite-only `database_url` until the shared one (SQLite and
PostgreSQL) lands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty database (no tables: call digest.db.upgrade)."""
    yield f"sqlite:///{tmp_path}/t.db"
