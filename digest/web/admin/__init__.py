"""The admin pages under /admin: sign-in, dashboard, sources, subscribers, editions, sends.

Server-rendered, no CDN; the only script polls a send's progress. Every page but the
sign-in form redirects an anonymous visitor there (a middleware, so it happens before
anything is read); every form carries the session's CSRF token; sign-in attempts are
limited per IP address. Each button calls the same function as the API
(`digest.web.actions`), which calls what the CLI calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from digest.config import Settings
from digest.core import events
from digest.core.schedule import WEEKDAYS
from digest.core.vocabulary import DeliveryStatus, Frequency, SubscriberStatus
from digest.errors import DigestError, InvalidField
from digest.runtime import dispatch
from digest.services import admins, webhooks
from digest.services.admins import Admin, admin_for_token, authenticate
from digest.store import db
from digest.web import actions
from digest.web.auth import CSRF_FIELD, Sessions
from digest.web.dashboard import activity

LOGIN = "/admin/login"
PAGE_SIZE = 50
MAX_UPLOAD = 20_000_000


def _safe_next(target: str | None) -> str:
    # Only back into the admin: never an open redirect to another site.
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return "/admin"


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
    router = APIRouter(prefix="/admin", include_in_schema=False)
    limiter = MovingWindowRateLimiter(MemoryStorage())
    rate = parse(settings.admin_login_rate)

    def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("list_name", settings.list_name)
        context.setdefault("notice", request.query_params.get("notice", ""))
        context.setdefault("admin", getattr(request.state, "admin", None))
        context["csrf"] = context.pop("csrf_override", None) or sessions.read(request).get("n", "")
        context["csrf_field"] = CSRF_FIELD
        return templates.TemplateResponse(request, f"admin/{name}", context, status_code=status)

    def back(path: str, notice: str = "") -> RedirectResponse:
        query = f"?{urlencode({'notice': notice})}" if notice else ""
        return RedirectResponse(path + query, status_code=303)

    async def checked_form(request: Request) -> Any:
        form = await request.form()
        if not sessions.csrf_ok(request, form.get(CSRF_FIELD)):
            return None
        return form

    def refused(request: Request) -> HTMLResponse:
        return render(
            request,
            "message.html",
            403,
            title="Form expired",
            message="This form is out of date (or did not come from this site). "
            "Go back, reload the page and try again.",
        )

    def failed(request: Request, exc: DigestError, title: str = "Not done") -> HTMLResponse:
        status = 404 if type(exc).__name__ == "NotFound" else 400
        return render(request, "message.html", status, title=title, message=str(exc))

    def text(form: Any, key: str) -> str:
        value = form.get(key)
        # NUL is no character anyone types, and PostgreSQL refuses to store it.
        return value.replace("\x00", "").strip() if isinstance(value, str) else ""

    def topics_of(form: Any) -> list[str]:
        given = [t.replace("\x00", "") for t in form.getlist("topics") if isinstance(t, str)]
        joined = text(form, "topic_list")
        if joined:
            given += [t for t in joined.split(",")]
        return [t.strip() for t in given if t.strip()]

    async def upload_text(form: Any, key: str) -> str:
        upload = form.get(key)
        if not isinstance(upload, UploadFile):
            raise InvalidField(key, "choose a file")
        data = await upload.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise InvalidField(key, f"at most {MAX_UPLOAD // 1_000_000} MB")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidField(key, "not UTF-8 text; save the file as UTF-8") from None

    # --- sign-in ----------------------------------------------------------------------------

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> HTMLResponse:
        nonce = sessions.read(request).get("n")
        fresh = None if nonce else sessions.new_nonce()
        response = render(
            request,
            "login.html",
            next=_safe_next(request.query_params.get("next")),
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
            return render(
                request,
                "login.html",
                429,
                next="/admin",
                error="Too many sign-in attempts from your address; wait a minute.",
            )
        form = await checked_form(request)
        if form is None:
            return refused(request)
        target = _safe_next(text(form, "next"))
        email, password, token = text(form, "email"), text(form, "password"), text(form, "token")

        def check() -> Admin | None:
            with db.session_scope(settings.database_url) as session:
                if token:
                    return admin_for_token(session, token, settings.admin_token)
                if email and password:
                    return authenticate(session, email, password)
                return None

        admin = await run_in_threadpool(check)
        if admin is None:
            return render(
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
        if await checked_form(request) is None:
            return refused(request)
        response = RedirectResponse(LOGIN, status_code=303)
        sessions.sign_out(response)
        return response

    # --- dashboard --------------------------------------------------------------------------

    @router.get("", response_class=HTMLResponse)
    def dashboard(request: Request) -> HTMLResponse:
        return render(
            request,
            "dashboard.html",
            title="Dashboard",
            **activity(settings),
            sources=actions.list_sources(settings, limit=actions.MAX_PAGE)["items"],
            sends=actions.list_sends(settings, limit=10)["items"],
        )

    @router.get("/check", response_class=HTMLResponse)
    def check_page(request: Request) -> HTMLResponse:
        """`digest check` in the browser: each part of the setup tried, nothing changed."""
        from digest.runtime.checks import run_checks

        found = run_checks(settings)
        return render(request, "check.html", title="Setup check", checks=found)

    # --- sources ----------------------------------------------------------------------------

    @router.get("/sources", response_class=HTMLResponse)
    def sources_page(request: Request) -> HTMLResponse:
        q = (request.query_params.get("q") or "").replace("\x00", "") or None
        return render(
            request,
            "sources.html",
            title="Sources",
            q=q or "",
            sources=actions.list_sources(settings, q=q, limit=actions.MAX_PAGE)["items"],
        )

    @router.post("/sources")
    async def sources_add(request: Request) -> Response:
        form = await checked_form(request)
        if form is None:
            return refused(request)
        try:
            source = await run_in_threadpool(  # with "check", it fetches the URL
                lambda: actions.create_source(
                    settings,
                    text(form, "url"),
                    text(form, "name") or None,
                    topics_of(form),
                    full_text=text(form, "full_text") or "auto",
                    check=bool(text(form, "check")),
                )
            )
        except DigestError as exc:
            return failed(request, exc, "Source not added")
        found = f" ({source['found']})" if source.get("found") else ""
        return back("/admin/sources", f"Added {source['name']}{found}")

    @router.post("/sources/import")
    async def sources_import(request: Request) -> Response:
        form = await checked_form(request)
        if form is None:
            return refused(request)
        try:
            result = actions.import_opml(settings, await upload_text(form, "file"))
        except DigestError as exc:
            return failed(request, exc, "OPML not imported")
        errors = "; ".join(f"{e['url']}: {e['error']}" for e in result["errors"])
        return back(
            "/admin/sources", f"Added {result['added']}" + (f"; {errors}" if errors else "")
        )

    @router.post("/gather")
    async def gather(request: Request) -> Response:
        if await checked_form(request) is None:
            return refused(request)
        results = await run_in_threadpool(actions.gather, settings, dispatcher())
        new = sum(r["new"] for r in results)
        errors = sum(1 for r in results if r["error"])
        return back(
            "/admin/sources", f"Gathered {len(results)} sources: {new} new, {errors} errors"
        )

    @router.get("/sources/{source_id}", response_class=HTMLResponse)
    def source_page(request: Request, source_id: int) -> HTMLResponse:
        try:
            source = actions.get_source(settings, source_id)
        except DigestError as exc:
            return failed(request, exc, "No such source")
        return render(
            request,
            "source.html",
            title=source["name"],
            source=source,
            articles=actions.recent_articles(settings, source_id),
        )

    @router.post("/sources/{source_id}")
    async def source_change(request: Request, source_id: int) -> Response:
        form = await checked_form(request)
        if form is None:
            return refused(request)
        try:
            source = actions.update_source(
                settings,
                source_id,
                name=text(form, "name"),
                topics=topics_of(form),
                full_text=text(form, "full_text") or None,
            )
        except DigestError as exc:
            return failed(request, exc, "Source not changed")
        return back(f"/admin/sources/{source_id}", f"Saved {source['name']}")

    @router.post("/sources/{source_id}/pause")
    async def source_pause(request: Request, source_id: int) -> Response:
        form = await checked_form(request)
        if form is None:
            return refused(request)
        paused = text(form, "paused") != "0"
        try:
            source = actions.update_source(settings, source_id, paused=paused)
        except DigestError as exc:
            return failed(request, exc)
        word = "Paused" if paused else "Resumed"
        return back("/admin/sources", f"{word} {source['name']}")

    @router.post("/sources/{source_id}/remove")
    async def source_remove(request: Request, source_id: int) -> Response:
        if await checked_form(request) is None:
            return refused(request)
        try:
            actions.delete_source(settings, source_id)
        except DigestError as exc:
            return failed(request, exc)
        return back("/admin/sources", f"Removed source #{source_id}")

    # --- subscribers ------------------------------------------------------------------------

    def subscriber_form_context() -> dict[str, Any]:
        return {
            "statuses": [s.value for s in SubscriberStatus],
            "frequencies": [f.value for f in Frequency],
            "weekdays": WEEKDAYS,
            "topics": actions.topic_names(settings),
        }

    @router.get("/subscribers", response_class=HTMLResponse)
    def subscribers_page(request: Request) -> HTMLResponse:
        params = request.query_params
        q, status, topic = (
            params.get("q") or None,
            params.get("status") or None,
            params.get("topic") or None,
        )
        try:
            page = max(1, int(params.get("page") or 1))
        except ValueError:
            page = 1
        try:
            found = actions.list_subscribers(
                settings,
                q=q,
                status=status,
                topic=topic,
                limit=PAGE_SIZE,
                offset=(page - 1) * PAGE_SIZE,
            )
        except DigestError as exc:
            return failed(request, exc, "Bad filter")
        return render(
            request,
            "subscribers.html",
            title="Subscribers",
            found=found,
            page=page,
            pages=max(1, -(-found["total"] // PAGE_SIZE)),
            filters={"q": q or "", "status": status or "", "topic": topic or ""},
            **subscriber_form_context(),
        )

    def subscriber_values(form: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            k: text(form, k) or None
            for k in ("email", "name", "status", "frequency", "weekday", "day_of_month", "timezone")
        }
        values["hour"] = text(form, "hour") or None
        values["topics"] = topics_of(form)
        return values

    @router.post("/subscribers")
    async def subscribers_add(request: Request) -> Response:
        form = await checked_form(request)
        if form is None:
            return refused(request)
        try:
            sub = actions.create_subscriber(settings, subscriber_values(form))
        except DigestError as exc:
            return failed(request, exc, "Subscriber not added")
        return back("/admin/subscribers", f"Added {sub['email']} ({sub['status']})")

    @router.post("/subscribers/import", response_class=HTMLResponse)
    async def subscribers_import(request: Request) -> Response:
        form = await checked_form(request)
        if form is None:
            return refused(request)
        try:
            result = actions.import_subscribers(settings, await upload_text(form, "file"))
        except DigestError as exc:
            return failed(request, exc, "Nothing imported")
        return render(request, "import_result.html", title="Import", result=result)

    @router.get("/subscribers/export.csv")
    def subscribers_export() -> Response:
        return Response(
            actions.export_subscribers(settings),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="subscribers.csv"'},
        )

    @router.get("/subscribers/{subscriber_id}", response_class=HTMLResponse)
    def subscriber_page(request: Request, subscriber_id: int) -> HTMLResponse:
        try:
            sub = actions.get_subscriber(settings, subscriber_id)
        except DigestError as exc:
            return failed(request, exc, "No such subscriber")
        return render(
            request, "subscriber.html", title=sub["email"], sub=sub, **subscriber_form_context()
        )

    @router.post("/subscribers/{subscriber_id}")
    async def subscriber_edit(request: Request, subscriber_id: int) -> Response:
        form = await checked_form(request)
        if form is None:
            return refused(request)
        values = subscriber_values(form)
        values.pop("email")
        values.pop("status")
        values["name"] = text(form, "name")
        try:
            actions.update_subscriber(settings, subscriber_id, values)
        except DigestError as exc:
            return failed(request, exc, "Not saved")
        return back(f"/admin/subscribers/{subscriber_id}", "Saved")

    @router.post("/subscribers/{subscriber_id}/suppress")
    async def subscriber_suppress(request: Request, subscriber_id: int) -> Response:
        if await checked_form(request) is None:
            return refused(request)
        try:
            actions.update_subscriber(
                settings, subscriber_id, {"status": SubscriberStatus.UNSUBSCRIBED.value}
            )
        except DigestError as exc:
            return failed(request, exc)
        return back(f"/admin/subscribers/{subscriber_id}", "Suppressed: never mailed again")

    # --- editions and sends -----------------------------------------------------------------

    @router.get("/editions", response_class=HTMLResponse)
    def editions_page(request: Request) -> HTMLResponse:
        return render(
            request,
            "editions.html",
            title="Editions",
            editions=actions.list_editions(settings, limit=100)["items"],
        )

    @router.get("/editions/{edition_id}", response_class=HTMLResponse)
    def edition_page(request: Request, edition_id: int) -> HTMLResponse:
        try:
            edition = actions.get_edition(settings, edition_id)
        except DigestError as exc:
            return failed(request, exc, "No such edition")
        return render(
            request,
            "edition.html",
            title=edition["subject"],
            edition=edition,
            deliveries=actions.list_deliveries(settings, edition_id=edition_id, limit=200),
        )

    @router.get("/sends", response_class=HTMLResponse)
    def sends_page(request: Request) -> HTMLResponse:
        return render(
            request,
            "sends.html",
            title="Sends",
            sends=actions.list_sends(settings, limit=50)["items"],
            topics=actions.topic_names(settings),
        )

    @router.post("/sends")
    async def sends_start(request: Request) -> Response:
        form = await checked_form(request)
        if form is None:
            return refused(request)
        try:
            send_id = await run_in_threadpool(
                actions.start_send, settings, dispatcher(), text(form, "topic") or None
            )
        except DigestError as exc:
            return failed(request, exc, "Not sent")
        if send_id is None:
            return back("/admin/sends", "Nothing new for anyone: nothing to send")
        return back(f"/admin/sends/{send_id}")

    @router.get("/sends/{send_id}", response_class=HTMLResponse)
    def send_page(request: Request, send_id: int) -> HTMLResponse:
        try:
            send = actions.get_send(settings, send_id)
        except DigestError as exc:
            return failed(request, exc, "No such send")
        return render(
            request,
            "send.html",
            title=f"Send #{send_id}",
            send=send,
            deliveries=actions.list_deliveries(settings, send_id=send_id, limit=200),
            states=[s.value for s in DeliveryStatus],
        )

    @router.get("/sends/{send_id}/progress")
    def send_progress(send_id: int) -> JSONResponse:
        try:
            return JSONResponse(jsonable(actions.get_send(settings, send_id)))
        except DigestError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)

    @router.post("/test-send")
    async def test_send(request: Request) -> Response:
        form = await checked_form(request)
        if form is None:
            return refused(request)
        try:
            result = await run_in_threadpool(
                actions.test_send,
                settings,
                dispatcher(),
                text(form, "email"),
                text(form, "as") or None,
            )
        except DigestError as exc:
            return failed(request, exc, "Test not sent")
        note = " (the latest articles: nothing new for that subscriber)" if result["latest"] else ""
        return back("/admin/sends", f"Test sent to {result['to']}{note}")

    @router.get("/preview", response_class=HTMLResponse)
    def preview_page(request: Request) -> HTMLResponse:
        subscriber = (request.query_params.get("subscriber") or "").replace("\x00", "") or None
        try:
            found = actions.preview(settings, subscriber)
        except DigestError as exc:
            return failed(request, exc, "No preview")
        return render(
            request,
            "preview.html",
            title="Preview",
            subscriber=subscriber or "",
            preview=found,
        )

    # --- webhooks ---------------------------------------------------------------------------

    @router.get("/webhooks", response_class=HTMLResponse)
    def webhooks_page(request: Request) -> HTMLResponse:
        with db.session_scope(settings.database_url) as session:
            hooks = webhooks.webhook_rows(session)
        return render(request, "webhooks.html", title="Webhooks", hooks=hooks, events=events.EVENTS)

    @router.post("/webhooks", response_class=HTMLResponse)
    async def webhooks_add(request: Request) -> Response:
        form = await checked_form(request)
        if form is None:
            return refused(request)
        events = [e for e in form.getlist("events") if isinstance(e, str)]
        try:
            with db.session_scope(settings.database_url) as session:
                hook = webhooks.add_webhook(session, text(form, "url"), events)
                added = {"id": hook.id, "url": hook.url, "secret": hook.secret}
        except DigestError as exc:
            return failed(request, exc, "Webhook not added")
        # The only time the secret is shown: a page, not a redirect with it in the URL.
        return render(request, "webhook_added.html", title="Webhook added", hook=added)

    @router.get("/webhooks/{webhook_id}", response_class=HTMLResponse)
    def webhook_page(request: Request, webhook_id: int) -> HTMLResponse:
        with db.session_scope(settings.database_url) as session:
            hook = next((h for h in webhooks.webhook_rows(session) if h["id"] == webhook_id), None)
            attempts = webhooks.attempt_rows(session, webhook_id)
        if hook is None:
            return render(
                request, "message.html", 404, title="No such webhook", message="It was removed."
            )
        return render(request, "webhook.html", title=hook["url"], hook=hook, attempts=attempts)

    @router.post("/webhooks/{webhook_id}/remove")
    async def webhook_remove(request: Request, webhook_id: int) -> Response:
        if await checked_form(request) is None:
            return refused(request)
        try:
            with db.session_scope(settings.database_url) as session:
                webhooks.remove_webhook(session, webhook_id)
        except DigestError as exc:
            return failed(request, exc)
        return back("/admin/webhooks", f"Removed webhook #{webhook_id}")

    @router.get("/tokens", response_class=HTMLResponse)
    def tokens_page(request: Request) -> HTMLResponse:
        with db.session_scope(settings.database_url) as session:
            tokens = admins.token_rows(session)
        return render(request, "tokens.html", title="API tokens", tokens=tokens)

    @router.post("/tokens", response_class=HTMLResponse)
    async def tokens_add(request: Request) -> Response:
        form = await checked_form(request)
        if form is None:
            return refused(request)
        name = text(form, "name")
        try:
            with db.session_scope(settings.database_url) as session:
                token = admins.create_token_for(session, request.state.admin, name)
        except DigestError as exc:
            return failed(request, exc, "Token not made")
        # Shown this once, on a page that is not cached: it is stored only as a hash.
        page = render(
            request, "token_added.html", title="API token made", purpose=name, token=token
        )
        page.headers["Cache-Control"] = "no-store"
        return page

    @router.post("/tokens/{token_id}/revoke")
    async def token_revoke(request: Request, token_id: int) -> Response:
        if await checked_form(request) is None:
            return refused(request)
        try:
            with db.session_scope(settings.database_url) as session:
                name = admins.revoke_token(session, token_id)
        except DigestError as exc:
            return failed(request, exc)
        return back("/admin/tokens", f"Revoked API token #{token_id} ({name})")

    return router


def jsonable(value: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)
