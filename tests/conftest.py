"""Shared fixtures.

Temporary: `database_url` is SQLite only here; the shared conftest parametrizes it over
SQLite and a real PostgreSQL server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty database."""
    yield f"sqlite:///{tmp_path}/t.db"
