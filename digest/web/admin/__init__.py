"""The admin pages under /admin: sign-in, dashboard, sources, subscribers, editions, sends,
webhooks and API tokens, one router module per area.

Server-rendered, no CDN; the only script polls a send's progress. Every page but the
sign-in form redirects an anonymous visitor there (a middleware, so it happens before
anything is read); every form carries the session's CSRF token; sign-in attempts are
limited per IP address. Each button calls the same service as the API, which the CLI
calls too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from digest.config import Settings
from digest.runtime import dispatch
from digest.web.admin.editions import editions_router
from digest.web.admin.home import home_router
from digest.web.admin.pages import LOGIN, AdminPages
from digest.web.admin.sends import sends_router
from digest.web.admin.settings import settings_router
from digest.web.admin.signin import signin_router
from digest.web.admin.sources import sources_router
from digest.web.admin.subscribers import subscribers_router
from digest.web.auth import Sessions

AREAS = (
    signin_router,
    home_router,
    sources_router,
    subscribers_router,
    editions_router,
    sends_router,
    settings_router,
)


def add_admin(
    app: FastAPI,
    settings: Settings,
    templates: Jinja2Templates,
    dispatcher: Callable[[], dispatch.Dispatcher],
) -> None:
    sessions = Sessions(settings)

    @app.middleware("http")
    async def admin_guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        if (path == "/admin" or path.startswith("/admin/")) and path != LOGIN:
            admin = await run_in_threadpool(sessions.admin, request)
            if admin is None:
                target = path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"{LOGIN}?next={quote(target)}", status_code=303)
            request.state.admin = admin
        return await call_next(request)

    app.include_router(admin_router(settings, templates, dispatcher, sessions))


def admin_router(
    settings: Settings,
    templates: Jinja2Templates,
    dispatcher: Callable[[], dispatch.Dispatcher],
    sessions: Sessions,
) -> APIRouter:
    """Every area's routes under /admin."""
    pages = AdminPages(settings, templates, dispatcher, sessions)
    router = APIRouter(include_in_schema=False)
    for area in AREAS:
        router.include_router(area(pages))
    return router
