"""One use case, one transaction: how a face runs a service function that takes a session.

The service functions that make up the store's rules (`add_source(session, ...)`,
`remove_subscriber(session, ...)`) take the session of the use case they are part of, so
that several can share one transaction. A face that runs one of them on its own calls
`run(settings, function, ...)`: the session is opened, committed (or rolled back on an
error) and closed here, and the face never sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from digest.config import Settings
from digest.store.db import Session, session_scope

P = ParamSpec("P")
T = TypeVar("T")


def run(
    settings: Settings,
    use_case: Callable[Concatenate[Session, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """`use_case(session, *args, **kwargs)` in a transaction of its own; its result (rows
    it returns stay readable: the session does not expire them on commit)."""
    with session_scope(settings.database_url) as session:
        return use_case(session, *args, **kwargs)
