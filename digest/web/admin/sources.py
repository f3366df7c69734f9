"""The sources: listed and searched, added (one, checked or not, or an OPML file's),
changed, paused, removed, and gathered now."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from digest.errors import DigestError
from digest.services import sources
from digest.services.paging import MAX_PAGE
from digest.web import jobs
from digest.web.admin.pages import AdminPages, area_router, back, text, topics_of, upload


def sources_router(pages: AdminPages) -> APIRouter:
    router = area_router()
    settings = pages.settings

    @router.get("/sources", response_class=HTMLResponse)
    def sources_page(request: Request) -> HTMLResponse:
        q = (request.query_params.get("q") or "").replace("\x00", "") or None
        return pages.render(
            request,
            "sources.html",
            title="Sources",
            q=q or "",
            sources=sources.source_listing(settings, q=q, limit=MAX_PAGE)["items"],
        )

    @router.post("/sources")
    async def sources_add(request: Request) -> Response:
        form = await pages.checked_form(request)
        if form is None:
            return pages.refused(request)
        try:
            source = await run_in_threadpool(  # with "check", it fetches the URL
                lambda: jobs.add_source(
                    settings,
                    text(form, "url"),
                    text(form, "name") or None,
                    topics_of(form),
                    full_text=text(form, "full_text") or "auto",
                    check=bool(text(form, "check")),
                    kind=None if text(form, "kind") in ("", "auto") else text(form, "kind"),
                )
            )
        except DigestError as exc:
            return pages.failed(request, exc, "Source not added")
        found = f" ({source['found']})" if source.get("found") else ""
        return back("/admin/sources", f"Added {source['name']}{found}")

    @router.post("/sources/import")
    async def sources_import(request: Request) -> Response:
        """An OPML file, as `digest sources import` reads it: folders become topics."""
        form = await pages.checked_form(request)
        if form is None:
            return pages.refused(request)
        try:
            data = await upload(form, "file")
            result = await run_in_threadpool(sources.import_opml_data, settings, data)
        except DigestError as exc:
            return pages.failed(request, exc, "OPML not imported")
        notice = f"Added {result.added}"
        if result.known:
            notice += f", {result.known} already added"
        errors = "; ".join(
            f"{e['position']}: {e['url'] + ': ' if e['url'] else ''}{e['error']}"
            for e in result.errors
        )
        return back("/admin/sources", notice + (f"; {errors}" if errors else ""))

    @router.post("/gather")
    async def gather(request: Request) -> Response:
        if await pages.checked_form(request) is None:
            return pages.refused(request)
        results = await run_in_threadpool(jobs.gather, pages.dispatcher())
        new = sum(r["new"] for r in results)
        errors = sum(1 for r in results if r["error"])
        return back(
            "/admin/sources", f"Gathered {len(results)} sources: {new} new, {errors} errors"
        )

    @router.get("/sources/{source_id}", response_class=HTMLResponse)
    def source_page(request: Request, source_id: int) -> HTMLResponse:
        try:
            source = sources.source_details(settings, source_id)
            articles = sources.source_articles(settings, source_id)
        except DigestError as exc:
            return pages.failed(request, exc, "No such source")
        return pages.render(
            request, "source.html", title=source["name"], source=source, articles=articles
        )

    @router.post("/sources/{source_id}")
    async def source_change(request: Request, source_id: int) -> Response:
        form = await pages.checked_form(request)
        if form is None:
            return pages.refused(request)
        try:
            source = sources.change_source(
                settings,
                source_id,
                name=text(form, "name"),
                topics=topics_of(form),
                full_text=text(form, "full_text") or None,
                kind=text(form, "kind") or None,
            )
        except DigestError as exc:
            return pages.failed(request, exc, "Source not changed")
        return back(f"/admin/sources/{source_id}", f"Saved {source['name']}")

    @router.post("/sources/{source_id}/pause")
    async def source_pause(request: Request, source_id: int) -> Response:
        form = await pages.checked_form(request)
        if form is None:
            return pages.refused(request)
        paused = text(form, "paused") != "0"
        try:
            source = sources.change_source(settings, source_id, paused=paused)
        except DigestError as exc:
            return pages.failed(request, exc)
        word = "Paused" if paused else "Resumed"
        return back("/admin/sources", f"{word} {source['name']}")

    @router.post("/sources/{source_id}/remove")
    async def source_remove(request: Request, source_id: int) -> Response:
        if await pages.checked_form(request) is None:
            return pages.refused(request)
        try:
            sources.delete_source(settings, source_id)
        except DigestError as exc:
            return pages.failed(request, exc)
        return back("/admin/sources", f"Removed source #{source_id}")

    return router
