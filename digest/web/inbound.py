"""POST /webhooks/bounce: a DSN as the raw request body, from the mail server's pipe or
a provider's hook. Guarded by DIGEST_WEBHOOK_TOKEN (or the admin token) as a Bearer token."""

from __future__ import annotations

import hmac

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from digest.config import Settings
from digest.errors import DigestError
from digest.services.bounces import process_dsn
from digest.web.errors import bounce_status, error_body

MAX_BODY = 10_000_000  # a DSN may carry the returned message: allow it, not more


def _authorized(settings: Settings, header: str | None) -> bool:
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    tokens = [t for t in (settings.webhook_token, settings.admin_token) if t]
    return any(hmac.compare_digest(token.strip().encode(), t.encode()) for t in tokens)


def add_webhooks(app: FastAPI, settings: Settings) -> None:
    @app.post("/webhooks/bounce")
    async def bounce_webhook(request: Request) -> JSONResponse:
        if not (settings.webhook_token or settings.admin_token):
            return JSONResponse(
                {"error": "set DIGEST_WEBHOOK_TOKEN to receive bounces"}, status_code=503
            )
        if not _authorized(settings, request.headers.get("authorization")):
            return JSONResponse(
                {"error": "a valid Bearer token is needed"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "the message is too large"}, status_code=413)
        try:
            result = await run_in_threadpool(process_dsn, settings, body)
        except DigestError as exc:
            status = bounce_status(exc)
            if status is None:
                raise
            return JSONResponse(error_body(str(exc)), status_code=status)
        return JSONResponse(result)
