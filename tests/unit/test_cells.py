"""Exported cells a spreadsheet would run as formulas are written as text, and come back."""

from __future__ import annotations

import pytest

from digest.core.cells import neutralize, restore

HOSTILE = ["=cmd|'/C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1"]


@pytest.mark.parametrize("cell", HOSTILE)
def test_a_formula_is_written_as_text(cell: str) -> None:
    written = neutralize(cell)
    assert written == "'" + cell
    assert restore(written) == cell


@pytest.mark.parametrize("cell", ["Ana Lind", "ana@example.org", "city|harbour", "8", "", "a=b"])
def test_ordinary_cells_are_left_alone(cell: str) -> None:
    assert neutralize(cell) == cell
    assert restore(cell) == cell


@pytest.mark.parametrize("cell", ["'quoted", "''=x", "'=y"])
def test_a_leading_apostrophe_survives_the_round_trip(cell: str) -> None:
    assert restore(neutralize(cell)) == cell


def test_an_apostrophe_we_did_not_write_is_kept() -> None:
    assert restore("'tis the season") == "'tis the season"
