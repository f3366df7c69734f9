"""What every admin page shares: rendering with the session's CSRF token, redirects with a
notice, checked forms, and the pages that say something went wrong."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import UploadFile

from digest.config import Settings
from digest.errors import DigestError, InvalidField
from digest.runtime import dispatch
from digest.web.auth import CSRF_FIELD, Sessions
from digest.web.errors import page_status

LOGIN = "/admin/login"
PAGE_SIZE = 50
MAX_UPLOAD = 20_000_000


@dataclass(frozen=True)
class AdminPages:
    """The admin pages' shared parts, handed to each area's router."""

    settings: Settings
    templates: Jinja2Templates
    dispatcher: Callable[[], dispatch.Dispatcher]
    sessions: Sessions

    def render(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        context.setdefault("list_name", self.settings.list_name)
        context.setdefault("notice", request.query_params.get("notice", ""))
        context.setdefault("admin", getattr(request.state, "admin", None))
        context["csrf"] = context.pop("csrf_override", None) or self.sessions.read(request).get(
            "n", ""
        )
        context["csrf_field"] = CSRF_FIELD
        return self.templates.TemplateResponse(
            request, f"admin/{name}", context, status_code=status
        )

    async def checked_form(self, request: Request) -> Any:
        """The form sent, or None when its CSRF token is not this session's."""
        form = await request.form()
        if not self.sessions.csrf_ok(request, form.get(CSRF_FIELD)):
            return None
        return form

    def refused(self, request: Request) -> HTMLResponse:
        return self.render(
            request,
            "message.html",
            403,
            title="Form expired",
            message="This form is out of date (or did not come from this site). "
            "Go back, reload the page and try again.",
        )

    def failed(self, request: Request, exc: DigestError, title: str = "Not done") -> HTMLResponse:
        return self.render(request, "message.html", page_status(exc), title=title, message=str(exc))


def area_router() -> APIRouter:
    """The router of one area of the admin pages: under /admin, not in any API schema."""
    return APIRouter(prefix="/admin", include_in_schema=False)


def back(path: str, notice: str = "") -> RedirectResponse:
    query = f"?{urlencode({'notice': notice})}" if notice else ""
    return RedirectResponse(path + query, status_code=303)


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


async def upload(form: Any, key: str) -> bytes:
    """The file uploaded in `key`, at most MAX_UPLOAD bytes."""
    found = form.get(key)
    if not isinstance(found, UploadFile):
        raise InvalidField(key, "choose a file")
    data = await found.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise InvalidField(key, f"at most {MAX_UPLOAD // 1_000_000} MB")
    return data


async def upload_text(form: Any, key: str) -> str:
    """The file uploaded in `key` as UTF-8 text (a byte-order mark dropped)."""
    data = await upload(form, key)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidField(key, "not UTF-8 text; save the file as UTF-8") from None
