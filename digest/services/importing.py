"""Subscribers in and out as CSV: `digest subscribers import` and `export`.

The file has a header row naming its columns (any order, any case): `email` (required),
`name`, `status`, `frequency`, `weekday`, `day_of_month`, `hour`, `timezone` and `topics`
(separated by `|`). The header is line 1. An empty cell, or a column the file does not
have, means "not given": a new subscriber gets the default (confirmed, daily, Monday, the
1st, 7 o'clock, UTC, every topic), an existing one keeps what they have.

Rows are read as a stream and written in batches (one query to find the batch's known
addresses, bulk INSERTs and UPDATEs, one commit per batch), so memory stays flat however
long the file. Each good row is imported, each bad one is reported with its line number
and reason and changes nothing:

- an address that appears twice in the file is refused on its later line;
- an address that unsubscribed or bounced is suppressed: a row for it is refused unless
  the row itself says `unsubscribed` or `bounced` (a suppression list comes in as it is);
  no import makes it pending or confirmed again, or changes it (only its owner's own
  sign-up can bring it back);
- a subscriber who already confirmed stays confirmed when the file says pending.

Importing the same file twice changes nothing: the second import counts every row as
unchanged.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from digest.config import Settings
from digest.core.addresses import normalize_email
from digest.core.cells import neutralize, restore
from digest.core.preferences import clean_name
from digest.core.schedule import WEEKDAYS, check_schedule, day_of_month_text
from digest.core.topics import TOPIC_MAX_LENGTH, normalize_topics
from digest.core.vocabulary import SUPPRESSED, SubscriberStatus, utcnow
from digest.errors import InvalidInput
from digest.store import imports
from digest.store.db import Session, session_scope
from digest.store.topics import known_topics

COLUMNS = (
    "email",
    "name",
    "status",
    "frequency",
    "weekday",
    "day_of_month",
    "hour",
    "timezone",
    "topics",
)
SCHEDULE_COLUMNS = ("frequency", "weekday", "day_of_month", "hour", "timezone")
TOPIC_SEPARATOR = "|"
# Rows per batch: one SELECT, a few bulk statements and one commit each. Under every
# database's limit on bound parameters in an IN list.
BATCH_SIZE = 1000


@dataclass(frozen=True)
class RowError:
    line: int
    email: str
    error: str


@dataclass
class ImportResult:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    # Subscribers of this file who are pending after it: who a confirmation could go to.
    pending_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [{"line": e.line, "email": e.email, "error": e.error} for e in self.errors],
        }


@dataclass(frozen=True)
class _Row:
    """One checked line; None in a field means the file did not give it."""

    line: int
    email: str
    name: str | None
    status: SubscriberStatus | None
    schedule: dict[str, Any]  # only the schedule fields the row gives, checked
    topics: tuple[str, ...] | None


# --- reading --------------------------------------------------------------------------------


def read_header(reader: Iterator[list[str]]) -> list[str]:
    """The column names of the header row, or InvalidInput saying what is wrong with it."""
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("line 1: the file is empty; it needs a header row") from None
    names = [cell.strip().lower() for cell in header]
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise InvalidInput(
            f"line 1: unknown column {unknown[0]!r} in the header "
            f"(the columns are {', '.join(COLUMNS)})"
        )
    repeated = [n for n in names if names.count(n) > 1]
    if repeated:
        raise InvalidInput(f"line 1: the column {repeated[0]!r} appears twice in the header")
    if "email" not in names:
        raise InvalidInput("line 1: the header has no email column")
    return names


def _cells(names: Sequence[str], values: list[str]) -> dict[str, str]:
    if len(values) > len(names):
        raise InvalidInput(f"{len(values)} fields, but the header names {len(names)} columns")
    return {n: restore(v).strip() for n, v in zip(names, values, strict=False)}


def check_row(cells: dict[str, str], line: int) -> _Row:
    """A row's cells checked; InvalidInput (naming the column) for the first bad one."""
    email = normalize_email(cells.get("email", ""))
    status = None
    if cells.get("status"):
        try:
            status = SubscriberStatus(cells["status"])
        except ValueError:
            raise InvalidInput(
                f"status: must be one of {', '.join(SubscriberStatus)}, not {cells['status']!r}"
            ) from None
    given = {c: cells[c] for c in SCHEDULE_COLUMNS if cells.get(c)}
    schedule: dict[str, Any] = {}
    if given:
        checked = check_schedule(**given)
        schedule = {c: getattr(checked, c) for c in given}
    topics = None
    if cells.get("topics"):
        topics = tuple(sorted(normalize_topics(cells["topics"].split(TOPIC_SEPARATOR))))
        too_long = [t for t in topics if len(t) > TOPIC_MAX_LENGTH]
        if too_long:
            raise InvalidInput(
                f"topics: a topic has at most {TOPIC_MAX_LENGTH} characters: {too_long[0]!r}"
            )
    return _Row(line, email, clean_name(cells.get("name")), status, schedule, topics)


