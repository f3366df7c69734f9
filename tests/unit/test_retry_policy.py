"""The one retry policy of a copy that met a temporary failure: about base, 2*base, 4*base...
seconds with jitter, never more than the longest pause, never past the window; the same
policy (from the same settings) in this process and in the workers' tasks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest import wiring
from digest.config import Settings
from digest.core.retry import RetryPolicy
from digest.pipeline.transactional import MAX_ATTEMPTS

ROOT = Path(__file__).resolve().parents[2]
PLANNED = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
POLICY = RetryPolicy(base_delay=30, max_delay=3600, window=86400)


def test_the_delay_doubles_with_each_attempt_and_jitter_takes_off_up_to_half() -> None:
    assert [POLICY.delay(a, rand=lambda: 1.0) for a in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert [POLICY.delay(a, rand=lambda: 0.0) for a in (1, 2, 3, 4)] == [15, 30, 60, 120]
    assert POLICY.delay(2, rand=lambda: 0.5) == 45
    drawn = [POLICY.delay(3) for _ in range(200)]  # the real random source
    assert all(60 <= d <= 120 for d in drawn)
    assert len(set(drawn)) > 1  # copies deferred together do not come back together


def test_the_delay_never_passes_the_longest_pause() -> None:
    assert POLICY.delay(7, rand=lambda: 1.0) == 1920
    assert POLICY.delay(8, rand=lambda: 1.0) == 3600  # 3840 capped
    assert POLICY.delay(10_000, rand=lambda: 1.0) == 3600  # no overflow for a long story
    assert POLICY.delay(10_000, rand=lambda: 0.0) == 1800


def test_the_next_attempt_comes_after_the_delay_and_never_past_the_window() -> None:
    now = PLANNED + timedelta(minutes=5)
    assert POLICY.next_attempt(1, PLANNED, now, rand=lambda: 1.0) == now + timedelta(seconds=30)
    assert POLICY.next_attempt(3, PLANNED, now, rand=lambda: 0.0) == now + timedelta(seconds=60)
    late = PLANNED + timedelta(hours=23, minutes=59)
    assert POLICY.next_attempt(20, PLANNED, late) == PLANNED + timedelta(days=1)  # the deadline
    assert POLICY.next_attempt(21, PLANNED, PLANNED + timedelta(days=1)) is None
    assert POLICY.next_attempt(1, PLANNED, PLANNED + timedelta(days=2)) is None


def test_a_time_given_by_the_server_is_kept_inside_the_window() -> None:
    inside = PLANNED + timedelta(hours=3)
    assert POLICY.after(inside, PLANNED) == inside
    assert POLICY.after(PLANNED + timedelta(days=1), PLANNED) is None
    assert POLICY.after(PLANNED + timedelta(days=1, seconds=-1), PLANNED) is not None


def test_the_policy_comes_from_the_settings() -> None:
    settings = Settings(retry_base_delay=7, retry_max_delay=70, retry_window=700)
    assert wiring.retry_policy(settings) == RetryPolicy(7, 70, 700)
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    assert (
        RetryPolicy(  # the same defaults
            defaults["retry_base_delay"], defaults["retry_max_delay"], defaults["retry_window"]
        )
        == RetryPolicy()
    )


def test_the_workers_tasks_use_the_same_policy_and_limit_as_this_process(tmp_path: Path) -> None:
    # The in-process path builds its policy with RetryPolicy.from_settings (test_deferral
    # checks the delays it writes); the Celery tasks must build the same one from the same
    # variables, and retry transactional mail as many times as the in-process loop.
    values = {"retry_base_delay": 7.0, "retry_max_delay": 70.0, "retry_window": 700.0}
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    environ.update({f"DIGEST_{name.upper()}": str(value) for name, value in values.items()})
    environ["PYTHONPATH"] = str(ROOT)
    script = (
        "import dataclasses, json\n"
        "from workers import tasks\n"
        "print(json.dumps({'policy': dataclasses.asdict(tasks.POLICY),\n"
        "                  'max_retries': tasks.send_transactional.max_retries}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,  # no .env of the checkout
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    expected = wiring.retry_policy(Settings(**values))  # type: ignore[arg-type]  # keyword arguments from a dict
    assert RetryPolicy(**seen["policy"]) == expected == RetryPolicy(7, 70, 700)
    assert seen["max_retries"] == MAX_ATTEMPTS
