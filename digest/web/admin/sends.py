"""Sends and their deliveries: listed, started now, followed as they go; a test copy and
the preview of the next digest."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from digest.core.vocabulary import DeliveryStatus
from digest.errors import DigestError
from digest.services import deliveries, sends, topics
from digest.web import jobs
from digest.web.admin.pages import AdminPages, area_router, back, text
from digest.web.errors import error_body, page_status


def jsonable(value: Any) -> Any:
    return jsonable_encoder(value)


def sends_router(pages: AdminPages) -> APIRouter:
    router = area_router()
    settings = pages.settings

    @router.get("/sends", response_class=HTMLResponse)
    def sends_page(request: Request) -> HTMLResponse:
        return pages.render(
            request,
            "sends.html",
            title="Sends",
            sends=sends.send_listing(settings, limit=50)["items"],
            topics=topics.topic_names(settings),
        )

    @router.post("/sends")
    async def sends_start(request: Request) -> Response:
        form = await pages.checked_form(request)
        if form is None:
            return pages.refused(request)
        try:
            send_id = await run_in_threadpool(
                jobs.start_send, settings, pages.dispatcher(), text(form, "topic") or None
            )
        except DigestError as exc:
            return pages.failed(request, exc, "Not sent")
        if send_id is None:
            return back("/admin/sends", "Nothing new for anyone: nothing to send")
        return back(f"/admin/sends/{send_id}")

    @router.get("/sends/{send_id}", response_class=HTMLResponse)
    def send_page(request: Request, send_id: int) -> HTMLResponse:
        try:
            send = sends.send_progress(settings, send_id)
        except DigestError as exc:
            return pages.failed(request, exc, "No such send")
        return pages.render(
            request,
            "send.html",
            title=f"Send #{send_id}",
            send=send,
            deliveries=deliveries.delivery_listing(settings, send_id=send_id, limit=200),
            states=[s.value for s in DeliveryStatus],
        )

    @router.get("/sends/{send_id}/progress")
    def send_progress(send_id: int) -> JSONResponse:
        try:
            return JSONResponse(jsonable(sends.send_progress(settings, send_id)))
        except DigestError as exc:
            return JSONResponse(error_body(str(exc)), status_code=page_status(exc))

    @router.post("/test-send")
    async def test_send(request: Request) -> Response:
        form = await pages.checked_form(request)
        if form is None:
            return pages.refused(request)
        try:
            result = await run_in_threadpool(
                jobs.test_send, pages.dispatcher(), text(form, "email"), text(form, "as") or None
            )
        except DigestError as exc:
            return pages.failed(request, exc, "Test not sent")
        note = " (the latest articles: nothing new for that subscriber)" if result["latest"] else ""
        return back("/admin/sends", f"Test sent to {result['to']}{note}")

    @router.get("/preview", response_class=HTMLResponse)
    def preview_page(request: Request) -> HTMLResponse:
        subscriber = (request.query_params.get("subscriber") or "").replace("\x00", "") or None
        try:
            found = jobs.preview(settings, subscriber)
        except DigestError as exc:
            return pages.failed(request, exc, "No preview")
        return pages.render(
            request, "preview.html", title="Preview", subscriber=subscriber or "", preview=found
        )

    return router
