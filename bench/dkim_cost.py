"""What DKIM costs per copy: a copy made from an edition's template (a join of bytes),
then the same copies finished with a VERP return path and signed with RSA-2048 and with
Ed25519. Prints microseconds per copy and the ratio to an unsigned copy measured in the
same run, plus the signed copies per second one core can make.

    .venv/bin/python bench/dkim_cost.py [--copies 2000] [--kb 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from digest import wiring
from digest.config import Settings
from digest.core.placeholders import NAME, PREFERENCES_URL, UNSUBSCRIBE_URL
from digest.mail.outgoing import Finisher
from digest.mail.template import Recipient, build_template

PARAGRAPH = (
    "The harbour board of Little Harwick met on Tuesday to agree the winter ferry "
    "timetable; the last crossing moves to half past six and the Saturday market boat "
    "keeps its morning slot."
)


def edition(kb: int) -> tuple[str, str]:
    blocks = max(1, kb * 1024 // (len(PARAGRAPH) * 2 + 60))
    html = "".join(f'<p style="margin:0 0 12px">{PARAGRAPH}</p>\n' for _ in range(blocks))
    html = f'<p>Hello {NAME}</p>\n{html}<a href="{UNSUBSCRIBE_URL}">Unsubscribe</a> '
    html += f'<a href="{PREFERENCES_URL}">Preferences</a>'
    text = f"Hello {NAME}\n\n" + "\n\n".join([PARAGRAPH] * blocks)
    return html, text + f"\n\nUnsubscribe: {UNSUBSCRIBE_URL}\nPreferences: {PREFERENCES_URL}\n"


def key_file(directory: Path, kind: str) -> Path:
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "rsa"
        else ed25519.Ed25519PrivateKey.generate()
    )
    path = directory / f"{kind}.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=2000)
    parser.add_argument("--kb", type=int, default=30)
    args = parser.parse_args()
    html, text = edition(args.kb)
    template = build_template(
        sender="Harwick Digest <digest@news.example.org>",
        subject="Harwick Digest: ferry timetable and the winter market",
        html=html,
        text=text,
        list_id="Harwick Digest <harwick-digest.news.example.org>",
    )
    now = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    recipients = [
        Recipient(
            address=f"reader{i}@harwick.example",
            name=f"Reader {i}",
            message_id=f"<digest.e1.s{i}@news.example.org>",
            unsubscribe_url=f"https://news.example.org/unsubscribe/token{i}",
            preferences_url=f"https://news.example.org/preferences/token{i}",
            date=now,
        )
        for i in range(args.copies)
    ]

    def per_copy(finisher: Finisher | None) -> float:
        start = time.perf_counter()
        for i, r in enumerate(recipients):
            copy = template.copy_for(r)
            if finisher is not None:
                copy = finisher.finish(copy, i + 1)
        return (time.perf_counter() - start) / len(recipients) * 1e6

    size = len(template.copy_for(recipients[0]).plain()) / 1024
    base = per_copy(None)
    print(f"{args.copies} copies of {size:.1f} KB")
    print(f"{'unsigned copy':<28}{base:10.1f} µs/copy   1.00x   {1e6 / base:10.0f} copies/s")
    with tempfile.TemporaryDirectory() as tmp:
        for label, kind in (
            ("VERP only", None),
            ("VERP + RSA-2048", "rsa"),
            ("VERP + Ed25519", "ed"),
        ):
            settings = Settings(
                DIGEST_FROM="Harwick Digest <digest@news.example.org>",
                bounce_address="bounces@news.example.org",
                dkim_key_file=key_file(Path(tmp), kind) if kind else None,
                dkim_selector="tide" if kind else None,
            )
            cost = per_copy(wiring.finisher(settings))
            print(
                f"{label:<28}{cost:10.1f} µs/copy {cost / base:6.1f}x   {1e6 / cost:10.0f} copies/s"
            )


if __name__ == "__main__":
    main()
