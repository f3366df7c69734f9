"""What the admin pages and the API hand to the dispatcher or the pipeline, as the CLI
does: gathering, fetching a source to check it, sends, test copies and previews. Each
blocks (it fetches, or waits for a plan): call it off the event loop."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from digest import pipeline
from digest.config import Settings
from digest.core.vocabulary import SendKind
from digest.errors import DigestError, InvalidField, InvalidInput
from digest.runtime import dispatch
from digest.services import sources, topics
from digest.web.errors import as_field


def gather(dispatcher: dispatch.Dispatcher) -> list[dict[str, Any]]:
    """Gather every source now (in this process, or on the workers)."""
    return [asdict(r) for r in dispatcher.gather()]


def add_source(
    settings: Settings,
    url: str,
    name: str | None = None,
    topic_names: Sequence[str] = (),
    *,
    full_text: str = "auto",
    check: bool = False,
    kind: str | None = None,
) -> dict[str, Any]:
    """Add a source, as `digest sources add` does; with `check`, fetch the URL first and
    say what it is and why (`found`): on a site's page, the feed it names is added instead
    (feed discovery, as `sources add --check`). A `kind` given (feed, article, section)
    is kept whatever its pages look like."""
    if kind is not None:
        try:
            kind = sources.source_kind(kind)
        except InvalidInput as exc:
            raise as_field("kind", exc) from None
    if not check:
        return sources.create_source(
            settings, url, name, topic_names, full_text=full_text, kind=kind, kind_set=bool(kind)
        )
    url = sources.check_new_source(url, full_text)
    try:
        checked = pipeline.check_source(settings, url, kind or "auto")
    except InvalidInput as exc:
        raise as_field("url", exc) from None
    added = sources.create_source(
        settings,
        checked.url,
        name,
        topic_names,
        full_text=full_text,
        kind=checked.kind,
        kind_set=bool(kind),
        kind_reason=checked.reason,
    )
    return {**added, "found": checked.summary}


def start_send(
    settings: Settings, dispatcher: dispatch.Dispatcher, topic: str | None = None
) -> int | None:
    """Plan a send now (everyone confirmed, or the subscribers of a topic) and deliver it in
    the background; the send's id as soon as it is planned (None: nothing new for anyone)."""
    if topic is not None:
        topic = topic.strip().lower()
        if topic not in topics.topic_names(settings):
            raise InvalidField("topic", f"no such topic: {topic!r}")
    planned = threading.Event()
    box: dict[str, Any] = {}

    def on_planned(plan: pipeline.SendPlan) -> None:
        box["send_id"] = plan.send_id
        planned.set()

    def run() -> None:
        try:
            dispatch.send(
                settings, dispatcher, kind=SendKind.NOW, topic=topic, on_planned=on_planned
            )
        except Exception as exc:  # told to the request below, or logged by the thread
            box["error"] = exc
            planned.set()
            if "send_id" in box:
                raise

    threading.Thread(target=run, name="digest-send", daemon=True).start()
    planned.wait()
    if "error" in box and "send_id" not in box:
        raise box["error"]
    return box.get("send_id")


def test_send(
    dispatcher: dispatch.Dispatcher, email: str, as_subscriber: str | None = None
) -> dict[str, Any]:
    """A test copy, sent where the digests go out (the workers, with a broker)."""
    return asdict(dispatcher.send_test(email, as_subscriber or None))


def preview(settings: Settings, subscriber: str | None) -> dict[str, Any] | None:
    """The next digest of a subscriber (or of the latest articles), nothing written; None
    when there is nothing to show."""
    try:
        result = pipeline.preview(settings, email=subscriber or None)
    except DigestError as exc:
        raise as_field("subscriber", exc) from None
    if result is None:
        return None
    subject, html, text = result
    return {"subject": subject, "html": html, "text": text}
