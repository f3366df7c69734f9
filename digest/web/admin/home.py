"""The dashboard, and `digest check` in the browser."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from digest.services import sends, sources
from digest.services.paging import MAX_PAGE
from digest.web.admin.pages import AdminPages, area_router
from digest.web.dashboard import activity


def home_router(pages: AdminPages) -> APIRouter:
    router = area_router()
    settings = pages.settings

    @router.get("", response_class=HTMLResponse)
    def dashboard(request: Request) -> HTMLResponse:
        return pages.render(
            request,
            "dashboard.html",
            title="Dashboard",
            **activity(settings),
            sources=sources.source_listing(settings, limit=MAX_PAGE)["items"],
            sends=sends.send_listing(settings, limit=10)["items"],
        )

    @router.get("/check", response_class=HTMLResponse)
    def check_page(request: Request) -> HTMLResponse:
        """`digest check` in the browser: each part of the setup tried, nothing changed."""
        from digest.runtime.checks import run_checks

        found = run_checks(settings)
        return pages.render(request, "check.html", title="Setup check", checks=found)

    return router
