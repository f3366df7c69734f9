"""`digest sources`: add, change, remove, list, import and export (OPML) sources."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from digest import pipeline
from digest.cli.app import JsonOption, load_settings, sources_app
from digest.cli.output import Column, console, key_values, print_json, show, when
from digest.errors import InvalidInput
from digest.services.transaction import run as in_transaction


class Kind(StrEnum):
    FEED = "feed"
    ARTICLE = "article"
    SECTION = "section"


class KindOrAuto(StrEnum):
    FEED = "feed"
    ARTICLE = "article"
    SECTION = "section"
    AUTO = "auto"


class FullTextMode(StrEnum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


@sources_app.command("add")
def sources_add(
    url: str,
    name: Annotated[
        str | None, typer.Option(help="Display name (default: the feed's title).")
    ] = None,
    topic: Annotated[list[str] | None, typer.Option(help="Topic; repeat for several.")] = None,
    full_text: Annotated[
        FullTextMode,
        typer.Option(help="Fetch each entry's page: for teasers (auto), always or never."),
    ] = FullTextMode.AUTO,
    check: Annotated[
        bool,
        typer.Option("--check", help="Fetch it now and say what it is, and why (feed discovery)."),
    ] = False,
    kind: Annotated[
        Kind | None,
        typer.Option(help="Read it as this, whatever its pages look like (kept); else found."),
    ] = None,
) -> None:
    """Add a feed (RSS, Atom, JSON Feed), an article page, or a site's home or section page."""
    from digest.services import sources

    settings = load_settings()
    url = sources.check_source_url(url)
    found_kind = kind.value if kind else None
    reason = None
    if check:
        found = pipeline.check_source(settings, url, kind.value if kind else "auto")
        console.print(found.summary, markup=False)
        url, found_kind, reason = found.url, found.kind, found.reason
    source = sources.new_source(
        settings,
        url,
        name=name,
        topics=topic or [],
        kind=found_kind,
        full_text=full_text.value,
        kind_set=kind is not None,
        kind_reason=reason,
    )
    console.print(f"Added source #{source['id']}: {source['url']}", markup=False)


@sources_app.command("set")
def sources_set(
    source: Annotated[str, typer.Argument(help="URL or id.")],
    name: Annotated[str | None, typer.Option(help="A new display name.")] = None,
    topic: Annotated[
        list[str] | None, typer.Option(help="Topic; repeat for several. Replaces its topics.")
    ] = None,
    no_topics: Annotated[bool, typer.Option("--no-topics", help="Remove every topic.")] = False,
    full_text: Annotated[
        FullTextMode | None,
        typer.Option(help="Fetch each entry's page: for teasers (auto), always or never."),
    ] = None,
    paused: Annotated[
        bool | None,
        typer.Option("--pause/--resume", help="Leave it out of gathering, or take it back."),
    ] = None,
    kind: Annotated[
        KindOrAuto | None,
        typer.Option(help="Read it as this from now on (kept); auto: find it at the next read."),
    ] = None,
) -> None:
    """Change a source: its name, topics, full-text mode, kind, or whether it is gathered."""
    from digest.services import sources

    if topic and no_topics:
        raise InvalidInput("give --topic or --no-topics, not both")
    settings = load_settings()
    found = in_transaction(
        settings,
        sources.set_source,
        source,
        name=name,
        topics=[] if no_topics else topic,
        full_text=full_text.value if full_text else None,
        paused=paused,
        kind=kind.value if kind else None,
    )
    state = "paused" if found["paused"] else "gathered"
    topics = ", ".join(found["topics"]) or "no topics"
    console.print(
        f"Source #{found['id']} {escape(found['name'])}: {state}, {_kind_said(found)}, full text "
        f"{found['full_text']}, {escape(topics)}"
    )


@sources_app.command("remove")
def sources_remove(source: Annotated[str, typer.Argument(help="URL or id.")]) -> None:
    """Remove a source and its articles."""
    from digest.services import sources

    settings = load_settings()
    in_transaction(settings, sources.remove_source, source)
    console.print(f"Removed source {source}", markup=False)


def _source_state(row: dict[str, Any]) -> str:
    if row["paused"]:
        return "[yellow]paused[/]"
    if row["retry_after"] and row["retry_after"] > datetime.now(UTC):
        return f"[yellow]backing off until {when(row['retry_after'])}[/]"
    if row["not_modified"]:
        return "not modified"
    return ""


