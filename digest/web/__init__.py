"""The web app: health and metrics, one-click unsubscribe (RFC 8058), the public pages of
`digest.web.public` (sign-up, confirmation, preferences) and `digest.web.archive`, the
admin pages (`digest.web.admin`, under /admin) and the JSON API (`digest.web.api`, under
/api/v1).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from digest import wiring
from digest.config import Settings, get_settings
from digest.errors import DigestError
from digest.pipeline.transactional import send_due_mails
from digest.pipeline.webhooks import deliver_due as deliver_webhook_events
from digest.render import default_templates_dir
from digest.runtime import dispatch, metrics
from digest.runtime.checks import broker_problem
from digest.services import subscribers
from digest.services.health import ping_database
from digest.web.admin import add_admin
from digest.web.api import create_api
from digest.web.archive import archive_router
from digest.web.auth import bearer_admin
from digest.web.inbound import add_webhooks
from digest.web.public import public_router

log = logging.getLogger(__name__)
# In this process (no broker), due webhook events and transactional mails nobody is
# sending are looked for this often.
SWEEP_INTERVAL = 5.0


def _workers(settings: Settings, on_warning: Callable[[str], None] | None) -> dispatch.Dispatcher:
    from workers.dispatch import CeleryDispatcher  # only with a broker configured

    return CeleryDispatcher(settings, on_warning)


def _sweep_loop(settings: Settings, stop: threading.Event, interval: float) -> None:
    """What beat's sweep does with workers: due webhook events, and transactional mails
    nobody is sending (a web process that died before its confirmation went out leaves it
    to the next one; each is claimed, so several web processes send it once)."""
    while not stop.wait(interval):
        try:
            deliver_webhook_events(settings)
        except Exception:
            log.exception("delivering webhook events")
        try:
            send_due_mails(settings, lambda: wiring.transport_for(settings))
        except Exception:
            log.exception("sending transactional mails left behind")


def broker_ok(broker_url: str) -> bool:
    return broker_problem(broker_url) is None


def create_app(
    settings: Settings | None = None, *, sweep_interval: float = SWEEP_INTERVAL
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Without a broker nobody else sweeps: this process does.
        stop = threading.Event()
        if not settings.broker_url:
            threading.Thread(
                target=_sweep_loop,
                args=(settings, stop, sweep_interval),
                name="digest-sweep",
                daemon=True,
            ).start()
        yield
        stop.set()

    app = FastAPI(title="Digest", docs_url=None, redoc_url=None, lifespan=lifespan)
    # An admin's DIGEST_TEMPLATES_DIR overrides the installed pages file by file.
    templates = Jinja2Templates(
        directory=[settings.templates_dir / "web", default_templates_dir() / "web"]
    )

    def dispatcher() -> dispatch.Dispatcher:
        return dispatch.dispatcher_for(settings, workers=_workers)

    def page(request: Request, name: str, status: int = 200, **context: object) -> HTMLResponse:
        context.setdefault("list_name", settings.list_name)
        return templates.TemplateResponse(request, name, context, status_code=status)

    def bad_link(request: Request, message: str) -> HTMLResponse:
        return page(request, "message.html", 400, title="Invalid link", message=message)

    @app.get("/health")
    def health() -> Response:
        report = {"status": "ok", "database": "ok"}
        try:
            ping_database(settings)
        except Exception:
            # The reason goes to the log, not to whoever asks: it can name hosts and users.
            log.exception("health check: database unreachable")
            report.update(status="error", database="unreachable")
        if settings.broker_url:
            report["broker"] = "ok" if broker_ok(settings.broker_url) else "unreachable"
            if report["broker"] != "ok":
                report["status"] = "error"
        return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)

    @app.get("/metrics")
    async def metrics_page(request: Request) -> Response:
        if not settings.metrics_public:
            header = request.headers.get("authorization")
            admin = await run_in_threadpool(bearer_admin, settings, header) if header else None
            if admin is None:
                return JSONResponse(
                    {"error": "a valid Bearer token is needed (or DIGEST_METRICS_PUBLIC=1)"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        body = await run_in_threadpool(metrics.render, settings)
        return Response(body, media_type=metrics.CONTENT_TYPE)

    @app.get("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
        # GET never unsubscribes: mail scanners follow links, people press buttons.
        try:
            email, status = subscribers.unsubscribe_link_state(settings, token)
        except DigestError as exc:
            return bad_link(request, str(exc))
        return page(request, "unsubscribe.html", email=email, status_=status)

    @app.post("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe_post(request: Request, token: str) -> HTMLResponse:
        # Both the RFC 8058 one-click POST (body List-Unsubscribe=One-Click) and the
        # button on the page land here; either way the token alone decides.
        try:
            email = subscribers.unsubscribe_by_link(settings, token)
        except DigestError as exc:
            return bad_link(request, str(exc))
        message = f"{email} will get no more digests."
        return page(request, "message.html", title="Unsubscribed", message=message)

    app.include_router(public_router(settings, page))
    if settings.archive:
        app.include_router(archive_router(settings, page))
    add_admin(app, settings, templates, dispatcher)
    app.mount("/api/v1", create_api(settings, dispatcher))

    add_webhooks(app, settings)
    return app
