"""The subscribers: listed, searched and filtered a page at a time, added, changed,
suppressed, imported from CSV and exported to it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from digest.core.schedule import WEEKDAYS
from digest.core.vocabulary import Frequency, SubscriberStatus
from digest.errors import DigestError
from digest.services import importing, subscribers, topics
from digest.web.admin.pages import (
    PAGE_SIZE,
    AdminPages,
    area_router,
    back,
    text,
    topics_of,
    upload_text,
)


def subscriber_values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        k: text(form, k) or None
        for k in ("email", "name", "status", "frequency", "weekday", "day_of_month", "timezone")
    }
    values["hour"] = text(form, "hour") or None
    values["topics"] = topics_of(form)
    return values


def subscribers_router(pages: AdminPages) -> APIRouter:
    router = area_router()
    settings = pages.settings

    def form_context() -> dict[str, Any]:
        return {
            "statuses": [s.value for s in SubscriberStatus],
            "frequencies": [f.value for f in Frequency],
            "weekdays": WEEKDAYS,
            "topics": topics.topic_names(settings),
        }

    @router.get("/subscribers", response_class=HTMLResponse)
    def subscribers_page(request: Request) -> HTMLResponse:
        params = request.query_params
        q, status, topic = (
            params.get("q") or None,
            params.get("status") or None,
            params.get("topic") or None,
        )
        try:
            page = max(1, int(params.get("page") or 1))
        except ValueError:
            page = 1
        try:
            found = subscribers.subscriber_listing(
                settings,
                q=q,
                status=status,
                topic=topic,
                limit=PAGE_SIZE,
                offset=(page - 1) * PAGE_SIZE,
            )
        except DigestError as exc:
            return pages.failed(request, exc, "Bad filter")
        return pages.render(
            request,
            "subscribers.html",
            title="Subscribers",
            found=found,
            page=page,
            pages=max(1, -(-found["total"] // PAGE_SIZE)),
            filters={"q": q or "", "status": status or "", "topic": topic or ""},
            **form_context(),
        )

    @router.post("/subscribers")
    async def subscribers_add(request: Request) -> Response:
        form = await pages.checked_form(request)
        if form is None:
            return pages.refused(request)
        try:
            sub = subscribers.create_subscriber(settings, subscriber_values(form))
        except DigestError as exc:
            return pages.failed(request, exc, "Subscriber not added")
        return back("/admin/subscribers", f"Added {sub['email']} ({sub['status']})")

    @router.post("/subscribers/import", response_class=HTMLResponse)
    async def subscribers_import(request: Request) -> Response:
        form = await pages.checked_form(request)
        if form is None:
            return pages.refused(request)
        try:
            data = await upload_text(form, "file")
            result = await run_in_threadpool(importing.import_text, settings, data)
        except DigestError as exc:
            return pages.failed(request, exc, "Nothing imported")
        return pages.render(request, "import_result.html", title="Import", result=result)

    @router.get("/subscribers/export.csv")
    def subscribers_export() -> Response:
        return Response(
            importing.export_text(settings),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="subscribers.csv"'},
        )

    @router.get("/subscribers/{subscriber_id}", response_class=HTMLResponse)
    def subscriber_page(request: Request, subscriber_id: int) -> HTMLResponse:
        try:
            sub = subscribers.subscriber_details(settings, subscriber_id)
        except DigestError as exc:
            return pages.failed(request, exc, "No such subscriber")
        return pages.render(
            request, "subscriber.html", title=sub["email"], sub=sub, **form_context()
        )

    @router.post("/subscribers/{subscriber_id}")
    async def subscriber_edit(request: Request, subscriber_id: int) -> Response:
        form = await pages.checked_form(request)
        if form is None:
            return pages.refused(request)
        values = subscriber_values(form)
        values.pop("email")
        values.pop("status")
        values["name"] = text(form, "name")
        try:
            subscribers.change_subscriber(settings, subscriber_id, values)
        except DigestError as exc:
            return pages.failed(request, exc, "Not saved")
        return back(f"/admin/subscribers/{subscriber_id}", "Saved")

    @router.post("/subscribers/{subscriber_id}/suppress")
    async def subscriber_suppress(request: Request, subscriber_id: int) -> Response:
        if await pages.checked_form(request) is None:
            return pages.refused(request)
        try:
            subscribers.change_subscriber(
                settings, subscriber_id, {"status": SubscriberStatus.UNSUBSCRIBED.value}
            )
        except DigestError as exc:
            return pages.failed(request, exc)
        return back(f"/admin/subscribers/{subscriber_id}", "Suppressed: never mailed again")

    return router
