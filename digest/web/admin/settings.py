"""Settings kept in the database: outgoing webhooks, and the admins' API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from digest.core import events
from digest.errors import DigestError
from digest.services import admins, webhooks
from digest.web.admin.pages import AdminPages, area_router, back, text


def settings_router(pages: AdminPages) -> APIRouter:
    router = area_router()
    settings = pages.settings

    # --- webhooks ---------------------------------------------------------------------------

    @router.get("/webhooks", response_class=HTMLResponse)
    def webhooks_page(request: Request) -> HTMLResponse:
        hooks = webhooks.list_webhooks(settings)
        return pages.render(
            request, "webhooks.html", title="Webhooks", hooks=hooks, events=events.EVENTS
        )

    @router.post("/webhooks", response_class=HTMLResponse)
    async def webhooks_add(request: Request) -> Response:
        form = await pages.checked_form(request)
        if form is None:
            return pages.refused(request)
        chosen = [e for e in form.getlist("events") if isinstance(e, str)]
        try:
            added = webhooks.create_webhook(settings, text(form, "url"), chosen)
        except DigestError as exc:
            return pages.failed(request, exc, "Webhook not added")
        # The only time the secret is shown: a page, not a redirect with it in the URL.
        return pages.render(request, "webhook_added.html", title="Webhook added", hook=added)

    @router.get("/webhooks/{webhook_id}", response_class=HTMLResponse)
    def webhook_page(request: Request, webhook_id: int) -> HTMLResponse:
        hook, attempts = webhooks.webhook_details(settings, webhook_id)
        if hook is None:
            return pages.render(
                request, "message.html", 404, title="No such webhook", message="It was removed."
            )
        return pages.render(
            request, "webhook.html", title=hook["url"], hook=hook, attempts=attempts
        )

    @router.post("/webhooks/{webhook_id}/remove")
    async def webhook_remove(request: Request, webhook_id: int) -> Response:
        if await pages.checked_form(request) is None:
            return pages.refused(request)
        try:
            webhooks.delete_webhook(settings, webhook_id)
        except DigestError as exc:
            return pages.failed(request, exc)
        return back("/admin/webhooks", f"Removed webhook #{webhook_id}")

    # --- API tokens -------------------------------------------------------------------------

    @router.get("/tokens", response_class=HTMLResponse)
    def tokens_page(request: Request) -> HTMLResponse:
        tokens = admins.list_tokens(settings)
        return pages.render(request, "tokens.html", title="API tokens", tokens=tokens)

    @router.post("/tokens", response_class=HTMLResponse)
    async def tokens_add(request: Request) -> Response:
        form = await pages.checked_form(request)
        if form is None:
            return pages.refused(request)
        name = text(form, "name")
        try:
            token = admins.make_token(settings, request.state.admin, name)
        except DigestError as exc:
            return pages.failed(request, exc, "Token not made")
        # Shown this once, on a page that is not cached: it is stored only as a hash.
        page = pages.render(
            request, "token_added.html", title="API token made", purpose=name, token=token
        )
        page.headers["Cache-Control"] = "no-store"
        return page

    @router.post("/tokens/{token_id}/revoke")
    async def token_revoke(request: Request, token_id: int) -> Response:
        if await pages.checked_form(request) is None:
            return pages.refused(request)
        try:
            name = admins.revoke(settings, token_id)
        except DigestError as exc:
            return pages.failed(request, exc)
        return back("/admin/tokens", f"Revoked API token #{token_id} ({name})")

    return router
