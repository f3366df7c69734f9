"""The admin's pure parts: the SVG chart, JSON log lines, webhook signatures, passwords."""

from __future__ import annotations

import json
import logging
import time
from datetime import date, timedelta
from xml.etree import ElementTree

import pytest

from digest.config import Settings
from digest.core.events import sign, verify
from digest.errors import InvalidField
from digest.runtime.logs import JsonFormatter, configure
from digest.services.admins import _hasher, check_password
from digest.web.charts import Series, daily_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_the_chart_is_svg_with_one_bar_per_day_scaled_to_the_largest() -> None:
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(10)]
    svg = daily_chart(
        days,
        [
            Series("deliveries", [0, 5, 10, 0, 0, 0, 0, 0, 0, 40], "#00f", bars=True),
            Series("sign-ups", [1] * 10, "#0a0"),
        ],
        "Activity <30 days>",
    )
    root = ElementTree.fromstring(svg)  # well-formed, title escaped
    assert root.get("role") == "img" and root.get("aria-label") == "Activity <30 days>"
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    heights = [float(r.get("height", "0")) for r in bars]
    assert len(bars) == 10 and heights[0] == 0 and heights[9] == max(heights)
    assert heights[2] == pytest.approx(heights[9] / 4, rel=0.01)
    assert [t.text for t in root.iter(f"{SVG}title")][-1] == "sign-ups 2026-11-10: 1"
    labels = [t.text for t in root.iter(f"{SVG}text") if t.text and t.text.startswith("Nov")]
    assert labels == ["Nov 03", "Nov 10"]  # today, and every seventh day before it


def test_json_logs_are_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    handler = configure(Settings(log_json=True))
    try:
        assert isinstance(handler.formatter, JsonFormatter)
        logging.getLogger("digest.test").warning("gathered %d sources", 3)
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("digest.test").exception("it broke")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["message"] == "gathered 3 sources" and lines[0]["level"] == "warning"
    assert lines[0]["logger"] == "digest.test" and lines[0]["time"].endswith("+00:00")
    assert "ValueError: boom" in lines[1]["exception"]


def test_text_logs_by_default() -> None:
    handler = configure(Settings())
    logging.getLogger().removeHandler(handler)
    assert not isinstance(handler.formatter, JsonFormatter)


def test_a_webhook_signature_covers_the_timestamp_and_the_body() -> None:
    now = int(time.time())
    body = b'{"event": "send.finished"}'
    signature = sign("secret", now, body)
    assert signature.startswith("sha256=") and verify("secret", str(now), body, signature)
    assert not verify("secret", str(now), body + b" ", signature)
    assert not verify("secret", str(now + 1), body, signature)
    assert not verify("secret", "soon", body, signature)
    old = now - 3600
    assert not verify("secret", str(old), body, sign("secret", old, body))


def test_passwords_are_hashed_with_argon2_and_short_ones_refused() -> None:
    with pytest.raises(InvalidField) as short:
        check_password("hunter2")
    assert short.value.field == "password"
    assert _hasher.hash("a long enough password").startswith("$argon2id$")