def read_rows(stream: Iterable[str]) -> Iterator[_Row | RowError]:
    """Each data row checked, in file order, with the line it starts on; duplicates of an
    earlier row's address refused on their own line."""
    reader = csv.reader(stream)
    names = read_header(reader)
    seen: dict[str, int] = {}
    while True:
        line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowError(line, "", f"not readable as CSV: {exc}")
            return
        if not any(v.strip() for v in values):
            continue  # a blank line
        raw_email = (
            values[names.index("email")].strip() if len(values) > names.index("email") else ""
        )
        try:
            row = check_row(_cells(names, values), line)
        except InvalidInput as exc:
            yield RowError(line, raw_email, str(exc))
            continue
        if row.email in seen:
            yield RowError(
                line, row.email, f"{row.email} already appears on line {seen[row.email]}"
            )
            continue
        seen[row.email] = line
        yield row


# --- writing --------------------------------------------------------------------------------


def _suppressed_at(status: SubscriberStatus | None, now: datetime) -> dict[str, Any]:
    """The stamp a suppression of this kind writes (none for an active status)."""
    if status == SubscriberStatus.BOUNCED:
        return {"bounced_at": now}
    if status == SubscriberStatus.UNSUBSCRIBED:
        return {"unsubscribed_at": now}
    return {}


def _refusal(row: _Row, old: Any) -> RowError:
    """Why a row may not touch a suppressed address: what it did, and when."""
    if old.status == SubscriberStatus.BOUNCED:
        what, when = "bounced", old.bounced_at
    else:
        what, when = "unsubscribed", old.unsubscribed_at
    on = f" on {when:%Y-%m-%d}" if when is not None else ""
    return RowError(
        row.line,
        row.email,
        f"{row.email} {what}{on}; only its owner can subscribe again, by signing up "
        f"(a row with the status {what} imports it as it is)",
    )


