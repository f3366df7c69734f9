"""The JSON API under /api/v1: sources, subscribers, editions, sends, deliveries, webhooks.

A sub-application of its own, so its OpenAPI schema (served without a token at
/api/v1/openapi.json) documents exactly these routes. A middleware checks the Bearer token
(DIGEST_ADMIN_TOKEN or an admin's API token) before anything else, so an anonymous request
gets 401 whatever its body. Bodies use the CLI's names; bad input gets 4xx with a message
naming the field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from digest.config import Settings
from digest.errors import DigestError, NotFound
from digest.runtime import dispatch
from digest.services import deliveries, editions, sends, sources, subscribers, webhooks
from digest.services.paging import MAX_PAGE
from digest.web import jobs
from digest.web.auth import bearer_admin
from digest.web.errors import api_error

PUBLIC = {"/openapi.json"}
MAX_ID = 2**31 - 1


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, Field(max_length=2000), AfterValidator(_no_nul)]
Short = Annotated[str, Field(max_length=320), AfterValidator(_no_nul)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]
Search = Annotated[str | None, Query(max_length=200), AfterValidator(lambda v: v and _no_nul(v))]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceIn(Body):
    url: Text
    name: Short | None = None
    topics: list[Short] = Field(default_factory=list, max_length=100)
    full_text: Literal["auto", "always", "never"] = "auto"
    # Fetch it first and say what it is (`found`); a site's page adds the feed it names.
    check: bool = False
    # Read it as this whatever its pages look like (kept); None: found by reading it.
    kind: Literal["feed", "article", "section"] | None = None


class SourcePatch(Body):
    name: Short | None = None
    topics: list[Short] | None = Field(None, max_length=100)
    paused: bool | None = None
    full_text: Literal["auto", "always", "never"] | None = None
    # Read it as this from now on; auto: find it again at the next read.
    kind: Literal["feed", "article", "section", "auto"] | None = None


class SubscriberIn(Body):
    email: Short
    name: Short | None = None
    status: Short | None = None
    frequency: Short | None = None
    weekday: Short | int | None = None
    day_of_month: Short | int | None = None
    hour: int | None = None
    timezone: Short | None = None
    topics: list[Short] = Field(default_factory=list, max_length=100)


class SubscriberPatch(Body):
    name: Short | None = None
    status: Short | None = None
    frequency: Short | None = None
    weekday: Short | int | None = None
    day_of_month: Short | int | None = None
    hour: int | None = None
    timezone: Short | None = None
    topics: list[Short] | None = Field(None, max_length=100)


class GatherIn(Body):
    pass


class SendIn(Body):
    topic: Short | None = None


class TestSendIn(Body):
    email: Short
    as_: Short | None = Field(None, alias="as")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class WebhookIn(Body):
    url: Text
    events: list[Short] = Field(min_length=1, max_length=10)
    secret: Annotated[str, Field(min_length=16, max_length=200), AfterValidator(_no_nul)] | None = (
        None
    )


def create_api(
    settings: Settings, dispatcher_factory: Callable[[], dispatch.Dispatcher]
) -> FastAPI:
    api = FastAPI(
        title="Digest API",
        version="1",
        description="Bearer token: DIGEST_ADMIN_TOKEN or an admin's API token "
        "(`digest admins token EMAIL`).",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )

    @api.middleware("http")
    async def require_token(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.scope.get("path", "")
        root = request.scope.get("root_path", "")
        if path.removeprefix(root) not in PUBLIC:
            header = request.headers.get("authorization")
            admin = await run_in_threadpool(bearer_admin, settings, header) if header else None
            if admin is None:
                return JSONResponse(
                    {"error": "a valid Bearer token is needed"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return await call_next(request)

    @api.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(loc) or "body"
        message = f"{field}: {first.get('msg', 'invalid')}"
        details = [
            {"field": ".".join(str(p) for p in e.get("loc", ())[1:]), "error": e.get("msg")}
            for e in errors
        ]
        return JSONResponse(
            {"error": message, "field": field.split(".")[0], "errors": details}, status_code=422
        )

    @api.exception_handler(DigestError)
    async def digest_error(request: Request, exc: DigestError) -> JSONResponse:
        return api_error(exc)

    # --- sources ----------------------------------------------------------------------------

    @api.get("/sources", tags=["sources"])
    def sources_list(q: Search = None, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
        return sources.source_listing(settings, q=q, limit=limit, offset=offset)

    @api.post("/sources", status_code=201, tags=["sources"])
    def sources_create(body: SourceIn) -> dict[str, Any]:
        return jobs.add_source(
            settings,
            body.url,
            body.name,
            body.topics,
            full_text=body.full_text,
            check=body.check,
            kind=body.kind,
        )

    @api.get("/sources/{source_id}", tags=["sources"])
    def sources_get(source_id: Id) -> dict[str, Any]:
        return sources.source_details(settings, source_id)

    @api.patch("/sources/{source_id}", tags=["sources"])
    def sources_update(source_id: Id, body: SourcePatch) -> dict[str, Any]:
        return sources.change_source(
            settings,
            source_id,
            name=body.name,
            topics=body.topics,
            paused=body.paused,
            full_text=body.full_text,
            kind=body.kind,
        )

    @api.delete("/sources/{source_id}", status_code=204, tags=["sources"])
    def sources_delete(source_id: Id) -> Response:
        sources.delete_source(settings, source_id)
        return Response(status_code=204)

    @api.get("/sources/{source_id}/articles", tags=["sources"])
    def sources_articles(source_id: Id, limit: Limit = 20) -> list[dict[str, Any]]:
        return sources.source_articles(settings, source_id, limit)

    @api.post("/gathers", tags=["sources"])
    def gathers_create(body: GatherIn) -> dict[str, Any]:
        """Gather every source now (in this process, or on the workers)."""
        return {"results": jobs.gather(dispatcher_factory())}

    # --- subscribers ------------------------------------------------------------------------

    @api.get("/subscribers", tags=["subscribers"])
    def subscribers_list(
        q: Search = None,
        status: Search = None,
        topic: Search = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        return subscribers.subscriber_listing(
            settings, q=q, status=status, topic=topic, limit=limit, offset=offset
        )

    @api.post("/subscribers", status_code=201, tags=["subscribers"])
    def subscribers_create(body: SubscriberIn) -> dict[str, Any]:
        return subscribers.create_subscriber(settings, body.model_dump())

    @api.get("/subscribers/{subscriber_id}", tags=["subscribers"])
    def subscribers_get(subscriber_id: Id) -> dict[str, Any]:
        return subscribers.subscriber_details(settings, subscriber_id)

    @api.patch("/subscribers/{subscriber_id}", tags=["subscribers"])
    def subscribers_update(subscriber_id: Id, body: SubscriberPatch) -> dict[str, Any]:
        return subscribers.change_subscriber(settings, subscriber_id, body.model_dump())

    @api.delete("/subscribers/{subscriber_id}", status_code=204, tags=["subscribers"])
    def subscribers_delete(subscriber_id: Id) -> Response:
        subscribers.delete_subscriber(settings, subscriber_id)
        return Response(status_code=204)

    # --- editions, sends, deliveries ----------------------------------------------------

    @api.get("/editions", tags=["editions"])
    def editions_list(limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
        return editions.edition_listing(settings, limit=limit, offset=offset)

    @api.get("/editions/{edition_id}", tags=["editions"])
    def editions_get(edition_id: Id) -> dict[str, Any]:
        return editions.edition_details(settings, edition_id)

    @api.get("/sends", tags=["sends"])
    def sends_list(limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
        return sends.send_listing(settings, limit=limit, offset=offset)

    @api.post("/sends", status_code=202, tags=["sends"])
    def sends_create(body: SendIn) -> JSONResponse:
        """Send now to every confirmed subscriber (or those of `topic`); answers at once
        with the send's id (null: nothing new for anyone)."""
        send_id = jobs.start_send(settings, dispatcher_factory(), body.topic)
        return JSONResponse({"id": send_id}, status_code=202)

    @api.get("/sends/{send_id}", tags=["sends"])
    def sends_get(send_id: Id) -> dict[str, Any]:
        return sends.send_progress(settings, send_id)

    @api.get("/deliveries", tags=["sends"])
    def deliveries_list(
        send_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        edition_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        status: Search = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        return deliveries.delivery_listing(
            settings,
            send_id=send_id,
            edition_id=edition_id,
            status=status,
            limit=limit,
            offset=offset,
        )

    @api.post("/test-sends", tags=["sends"])
    def test_sends_create(body: TestSendIn) -> dict[str, Any]:
        """Mail the next digest of `as` (a subscriber; else the latest articles) to `email`.
        Uses up nothing."""
        return jobs.test_send(dispatcher_factory(), body.email, body.as_)

    @api.get("/preview", tags=["sends"])
    def preview(subscriber: Search = None) -> dict[str, Any]:
        found = jobs.preview(settings, subscriber)
        if found is None:
            raise NotFound("nothing new to show")
        return found

    # --- webhooks ---------------------------------------------------------------------------

    @api.get("/webhooks", tags=["webhooks"])
    def webhooks_list() -> list[dict[str, Any]]:
        return webhooks.list_webhooks(settings)

    @api.post("/webhooks", status_code=201, tags=["webhooks"])
    def webhooks_create(body: WebhookIn) -> dict[str, Any]:
        """Add a webhook; the answer is the only time its secret is shown."""
        return webhooks.create_webhook(settings, body.url, body.events, body.secret)

    @api.delete("/webhooks/{webhook_id}", status_code=204, tags=["webhooks"])
    def webhooks_delete(webhook_id: Id) -> Response:
        webhooks.delete_webhook(settings, webhook_id)
        return Response(status_code=204)

    @api.get("/webhooks/{webhook_id}/attempts", tags=["webhooks"])
    def webhooks_attempts(webhook_id: Id) -> list[dict[str, Any]]:
        return webhooks.webhook_attempts(settings, webhook_id)

    return api
