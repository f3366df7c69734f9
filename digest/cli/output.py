"""How the commands print: the consoles, tables of rows or JSON, key-value summaries,
warnings, and the progress bars of the work handed to the dispatcher."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bar
from rich.table import Table
from rich.text import Text

from digest.runtime import dispatch

console = Console()
err = Console(stderr=True)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(message)}")


@contextmanager
def progress_bar() -> Iterator[dispatch.OnProgress]:
    """A progress callback for the dispatcher, drawn as one bar per label on stderr."""
    bars: dict[str, TaskID] = {}
    with Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
        console=err,
    ) as bar:

        def on_progress(p: dispatch.Progress) -> None:
            if p.label not in bars:
                bars[p.label] = bar.add_task(p.label, total=p.total, note="")
            bar.update(bars[p.label], completed=p.done, total=p.total, note=p.note)

        yield on_progress


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[dict[str, Any]], str]
    # Whether the cell is Rich markup (its data escaped); else it is shown as plain text.
    markup: bool = False
    # On a terminal too narrow for the whole table, columns with a drop rank are left out,
    # the highest first, until the rest fit uncut (0: always shown).
    drop: int = 0


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> Table:
    table = Table(*(c.header for c in columns))
    for row in rows:
        # Text, not markup: a subscriber may call themselves "[/b]" on the sign-up form.
        table.add_row(
            *(Text.from_markup(c.cell(row)) if c.markup else Text(c.cell(row)) for c in columns)
        )
    return table


def show(rows: Sequence[dict[str, Any]], columns: Sequence[Column], as_json: bool) -> None:
    """Every list command prints through here: the rows as JSON, or a table of columns
    (on a narrow terminal without the columns that can go, rather than cut cells)."""
    if as_json:
        print_json(list(rows))
        return
    shown = list(columns)
    table = _table(rows, shown)
    unbounded = console.options.update_width(10**5)
    while console.measure(table, options=unbounded).maximum > console.width and any(
        c.drop for c in shown
    ):
        shown.remove(max((c for c in shown if c.drop), key=lambda c: c.drop))
        table = _table(rows, shown)
    console.print(table)


def key_values(title: str, pairs: Sequence[tuple[str, str | Text]]) -> None:
    table = Table(title=Text(title), show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in pairs:
        table.add_row(key, value if isinstance(value, Text) else Text(value))
    console.print(table)


def print_error_lines(message: str) -> None:
    """An error on stderr, one line per problem (a ConfigError may name several
    settings), never wrapped, and printed as it is: a message may contain [brackets]
    that are not markup."""
    for line in message.splitlines():
        err.print(Text.assemble(("error:", "red"), " ", line), soft_wrap=True)
