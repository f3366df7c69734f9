"""CLI tables on a narrow terminal: columns that can go are left out, the rest uncut."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from digest.cli import output
from digest.cli.output import Column, show

ROWS = [
    {"id": i, "name": f"Harbour Courier {i}", "url": f"https://harbour.example/feeds/{i}.xml"}
    for i in range(3)
]
COLUMNS = (
    Column("id", lambda r: str(r["id"])),
    Column("name", lambda r: r["name"]),
    Column("url", lambda r: r["url"], drop=1),
)


def printed(monkeypatch: pytest.MonkeyPatch, width: int) -> str:
    out = io.StringIO()
    monkeypatch.setattr(output, "console", Console(file=out, width=width))
    show(ROWS, COLUMNS, as_json=False)
    return out.getvalue()


def test_a_narrow_terminal_drops_a_column_rather_than_cut_cells(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wide = printed(monkeypatch, 120)
    assert "https://harbour.example/feeds/2.xml" in wide and "Harbour Courier 2" in wide
    narrow = printed(monkeypatch, 40)
    assert "url" not in narrow and "…" not in narrow
    assert "Harbour Courier 2" in narrow