class _Importer:
    def __init__(self, now: datetime, *, new_topics: bool = False) -> None:
        self.session: Session
        self.now = now
        self.new_topics = new_topics  # False: a topic no source has refuses its row
        self.known_topics: set[str] | None = None
        defaults = check_schedule()
        self.default_schedule = {c: getattr(defaults, c) for c in SCHEDULE_COLUMNS}
        self.topic_ids: dict[str, int] = {}
        self.result = ImportResult()

    def topic_id_map(self, names: set[str]) -> dict[str, int]:
        missing = sorted(names - self.topic_ids.keys())
        if missing:
            self.topic_ids.update(imports.topic_ids(self.session, missing))
        return self.topic_ids

    def with_known_topics(self, session: Session, rows: list[_Row]) -> list[_Row]:
        """The rows whose topics some source has; the others become errors."""
        if self.new_topics:
            return rows
        if self.known_topics is None:
            self.known_topics = set(known_topics(session))
        kept = []
        for row in rows:
            unknown = sorted(set(row.topics or ()) - self.known_topics)
            if not unknown:
                kept.append(row)
                continue
            listed = ", ".join(sorted(self.known_topics)) or "none yet"
            which = ", ".join(repr(t) for t in unknown)
            self.result.errors.append(
                RowError(
                    row.line,
                    row.email,
                    f"topics: no source has the topic {which}; the topics are: {listed}",
                )
            )
        return kept

    def batch(self, session: Session, rows: list[_Row]) -> None:
        self.session = session
        rows = self.with_known_topics(session, rows)
        emails = [r.email for r in rows]
        known = imports.known_by_email(session, emails)
        known_topics: dict[int, set[str]] = {}
        if known:
            known_topics = {
                sid: set(names)
                for sid, names in imports.topics_of(session, [k.id for k in known.values()]).items()
            }
        new: list[_Row] = []
        updates: list[dict[str, Any]] = []
        topic_changes: dict[int, tuple[str, ...]] = {}
        for row in rows:
            old = known.get(row.email)
            if old is None:
                new.append(row)
                continue
            change = self.changes(row, old, known_topics.get(old.id, set()))
            if isinstance(change, RowError):
                self.result.errors.append(change)
                continue
            values, topics = change
            status = values.get("status", old.status)
            if status == SubscriberStatus.PENDING:
                self.result.pending_ids.append(old.id)
            if not values and topics is None:
                self.result.unchanged += 1
                continue
            self.result.updated += 1
            if values:
                updates.append({"id": old.id, **values})
            if topics is not None:
                topic_changes[old.id] = topics
        if updates:
            imports.update_subscribers(session, updates)
        if topic_changes:
            imports.clear_topics(session, list(topic_changes))
        if new:
            ids = imports.insert_subscribers(session, [self.new_values(row) for row in new])
            for row in new:
                sid = ids[row.email]
                if row.topics:
                    topic_changes[sid] = row.topics
                if (row.status or SubscriberStatus.CONFIRMED) == SubscriberStatus.PENDING:
                    self.result.pending_ids.append(sid)
            self.result.imported += len(new)
        links = [(sid, name) for sid, names in topic_changes.items() for name in names]
        if links:
            topic_ids = self.topic_id_map({name for _, name in links})
            imports.link_topics(session, [(sid, topic_ids[name]) for sid, name in links])

    def new_values(self, row: _Row) -> dict[str, Any]:
        status = row.status or SubscriberStatus.CONFIRMED
        return {
            "email": row.email,
            "name": row.name,
            "status": status,
            **self.default_schedule,
            **row.schedule,
            "created_at": self.now,
            "confirmed_at": self.now if status == SubscriberStatus.CONFIRMED else None,
            "unsubscribed_at": None,
            "bounced_at": None,
            **_suppressed_at(status, self.now),
            "last_article_id": 0,
        }

    def changes(
        self, row: _Row, old: Any, old_topics: set[str]
    ) -> tuple[dict[str, Any], tuple[str, ...] | None] | RowError:
        """The columns to write for a known address, and its new topics (None: the same)."""
        values: dict[str, Any] = {}
        if old.status in SUPPRESSED:
            # Only a row that itself says the address is suppressed may touch it: a blank
            # status would otherwise let an old list rename or reschedule a person who left.
            if row.status not in SUPPRESSED:
                return _refusal(row, old)
            if row.status != old.status:
                # From one kind of suppression to the other.
                values.update(status=row.status, **_suppressed_at(row.status, self.now))
        elif row.status in SUPPRESSED:
            values.update(status=row.status, **_suppressed_at(row.status, self.now))
        elif row.status == SubscriberStatus.CONFIRMED and old.status != row.status:
            values.update(status=row.status, confirmed_at=self.now)
        # A confirmed subscriber stays confirmed when the file says pending.
        if row.name is not None and row.name != old.name:
            values["name"] = row.name
        for column, value in row.schedule.items():
            if getattr(old, column) != value:
                values[column] = value
        topics = None
        if row.topics is not None and set(row.topics) != old_topics:
            topics = row.topics
        return values, topics


