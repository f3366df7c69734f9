"""A small server-side SVG chart: one bar series and line series over days, no script."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 16, 40


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[int]
    color: str
    bars: bool = False


def _nice_max(value: int) -> int:
    if value <= 4:
        return 4
    step = 10 ** (len(str(value)) - 1)
    return ((value + step - 1) // step) * step


def daily_chart(days: Sequence[date], series: Sequence[Series], title: str) -> str:
    """An accessible SVG: bars for the first bar series, polylines for the others, a
    y axis from 0 and a label under every seventh day; each point has a <title>."""
    n = max(len(days), 1)
    top = _nice_max(max((v for s in series for v in s.values), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n

    def x(i: int) -> float:
        return LEFT + slot * i + slot / 2

    def y(v: int) -> float:
        return TOP + plot_h - plot_h * v / top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" class="chart" font-family="system-ui, sans-serif" '
        'font-size="11">',
        f"<title>{escape(title)}</title>",
    ]
    for k in range(5):
        v = top * k // 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            'stroke="#e5e7eb"/>'
            f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#6b7280">{v}</text>'
        )
    for i, day in enumerate(days):
        if (n - 1 - i) % 7 == 0:  # counted from today, so labels never crowd
            parts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'fill="#6b7280">{day:%b %d}</text>'
            )
    for s in series:
        if s.bars:
            width = max(slot * 0.7, 1)
            for i, v in enumerate(s.values):
                parts.append(
                    f'<rect class="bar" x="{x(i) - width / 2:.1f}" y="{y(v):.1f}" '
                    f'width="{width:.1f}" height="{y(0) - y(v):.1f}" fill="{s.color}">'
                    f"<title>{escape(s.name)} {days[i]:%Y-%m-%d}: {v}</title></rect>"
                )
        else:
            points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
            parts.append(
                f'<polyline class="line" points="{points}" fill="none" stroke="{s.color}" '
                'stroke-width="2"/>'
            )
            for i, v in enumerate(s.values):
                parts.append(
                    f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{s.color}">'
                    f"<title>{escape(s.name)} {days[i]:%Y-%m-%d}: {v}</title></circle>"
                )
    legend_x = LEFT
    for s in series:
        parts.append(
            f'<rect x="{legend_x}" y="{HEIGHT - 14}" width="10" height="10" fill="{s.color}"/>'
            f'<text x="{legend_x + 14}" y="{HEIGHT - 5}" fill="#374151">{escape(s.name)}</text>'
        )
        legend_x += 24 + 7 * len(s.name)
    parts.append("</svg>")
    return "".join(parts)
