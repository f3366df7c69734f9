"""The web app: health, one-click unsubscribe (RFC 8058), and the public pages of
`digest.web.public` (sign-up, confirmation, preferences).

The admin pages and the JSON API come later; they will live beside these routes.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import text
from sqlalchemy.orm import Session

from digest import db
from digest.config import Settings, default_templates_dir, get_settings
from digest.errors import DigestError
from digest.links import UNSUBSCRIBE
from digest.models import Subscriber
from digest.subscribers import subscriber_for_token, unsubscribe
from digest.web.public import public_router
from digest.web.webhooks import add_webhooks

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Digest", docs_url=None, redoc_url=None)
    # An admin's DIGEST_TEMPLATES_DIR overrides the installed pages file by file.
    templates = Jinja2Templates(
        directory=[settings.templates_dir / "web", default_templates_dir() / "web"]
    )

    def page(request: Request, name: str, status: int = 200, **context: object) -> HTMLResponse:
        context.setdefault("list_name", settings.list_name)
        return templates.TemplateResponse(request, name, context, status_code=status)

    def bad_link(request: Request, message: str) -> HTMLResponse:
        return page(request, "message.html", 400, title="Invalid link", message=message)

    @app.get("/health")
    def health() -> Response:
        try:
            with db.get_engine(settings.database_url).connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            # The reason goes to the log, not to whoever asks: it can name hosts and users.
            log.exception("health check: database unreachable")
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    def subscriber(session: Session, purpose: str, token: str) -> Subscriber:
        return subscriber_for_token(session, settings.secret_key, purpose, token)

    @app.get("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
        # GET never unsubscribes: mail scanners follow links, people press buttons.
        try:
            with db.session_scope(settings.database_url) as session:
                sub = subscriber(session, UNSUBSCRIBE, token)
                return page(request, "unsubscribe.html", email=sub.email, status_=sub.status)
        except DigestError as exc:
            return bad_link(request, str(exc))

    @app.post("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe_post(request: Request, token: str) -> HTMLResponse:
        # Both the RFC 8058 one-click POST (body List-Unsubscribe=One-Click) and the
        # button on the page land here; either way the token alone decides.
        try:
            with db.session_scope(settings.database_url) as session:
                sub = unsubscribe(session, subscriber(session, UNSUBSCRIBE, token).id)
                message = f"{sub.email} will get no more digests."
        except DigestError as exc:
            return bad_link(request, str(exc))
        return page(request, "message.html", title="Unsubscribed", message=message)

    app.include_router(public_router(settings, page))

    add_webhooks(app, settings)
    return app
