"""The digest email of N articles (each with a lead image, three "Read also" links, a 600-
character summary; every third in Arabic): its HTML size against Gmail's 102 KB clipping
limit, the time to render and inline it once per edition against the time to fill in one
subscriber's copy, and what the start-up template check costs.

    .venv/bin/python bench/email_render.py [--items 20] [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from digest.render.edition import (
    DigestItem,
    Link,
    Mailing,
    check_templates,
    environment,
    personalize,
    render_edition,
)
from digest.runtime.showcase import SHOWCASE

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
GMAIL_CLIP = 102 * 1024
SUMMARY = (
    "The council approved the harbour plan after a long debate about the ferry landing, "
    "the bus lanes on the shore road and the cost of moving the fish market. "
) * 4


def items(n: int) -> tuple[DigestItem, ...]:
    return tuple(
        DigestItem(
            title=f"Story {i}: the harbour plan moves ahead with a new ferry landing",
            url=f"https://news.lakeside.example/2026/11/story-{i}-harbour-plan-ferry-landing",
            source="Lakeside Gazette",
            published=SHOWCASE.date,
            author="Ines Varga",
            summary=SUMMARY[:600],
            read_also=tuple(
                Link(f"Earlier story {i}.{j} about the harbour", f"https://e.example/{i}/{j}")
                for j in range(3)
            ),
            language="ar" if i % 3 == 0 else "en",
            image_url=f"https://news.lakeside.example/images/story-{i}-lead.jpg",
        )
        for i in range(n)
    )


def best_of(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times) if repeat < 5 else statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    content = replace(SHOWCASE, items=items(args.items), latest=SHOWCASE.latest)
    mailing = Mailing(sender="Lakeside <digest@news.lakeside.example>", postal_address="4 Row")
    edition = render_edition(content, TEMPLATES, mailing=mailing)
    size = len(edition.html.encode())
    shown = edition.html.count('class="item"')
    environment(TEMPLATES)  # compiled once per process, as in a worker
    render = best_of(args.repeat, lambda: render_edition(content, TEMPLATES, mailing=mailing))
    plain = best_of(
        args.repeat,
        lambda: render_edition(content, TEMPLATES, mailing=mailing, inline=lambda d: d),
    )
    fill = best_of(
        args.repeat * 50,
        lambda: personalize(edition, name="Noor", unsubscribe_url="u", preferences_url="p"),
    )
    check = best_of(args.repeat, lambda: check_templates(TEMPLATES, mailing))
    print(f"items: {args.items} (shown {shown}), HTML {size:,} bytes, text {len(edition.text):,}")
    print(f"size / Gmail's clipping limit ({GMAIL_CLIP:,}): {size / GMAIL_CLIP:.2f}")
    print(f"render + inline, once per edition: {render * 1000:.1f} ms")
    print(f"  of which Jinja2 alone: {plain * 1000:.1f} ms (inlining x{render / plain:.1f})")
    print(f"one subscriber's copy (personalize): {fill * 1e6:.0f} us")
    print(f"  edition render / one copy: {render / fill:.0f}x")
    print(f"start-up template check: {check * 1000:.1f} ms")


if __name__ == "__main__":
    main()
