"""The stages joined over the database, one module per job.

- `gather`: fetch each source, store the entries not seen before.
- `editions`: one rendered digest per distinct set of articles.
- `plan`: who gets which edition now (`decide` is pure; `plan_send` reads and writes).
- `deliver`: claim, send and record copies by the batch; one retry policy; the sweep.
- `reports`: what a send did, the lists, and a preview of the next digest.

Each function takes plain values (ids, settings, a transport) and does its own I/O at the
edges, so the same calls run in this process or inside a Celery task.
"""

from digest.pipeline.deliver import (
    DeliveryReport,
    RetryPolicy,
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
    settings_fetcher,
    source_ids,
)
from digest.pipeline.plan import Decision, SendPlan, decide, plan_send
from digest.pipeline.reports import (
    delivery_status,
    failed_deliveries,
    next_attempt,
    preview,
    send_status,
    source_rows,
    subscriber_rows,
)

__all__ = [
    "Decision",
    "DeliveryReport",
    "GatherResult",
    "RetryPolicy",
    "SendPlan",
    "SourceCheck",
    "article_from_entry",
    "batches",
    "check_source",
    "compose",
    "decide",
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
    "settings_fetcher",
    "source_ids",
    "source_rows",
    "subscriber_rows",
    "unsettled_ids",
]
