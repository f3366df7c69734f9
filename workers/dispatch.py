"""The Celery dispatcher: the same work as `digest.dispatch.InProcess`, done by workers."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from digest import pipeline, sends
from digest.config import Settings
from digest.dispatch import OnProgress, Progress, no_progress
from digest.errors import DigestError
from digest.models import DeliveryStatus

SETTLED = {
    DeliveryStatus.SENT,
    DeliveryStatus.FAILED,
    DeliveryStatus.SKIPPED,
    DeliveryStatus.BOUNCED,
    DeliveryStatus.CANCELLED,
}
POLL_SECONDS = 0.25


class CeleryDispatcher:
    where = "on the workers"

    def __init__(
        self, settings: Settings, *, on_warning: Callable[[str], None] | None = None
    ) -> None:
        self.settings = settings
        self.on_warning = on_warning or (lambda message: None)

    def _ready(self) -> None:
        """Fail clearly when the broker is unreachable; warn when no worker answers."""
        from workers import app

        try:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1)
            answers = app.control.ping(timeout=1.0)
        except Exception as exc:
            raise DigestError(
                f"cannot reach the broker at {self.settings.broker_url}: {exc}"
            ) from None
        if not answers:
            self.on_warning(
                "no worker answered; the work waits in the queue until `digest worker` runs"
            )

    def gather(self, on_progress: OnProgress = no_progress) -> list[pipeline.GatherResult]:
        from workers.tasks import enqueue_gather

        self._ready()
        group = enqueue_gather()
        total = len(group.results or [])
        while not group.ready():
            on_progress(Progress("Gathering (workers)", group.completed_count(), total))
            time.sleep(POLL_SECONDS)
        on_progress(Progress("Gathering (workers)", total, total))
        return [pipeline.GatherResult(**r) for r in group.get(propagate=True)]

    def deliver(
        self,
        send_id: int,
        delivery_ids: Sequence[int],
        *,
        wait: bool = True,
        on_progress: OnProgress = no_progress,
    ) -> dict[DeliveryStatus, int] | None:
        from workers.tasks import enqueue_deliveries

        self._ready()
        enqueue_deliveries(list(delivery_ids))
        if not wait:
            return None
        label, total = f"Sending #{send_id} (workers)", len(delivery_ids)
        while True:
            status = pipeline.send_status(self.settings, send_id)
            settled = sum(n for s, n in status.items() if s in SETTLED)
            on_progress(Progress(label, settled, total))
            if settled >= total:
                return status
            if sends.pause_reason(self.settings, send_id):  # the error budget stopped it
                return status
            time.sleep(POLL_SECONDS)
