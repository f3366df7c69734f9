"""The stages joined over the database, one module per job.

- `gather`: fetch each source, store the entries not seen before.
- `editions`: one rendered digest per distinct set of articles.
- `plan`: who gets which edition now (`decide` is pure; `plan_send` reads and writes).
- `deliver`: claim, send and record copies by the batch; one retry policy; the sweep.
- `reports`: what a send did, the lists, and a preview of the next digest.

Each function takes plain values (ids, settings, a transport) and does its own I/O at the
edges, so the same calls run in this process or inside a Celery task. A job owns its
transactions (`digest.store.db.session_scope`); every query it makes is a function of the
store (digest.store.articles, gathering, editions, plans, deliveries, sends, mails).


Names are re-exported here and each module is imported on first use, so that a command
that only sends does not load the gathering code (feed parsers, HTTP clients).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_MODULES = {"deliver", "editions", "gather", "plan", "reports", "transactional"}
_WHERE = {
    "DeliveryReport": "deliver",
    "GatherResult": "gather",
    "SendPlan": "plan",
    "SourceCheck": "gather",
    "article_from_entry": "gather",
    "batches": "deliver",
    "check_source": "gather",
    "compose": "deliver",
    "deliver_batch": "deliver",
    "deliver_in_process": "deliver",
    "delivery_status": "reports",
    "due_deliveries": "deliver",
    "edition_content": "editions",
    "failed_deliveries": "reports",
    "gather_all": "gather",
    "gather_source": "gather",
    "get_or_create_edition": "editions",
    "mark_handed_out": "deliver",
    "next_attempt": "reports",
    "plan_send": "plan",
    "preview": "reports",
    "send_status": "reports",
    "source_ids": "gather",
    "unsettled_ids": "deliver",
}
__all__ = [
    "DeliveryReport",
    "GatherResult",
    "SendPlan",
    "SourceCheck",
    "article_from_entry",
    "batches",
    "check_source",
    "compose",
    "deliver_batch",
    "deliver_in_process",
    "delivery_status",
    "due_deliveries",
    "edition_content",
    "failed_deliveries",
    "gather_all",
    "gather_source",
    "get_or_create_edition",
    "mark_handed_out",
    "next_attempt",
    "plan_send",
    "preview",
    "send_status",
    "source_ids",
    "unsettled_ids",
]


def __getattr__(name: str) -> Any:
    if name in _MODULES:  # pipeline.plan and the like, as after `import digest.pipeline.plan`
        return importlib.import_module(f"{__name__}.{name}")
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from digest.pipeline.deliver import (
        DeliveryReport,
        batches,
        compose,
        deliver_batch,
        deliver_in_process,
        due_deliveries,
        mark_handed_out,
        unsettled_ids,
    )
    from digest.pipeline.editions import edition_content, get_or_create_edition
    from digest.pipeline.gather import (
        GatherResult,
        SourceCheck,
        article_from_entry,
        check_source,
        gather_all,
        gather_source,
        source_ids,
    )
    from digest.pipeline.plan import SendPlan, plan_send
    from digest.pipeline.reports import (
        delivery_status,
        failed_deliveries,
        next_attempt,
        preview,
        send_status,
    )
