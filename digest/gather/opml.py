"""OPML 2.0: the file feed readers import and export subscription lists with.

Each ``<outline>`` with an ``xmlUrl`` is a source; the folders (outlines without one) it
sits in, and its ``category`` attribute, are its topics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.etree import ElementTree

import lxml.etree

from digest.errors import OpmlError


@dataclass(frozen=True)
class OpmlSource:
    url: str
    title: str | None
    topics: tuple[str, ...]
    position: str  # where in the file: "line 12" and the outline's path


@dataclass
class OpmlRead:
    sources: list[OpmlSource] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (position, what is wrong)


def _topics(category: str | None) -> list[str]:
    # OPML categories are comma-separated, each may be a /path/of/folders.
    found = []
    for item in (category or "").split(","):
        found += [part.strip() for part in item.split("/") if part.strip()]
    return found


def parse_opml(data: bytes) -> OpmlRead:
    """The sources in an OPML file, and the outlines that could not be read with where."""
    parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True, recover=False)
    try:
        root = lxml.etree.fromstring(data, parser)
    except lxml.etree.XMLSyntaxError as exc:
        raise OpmlError(f"not an OPML file: {exc}") from None
    if root.tag != "opml":
        raise OpmlError(f"not an OPML file: the root element is <{root.tag!s}>, not <opml>")
    body = root.find("body")
    if body is None:
        raise OpmlError("not an OPML file: it has no <body>")
    read = OpmlRead()

    def walk(node: lxml.etree._Element, folders: list[str]) -> None:
        for index, outline in enumerate(node.iterchildren("outline"), 1):
            name = (outline.get("text") or outline.get("title") or "").strip()
            position = f"line {outline.sourceline}"
            url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
            kind = (outline.get("type") or "").strip().lower()
            if url:
                topics = tuple(dict.fromkeys([*folders, *_topics(outline.get("category"))]))
                read.sources.append(OpmlSource(url, name or None, topics, position))
            elif kind in ("rss", "atom", "link") or (
                len(outline) == 0 and (outline.get("htmlUrl") or kind)
            ):
                what = f"outline {name!r}" if name else f"outline #{index}"
                read.problems.append((position, f"{what} has no xmlUrl"))
            walk(outline, [*folders, name] if name and not url else folders)

    walk(body, [])
    return read


@dataclass(frozen=True)
class OpmlEntry:
    url: str
    title: str
    topics: tuple[str, ...]
    site: str | None = None


def write_opml(entries: list[OpmlEntry], *, title: str, now: datetime | None = None) -> str:
    """OPML 2.0 with one outline per source, topics as its category (one line each)."""
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = title
    ElementTree.SubElement(head, "dateCreated").text = format_datetime(
        (now or datetime.now(UTC)).astimezone(UTC), usegmt=True
    )
    body = ElementTree.SubElement(root, "body")
    for entry in entries:
        attributes = {"type": "rss", "text": entry.title, "title": entry.title, "xmlUrl": entry.url}
        if entry.site:
            attributes["htmlUrl"] = entry.site
        if entry.topics:
            attributes["category"] = ",".join(entry.topics)
        ElementTree.SubElement(body, "outline", attributes)
    ElementTree.indent(root)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + ElementTree.tostring(root, encoding="unicode")
        + "\n"
    )
