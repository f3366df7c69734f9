"""Whether the service can work: what /health asks."""

from __future__ import annotations

from digest.config import Settings
from digest.store.db import check_connection


def ping_database(settings: Settings) -> None:
    """Open a connection and run a trivial query; ConfigError when the database cannot be
    reached (the message may name hosts and users: for the log, not for whoever asks)."""
    check_connection(settings.database_url)
