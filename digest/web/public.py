"""The public pages a person uses on their own: sign up, confirm, change preferences.

Server-rendered forms that work without JavaScript. Every link comes from `digest.links`;
every mail goes through the dispatcher after the transaction that queued it has committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from digest.config import Settings
from digest.core.addresses import normalize_email
from digest.core.links import PREFERENCES, UNSUBSCRIBE, link_path
from digest.core.preferences import Preferences
from digest.core.schedule import MAX_DAY_OF_MONTH, WEEKDAYS
from digest.core.vocabulary import Frequency, SubscriberStatus
from digest.errors import DigestError, ExpiredLink, FieldErrors, InvalidInput
from digest.pipeline.transactional import queue_mail
from digest.runtime import dispatch
from digest.services import subscribers, topics
from digest.services.subscribers import PreferencesPage

Page = Callable[..., HTMLResponse]
FIELDS = ("name", "frequency", "weekday", "day_of_month", "hour", "timezone")
HONEYPOT = "website"  # hidden from people by CSS; form bots fill every field they see
TIMEZONES = sorted(available_timezones() - {"localtime", "Factory"})
FREQUENCIES = [f.value for f in Frequency]


def _workers(settings: Settings, on_warning: Callable[[str], None] | None) -> dispatch.Dispatcher:
    from workers.dispatch import CeleryDispatcher  # only with a broker configured

    return CeleryDispatcher(settings, on_warning)


def public_router(settings: Settings, page: Page) -> APIRouter:
    router = APIRouter()
    dispatcher = dispatch.dispatcher_for(settings, workers=_workers)
    limiter = MovingWindowRateLimiter(MemoryStorage())
    rate = parse(settings.signup_rate)

    def allowed(request: Request) -> bool:
        ip = request.client.host if request.client else "unknown"
        return limiter.hit(rate, "signup", ip)

    def too_many(request: Request) -> HTMLResponse:
        return page(
            request,
            "message.html",
            429,
            title="Too many sign-ups",
            message="Too many forms were sent from your address. Please try again in a minute.",
        )

    def form_page(
        request: Request,
        name: str,
        values: dict[str, Any],
        choosable: list[str],
        errors: dict[str, str] | None = None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        return page(
            request,
            name,
            status,
            values=values,
            errors=errors or {},
            topics=choosable,
            frequencies=FREQUENCIES,
            weekdays=WEEKDAYS,
            days_of_month=[*(str(d) for d in range(1, MAX_DAY_OF_MONTH + 1)), "last"],
            timezones=TIMEZONES,
            honeypot=HONEYPOT,
            **context,
        )

    def mail(background: BackgroundTasks, mail_ids: list[int]) -> None:
        for mail_id in mail_ids:
            background.add_task(dispatcher.send_transactional, mail_id)

    def check_your_inbox(request: Request, email: str) -> HTMLResponse:
        # The same page whether the address was new, pending, confirmed or unknown.
        return page(request, "subscribed.html", email=email)

    # --- sign-up ---------------------------------------------------------------------------

    @router.get("/subscribe", response_class=HTMLResponse)
    def subscribe_page(request: Request) -> HTMLResponse:
        choosable = topics.signup_topics(settings)
        values = Preferences().as_dict()
        return form_page(request, "subscribe.html", values, choosable, guess_timezone=True)

    @router.post("/subscribe", response_class=HTMLResponse)
    async def subscribe_post(request: Request, background: BackgroundTasks) -> HTMLResponse:
        form = await request.form()
        if not allowed(request):
            return too_many(request)
        values: dict[str, Any] = {k: form.get(k, "") for k in ("email", *FIELDS)}
        values["topics"] = [str(t) for t in form.getlist("topics")]
        if form.get(HONEYPOT):
            # A bot: answer as if all went well, write and send nothing.
            return check_your_inbox(request, str(values["email"]).strip())
        try:
            address, mail_id = subscribers.sign_up_from_form(
                settings, str(values["email"]), form, values["topics"], queue_mail=queue_mail
            )
        except FieldErrors as exc:
            choosable = topics.signup_topics(settings)
            return form_page(request, "subscribe.html", values, choosable, exc.errors, status=400)
        mail(background, [mail_id])
        return check_your_inbox(request, address)

    # --- confirmation ----------------------------------------------------------------------

    def bad_confirm_link(request: Request, exc: DigestError) -> HTMLResponse:
        return page(
            request,
            "confirm_invalid.html",
            400,
            title="Link expired" if isinstance(exc, ExpiredLink) else "Invalid link",
            message=str(exc),
        )

    @router.post("/confirm", response_class=HTMLResponse)
    async def resend_post(request: Request, background: BackgroundTasks) -> HTMLResponse:
        """Send a new confirmation link to an address that is not confirmed yet."""
        form = await request.form()
        if not allowed(request):
            return too_many(request)
        try:
            address = normalize_email(str(form.get("email", "")))
        except InvalidInput as exc:
            return page(
                request, "confirm_invalid.html", 400, title="Invalid address", message=str(exc)
            )
        mail_ids = subscribers.resend_confirmation(settings, address, queue_mail=queue_mail)
        mail(background, mail_ids)
        return check_your_inbox(request, address)

    @router.get("/confirm/{token}", response_class=HTMLResponse)
    def confirm_page(request: Request, token: str) -> HTMLResponse:
        # GET never confirms: mail scanners follow links, people press buttons.
        try:
            email = subscribers.confirmation_address(settings, token)
        except DigestError as exc:
            return bad_confirm_link(request, exc)
        return page(request, "confirm.html", email=email)

    @router.post("/confirm/{token}", response_class=HTMLResponse)
    def confirm_post(request: Request, token: str, background: BackgroundTasks) -> HTMLResponse:
        try:
            done = subscribers.confirm_from_link(settings, token, queue_mail=queue_mail)
        except DigestError as exc:
            return bad_confirm_link(request, exc)
        mail(background, done.mail_ids)
        preferences = link_path(settings.secret_key, PREFERENCES, done.subscriber_id)
        return page(request, "confirmed.html", email=done.email, preferences_url=preferences)

    # --- preferences -----------------------------------------------------------------------

    def preferences_form(
        request: Request,
        found: PreferencesPage,
        values: dict[str, Any],
        status: int = 200,
        saved: bool = False,
    ) -> HTMLResponse:
        return form_page(
            request,
            "preferences.html",
            values,
            found.topics,
            found.errors,
            status,
            email=found.email,
            status_=found.status,
            active=found.status == SubscriberStatus.CONFIRMED,
            saved=saved,
            unsubscribe_url=link_path(settings.secret_key, UNSUBSCRIBE, found.subscriber_id),
        )

    def invalid_link(request: Request, exc: DigestError) -> HTMLResponse:
        return page(request, "message.html", 400, title="Invalid link", message=str(exc))

    @router.get("/preferences/{token}", response_class=HTMLResponse)
    def preferences_page(request: Request, token: str) -> HTMLResponse:
        try:
            found = subscribers.preferences_for_link(settings, token)
        except DigestError as exc:
            return invalid_link(request, exc)
        return preferences_form(request, found, found.values)

    @router.post("/preferences/{token}", response_class=HTMLResponse)
    async def preferences_post(request: Request, token: str) -> HTMLResponse:
        form = await request.form()
        topics_chosen = [str(t) for t in form.getlist("topics")]
        try:
            found = subscribers.save_preferences_from_form(settings, token, form, topics_chosen)
        except DigestError as exc:
            return invalid_link(request, exc)
        if found.errors:
            values: dict[str, Any] = {k: form.get(k, "") for k in FIELDS}
            values["topics"] = topics_chosen
            return preferences_form(request, found, values, 400)
        return preferences_form(request, found, found.values, saved=True)

    return router
