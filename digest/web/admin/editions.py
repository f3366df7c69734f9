"""The editions: listed, and each shown with its deliveries."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from digest.errors import DigestError
from digest.services import deliveries, editions
from digest.web.admin.pages import AdminPages, area_router


def editions_router(pages: AdminPages) -> APIRouter:
    router = area_router()
    settings = pages.settings

    @router.get("/editions", response_class=HTMLResponse)
    def editions_page(request: Request) -> HTMLResponse:
        return pages.render(
            request,
            "editions.html",
            title="Editions",
            editions=editions.edition_listing(settings, limit=100)["items"],
        )

    @router.get("/editions/{edition_id}", response_class=HTMLResponse)
    def edition_page(request: Request, edition_id: int) -> HTMLResponse:
        try:
            edition = editions.edition_details(settings, edition_id)
        except DigestError as exc:
            return pages.failed(request, exc, "No such edition")
        return pages.render(
            request,
            "edition.html",
            title=edition["subject"],
            edition=edition,
            deliveries=deliveries.delivery_listing(settings, edition_id=edition_id, limit=200),
        )

    return router