def _kind_said(row: dict[str, Any]) -> str:
    """``section (set by hand)``, ``feed``, or ``found at the next read``."""
    if row["kind_origin"] == "auto":
        return "found at the next read"
    return row["kind"] + (" (set by hand)" if row["kind_origin"] == "set" else "")


def _last_read(row: dict[str, Any]) -> str:
    """``3 of 20 stored`` (and why the rest were left out, when it is not that they were
    stored before)."""
    if row["entries"] is None:
        return ""
    said = f"{row['stored']} of {row['entries']} stored"
    summary = row["left_out_summary"]
    if summary and summary != f"{row['left_out']} stored before":
        said += f" ({summary})"
    return said


SOURCE_COLUMNS = (
    Column("id", lambda r: str(r["id"])),
    Column("name", lambda r: r["name"]),
    Column("url", lambda r: r["url"], drop=5),
    Column("kind", lambda r: r["kind"] + (" (set)" if r["kind_origin"] == "set" else ""), drop=2),
    Column("topics", lambda r: ", ".join(r["topics"]), drop=3),
    Column("articles", lambda r: str(r["articles"])),
    Column("last read", lambda r: _last_read(r), drop=4),
    Column("last gathered", lambda r: when(r["last_ok_at"]), drop=1),
    Column("state", _source_state, markup=True),
    Column(
        "error",
        lambda r: (
            f"[red]{escape(r['last_error'])}[/] ({r['error_count']}x)" if r["last_error"] else ""
        ),
        markup=True,
    ),
)


@sources_app.command("list")
def sources_list(
    search: Annotated[
        str | None, typer.Option("--search", "-q", help="Only names or URLs containing this.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List sources: kind, article counts, last error, backoff and whether it was unchanged."""
    from digest.services.sources import source_listing

    show(source_listing(load_settings(), q=search)["items"], SOURCE_COLUMNS, as_json)


LEFT_OUT_COLUMNS = (
    Column("entry", lambda r: r["title"]),
    Column("link", lambda r: r["link"] or ""),
    Column("why", lambda r: r["reason"]),
)


@sources_app.command("show")
def sources_show(
    source: Annotated[str, typer.Argument(help="URL or id.")],
    as_json: JsonOption = False,
) -> None:
    """One source: its kind and why, its last read (entries, stored) and every entry that
    read left out, with the reason."""
    from digest.services.sources import find_source_details

    row = find_source_details(load_settings(), source)
    if as_json:
        print_json(row)
        return
    kind = _kind_said(row)
    key_values(
        f"Source #{row['id']} {row['name']}",
        [
            ("url", row["url"]),
            ("kind", kind + (f": {row['kind_reason']}" if row["kind_reason"] else "")),
            ("topics", ", ".join(row["topics"]) or "none"),
            ("articles", str(row["articles"])),
            ("last gathered", when(row["last_ok_at"])),
            ("last read", _last_read(row) or "not read yet"),
            ("error", row["last_error"] or ""),
        ],
    )
    if row["left_out_entries"]:
        show(row["left_out_entries"], LEFT_OUT_COLUMNS, False)


OPML_ERROR_COLUMNS = (
    Column("where", lambda r: r["position"]),
    Column("url", lambda r: r["url"]),
    Column("error", lambda r: r["error"]),
)


@sources_app.command("import")
def sources_import(
    file: Annotated[Path, typer.Argument(help="An OPML file (feed readers export one).")],
    as_json: JsonOption = False,
) -> None:
    """Add the sources of an OPML file (nothing is fetched); folders become topics.

    Sources already added are left alone; each bad outline is reported with its line.
    """
    from digest.services import sources

    settings = load_settings()
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None
    result = sources.import_opml_data(settings, data)
    if as_json:
        print_json(result.as_dict())
    else:
        if result.errors:
            show(result.errors, OPML_ERROR_COLUMNS, False)
        key_values(
            f"Import of {file}",
            [
                ("added", str(result.added)),
                ("already added", str(result.known)),
                ("refused", str(len(result.errors))),
            ],
        )
    if result.errors:
        raise typer.Exit(1)


@sources_app.command("export")
def sources_export(
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Write every source as OPML 2.0, topics as categories."""
    from digest.services import sources

    settings = load_settings()
    text = in_transaction(settings, sources.export_opml, title=f"{settings.list_name} sources")
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"Exported the sources to {output}", markup=False)
