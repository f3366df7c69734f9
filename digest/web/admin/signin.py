"""Signing in and out of the admin pages (attempts limited per IP address)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool

from digest.services import admins
from digest.web.admin.pages import LOGIN, AdminPages, area_router, text


def safe_next(target: str | None) -> str:
    # Only back into the admin: never an open redirect to another site.
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return "/admin"


def signin_router(pages: AdminPages) -> APIRouter:
    router = area_router()
    settings, sessions = pages.settings, pages.sessions
    limiter = MovingWindowRateLimiter(MemoryStorage())
    rate = parse(settings.admin_login_rate)

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> HTMLResponse:
        nonce = sessions.read(request).get("n")
        fresh = None if nonce else sessions.new_nonce()
        response = pages.render(
            request,
            "login.html",
            next=safe_next(request.query_params.get("next")),
            error="",
            csrf_override=fresh,
        )
        if fresh:  # a first visit: the cookie carries the nonce the form was given
            sessions.write(response, {"n": fresh})
        return response

    @router.post("/login", response_class=HTMLResponse)
    async def login_post(request: Request) -> Response:
        ip = request.client.host if request.client else "unknown"
        if not limiter.hit(rate, "admin-login", ip):
            return pages.render(
                request,
                "login.html",
                429,
                next="/admin",
                error="Too many sign-in attempts from your address; wait a minute.",
            )
        form = await pages.checked_form(request)
        if form is None:
            return pages.refused(request)
        target = safe_next(text(form, "next"))
        email, password, token = text(form, "email"), text(form, "password"), text(form, "token")
        admin = await run_in_threadpool(admins.sign_in, settings, email, password, token)
        if admin is None:
            return pages.render(
                request,
                "login.html",
                401,
                next=target,
                error="Wrong address and password, or wrong token.",
                email=email,
            )
        response = RedirectResponse(target, status_code=303)
        sessions.sign_in(response, admin)
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        if await pages.checked_form(request) is None:
            return pages.refused(request)
        response = RedirectResponse(LOGIN, status_code=303)
        await run_in_threadpool(sessions.sign_out, request, response)
        return response

    return router
