"""Spreadsheet cells that cannot run: the CSV-injection rule, and its way back.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a
formula by spreadsheet programs (OWASP, "CSV Injection"). On export such a cell gets a
leading apostrophe, which spreadsheets show as text; a cell that starts with an
apostrophe gets one more, so that `restore` (run on import) gives back exactly what was
exported, and an export imported again changes nothing.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def neutralize(cell: str) -> str:
    """The cell as it is written into a CSV file meant for people's spreadsheets."""
    if cell.startswith(FORMULA_STARTS) or cell.startswith(QUOTE):
        return QUOTE + cell
    return cell


def restore(cell: str) -> str:
    """The value a neutralized cell stood for (a cell we did not write is left alone)."""
    if (
        cell.startswith(QUOTE)
        and cell[1:2]
        and (cell[1].startswith(FORMULA_STARTS) or cell[1] == QUOTE)
    ):
        return cell[1:]
    return cell
