"""Beat's dispatch, for real: a `digest beat` process and a Celery worker on redis-server
send the digest of a subscriber whose local hour has come to the SMTP server, and nobody
else's.

Beat runs its every-minute entries at the turn of each minute, counted from their last run
as its schedule file records it. The test writes that file as a beat that last ran two
minutes ago leaves it (beat restarted after downtime), so the entry is due at once and the
test does not wait for the minute to turn; the schedule itself is beat's own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from celery import Celery
from celery.beat import PersistentScheduler
from celery.schedules import crontab
from smtp_sink import Sink

from digest.services.subscribers import add_subscriber
from digest.store import db
from digest.store.models import Article, Source

ROOT = Path(__file__).resolve().parents[2]
# Zones whose hours begin at different minutes of UTC's (+05:45, +05:30, +00:00): at any
# moment at least two of them are far from the turn of their local hour.
ZONES = ("Asia/Kathmandu", "Asia/Kolkata", "UTC")
DISPATCH = "dispatch-due-every-minute"  # the entry's name in workers/celery_app.py


def last_ran(schedule_file: Path, entry: str, when: datetime) -> None:
    """Write beat's schedule file as a beat whose `entry` last ran at `when` left it."""
    app = Celery("seed")
    app.conf.update(
        timezone="UTC",
        beat_schedule={entry: {"task": "digest.dispatch_due", "schedule": crontab()}},
    )
    scheduler = PersistentScheduler(app=app, schedule_filename=str(schedule_file))
    try:
        scheduler.schedule[entry].last_run_at = when
        scheduler.sync()
    finally:
        scheduler.close()


def test_beat_dispatches_a_subscriber_at_their_local_hour(
    env: dict[str, str], worker, smtp: tuple[Sink, str], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    sink, _ = smtp
    now = datetime.now(UTC)
    # A zone whose next local hour is more than a minute away: the other subscriber's
    # hour must not come while the test runs. The first such zone, not a wait.
    zone, local = next(
        (z, now.astimezone(ZoneInfo(z))) for z in ZONES if now.astimezone(ZoneInfo(z)).minute < 58
    )
    slot = local.replace(minute=0, second=0, microsecond=0)
    url = env["DIGEST_DATABASE_URL"]
    with db.session_scope(url) as session:
        source = Source(url="https://harwick.example/feed.xml", name="Harwick Post")
        session.add(source)
        session.flush()
        session.add(
            Article(
                source_id=source.id,
                key="ferry",
                link="https://harwick.example/ferry",
                title="The night ferry runs again",
                summary="From Monday the last ferry leaves at midnight.",
                published_at=now - timedelta(hours=2),
                first_seen_at=now - timedelta(hours=2),
            )
        )
        # Both confirmed just before this local hour began: this hour is Ana's first slot
        # since then; Bo's is the next hour, so beat has nothing for Bo yet.
        before = (slot - timedelta(minutes=1)).astimezone(UTC)
        for email, hour in (
            ("ana@example.org", slot.hour),
            ("bo@example.org", (slot.hour + 1) % 24),
        ):
            add_subscriber(
                session, email, confirmed=True, hour=hour, timezone=zone, now=before
            )  # fmt: skip

    last_ran(tmp_path / "celerybeat-schedule", DISPATCH, now - timedelta(minutes=2))
    log_path = tmp_path / "beat.log"
    with log_path.open("w") as log:
        beat = subprocess.Popen(
            [sys.executable, "-m", "digest", "beat", "--loglevel=INFO"],
            cwd=tmp_path,  # beat keeps its schedule file (celerybeat-schedule) here
            env={**env, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        [digest] = sink.wait_for(1, timeout=40)
        time.sleep(1)  # a copy for Bo, or a second for Ana, would have come by now
    finally:
        beat.terminate()
        try:
            beat.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(beat.pid, signal.SIGKILL)
    beat_log = log_path.read_text()
    assert "Sending due task dispatch-due-every-minute (digest.dispatch_due)" in beat_log, beat_log
    assert [m["To"].addresses[0].addr_spec for m in sink.messages] == ["ana@example.org"]
    text = digest.get_body(("plain",)).get_content()
    assert "The night ferry runs again" in text
