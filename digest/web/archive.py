"""The public archive: past editions at /archive and /archive/{id} (DIGEST_ARCHIVE=0: off).

An edition is shown as it was sent, with the per-subscriber parts filled in for nobody:
a greeting without a name and links to the sign-up page instead of anyone's own."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from digest.config import Settings
from digest.errors import DigestError
from digest.render.edition import RenderedEdition, personalize
from digest.services import editions

Page = Callable[..., HTMLResponse]
ARCHIVE_PAGE = 50


def archive_router(settings: Settings, page: Page) -> APIRouter:
    router = APIRouter()
    signup = settings.base_url.rstrip("/") + "/subscribe"

    @router.get("/archive", response_class=HTMLResponse)
    def archive_list(request: Request) -> HTMLResponse:
        listed = editions.edition_listing(settings, limit=ARCHIVE_PAGE)["items"]
        return page(request, "archive.html", title="Archive", editions=listed)

    @router.get("/archive/{edition_id}", response_class=HTMLResponse)
    def archive_edition(request: Request, edition_id: int) -> HTMLResponse:
        try:
            edition = editions.edition_details(settings, edition_id)
        except DigestError as exc:
            return page(request, "message.html", 404, title="Not in the archive", message=str(exc))
        html, _ = personalize(
            RenderedEdition(edition["subject"], edition["html"], edition["text"]),
            name=None,
            unsubscribe_url=signup,
            preferences_url=signup,
        )
        return HTMLResponse(html)

    return router
