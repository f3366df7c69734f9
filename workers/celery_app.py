"""The Celery app, configured from DIGEST_BROKER_URL, and the beat schedule."""

from __future__ import annotations

import sys

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_init

from digest import wiring
from digest.config import get_settings
from digest.errors import ConfigError
from digest.store import db

settings = get_settings()
broker = settings.broker_url or "redis://127.0.0.1:6379/0"

app = Celery("digest", broker=broker, backend=broker, include=["workers.tasks"])
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=3600,
    # A delivery batch must not be lost when a worker dies mid-task: acknowledge after
    # the work, and put the message back if the worker process is killed.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_transport_options={
        "visibility_timeout": settings.visibility_timeout,
        # Look for tasks of dead workers often enough to honour a short visibility timeout.
        "unacked_restore_interval": max(1.0, min(10.0, settings.visibility_timeout / 4)),
        "unacked_restore_throttle": 1,
    },
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    # Beat only enqueues; the work happens in the tasks.
    beat_schedule={
        "gather-every-15-minutes": {
            "task": "digest.gather_all",
            "schedule": crontab(minute="*/15"),
        },
        "dispatch-due-every-minute": {"task": "digest.dispatch_due", "schedule": crontab()},
        # Re-queue what a lost queue or a dead worker left, and deferred copies now due.
        "sweep-every-minute": {"task": "digest.sweep", "schedule": crontab()},
        # Deliveries and articles past their retention (digest.pipeline.retention), at a
        # quiet hour; each batch is a short transaction of its own.
        "prune-daily": {"task": "digest.prune", "schedule": crontab(minute=17, hour=3)},
    },
    timezone="UTC",
)


@worker_init.connect
def _check_database(**_: object) -> None:
    """A worker that cannot open the database, or whose templates are broken, says so in
    one line and does not start, rather than failing every task it takes. Nor does one
    whose secret key is the default where that is unsafe (it signs every link it mails)."""
    from digest.render.edition import check_templates
    from digest.runtime.secret_key import refuse_default_key

    try:
        db.check_connection(settings.database_url)
        check_templates(settings.templates_dir, wiring.mailing(settings))
        refuse_default_key(settings)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