def import_csv(
    session_factory: Callable[[], Any],
    stream: Iterable[str],
    *,
    batch_size: int = BATCH_SIZE,
    now: datetime | None = None,
    new_topics: bool = False,
) -> ImportResult:
    """Import subscribers from CSV text (an open file, or any iterable of lines).

    `session_factory` opens a session context (e.g. `lambda: session_scope(url)`); each
    batch is written and committed in one. A bad header raises InvalidInput and imports
    nothing; bad rows are collected in the result's errors (a row naming a topic no
    source has among them, unless `new_topics` says to create such topics).
    """
    importer = _Importer(now or utcnow(), new_topics=new_topics)
    result = importer.result
    batch: list[_Row] = []

    def flush() -> None:
        with session_factory() as session:
            importer.batch(session, batch)
        batch.clear()

    for item in read_rows(stream):
        if isinstance(item, RowError):
            result.errors.append(item)
            continue
        batch.append(item)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    result.errors.sort(key=lambda e: e.line)
    return result


def import_file(database_url: str, path: Path, *, new_topics: bool = False) -> ImportResult:
    """Import a CSV file (UTF-8, with or without a byte-order mark)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            return import_csv(lambda: session_scope(database_url), stream, new_topics=new_topics)
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path}: a folder, not a CSV file") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); rows before it "
            "were imported, save the file as UTF-8 and import it again"
        ) from None


# --- export ---------------------------------------------------------------------------------


def export_rows(session: Session, *, chunk: int = BATCH_SIZE) -> Iterator[list[str]]:
    """The header, then one row per subscriber in id order, read a chunk at a time."""
    yield list(COLUMNS)
    last_id = 0
    while True:
        subs = imports.subscribers_after(session, last_id, chunk)
        if not subs:
            return
        topics = imports.topics_of(session, [s.id for s in subs])
        for s in subs:
            yield [
                s.email,
                s.name or "",
                s.status.value,
                s.frequency.value,
                WEEKDAYS[s.weekday],
                day_of_month_text(s.day_of_month),
                str(s.hour),
                s.timezone,
                TOPIC_SEPARATOR.join(topics.get(s.id, [])),
            ]
        last_id = subs[-1].id


def export_csv(session: Session, out: TextIO) -> int:
    """Write every subscriber as CSV; the number of subscribers written. A cell a
    spreadsheet would run as a formula is written as text (`digest.core.cells`)."""
    writer = csv.writer(out, lineterminator="\n")
    count = -1
    for row in export_rows(session):
        writer.writerow([neutralize(cell) for cell in row])
        count += 1
    return count


def export_file(database_url: str, path: Path | None) -> int:
    """Export every subscriber to `path` (written whole, then moved in place), or stdout."""
    with session_scope(database_url) as session:
        if path is None:
            return export_csv(session, sys.stdout)
        partial = path.with_name(f".{path.name}.partial")
        try:
            with partial.open("w", encoding="utf-8", newline="") as out:
                count = export_csv(session, out)
            partial.replace(path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise InvalidInput(f"{path}: cannot write: {exc.strerror}") from None
        return count


# --- the admin's upload and download ----------------------------------------------------------


def import_text(settings: Settings, text: str) -> dict[str, Any]:
    """CSV text imported as `digest subscribers import` does: per-row errors, the rest
    imported (a batch per transaction)."""
    result = import_csv(lambda: session_scope(settings.database_url), io.StringIO(text, newline=""))
    return result.as_dict()


def export_text(settings: Settings) -> str:
    """Every subscriber as CSV text, as `digest subscribers export` writes it."""
    out = io.StringIO()
    with session_scope(settings.database_url) as session:
        export_csv(session, out)
    return out.getvalue()


__all__ = [
    "COLUMNS",
    "ImportResult",
    "RowError",
    "export_csv",
    "export_rows",
    "export_text",
    "import_csv",
    "import_text",
    "read_rows",
]
