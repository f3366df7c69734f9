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
from sqlalchemy import select

from digest.config import Settings
from digest.core.addresses import normalize_email
from digest.core.links import PREFERENCES, UNSUBSCRIBE, link_path, read_confirm_token
from digest.core.preferences import Preferences, preferences_from_form
from digest.core.schedule import MAX_DAY_OF_MONTH, WEEKDAYS
from digest.core.vocabulary import Frequency, MailKind, SubscriberStatus
from digest.errors import DigestError, ExpiredLink, FieldErrors, InvalidInput
from digest.pipeline.transactional import queue_mail
from digest.runtime import dispatch
from digest.services.subscribers import confirm, sign_up, subscriber_for_token, update_preferences
from digest.store import db
from digest.store.models import Subscriber
from digest.store.topics import known_topics

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
        with db.session_scope(settings.database_url) as session:
            choosable = known_topics(session)
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
        with db.session_scope(settings.database_url) as session:
            choosable = known_topics(session)
            errors: dict[str, str] = {}
            try:
                address = normalize_email(str(values["email"]))
            except InvalidInput as exc:
                errors["email"] = str(exc)
            try:
                prefs = preferences_from_form(form, values["topics"], choosable)
            except FieldErrors as exc:
                errors.update(exc.errors)
            if errors:
                return form_page(request, "subscribe.html", values, choosable, errors, status=400)
            outcome = sign_up(session, address, prefs)
            sub = session.get_one(Subscriber, outcome.subscriber_id)
            mail_id = queue_mail(session, settings, sub, outcome.mail, preferences=prefs.as_dict())
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
        mail_ids = []
        with db.session_scope(settings.database_url) as session:
            sub = session.scalar(select(Subscriber).where(Subscriber.email == address))
            if sub is not None:
                prefs = Preferences.of(sub)
                outcome = sign_up(session, address, prefs)
                mail_ids.append(
                    queue_mail(session, settings, sub, outcome.mail, preferences=prefs.as_dict())
                )
        mail(background, mail_ids)
        return check_your_inbox(request, address)

    @router.get("/confirm/{token}", response_class=HTMLResponse)
    def confirm_page(request: Request, token: str) -> HTMLResponse:
        # GET never confirms: mail scanners follow links, people press buttons.
        try:
            found = read_confirm_token(settings.secret_key, token, settings.confirm_max_age)
            with db.session_scope(settings.database_url) as session:
                sub = session.get(Subscriber, found.subscriber_id)
                if sub is None:
                    raise InvalidInput("this subscription no longer exists; sign up again")
                return page(request, "confirm.html", email=sub.email)
        except DigestError as exc:
            return bad_confirm_link(request, exc)

    @router.post("/confirm/{token}", response_class=HTMLResponse)
    def confirm_post(request: Request, token: str, background: BackgroundTasks) -> HTMLResponse:
        mail_ids = []
        try:
            found = read_confirm_token(settings.secret_key, token, settings.confirm_max_age)
            with db.session_scope(settings.database_url) as session:
                sub, newly = confirm(session, found)
                if newly:
                    mail_ids.append(queue_mail(session, settings, sub, MailKind.WELCOME))
                email = sub.email
                preferences = link_path(settings.secret_key, PREFERENCES, sub.id)
        except DigestError as exc:
            return bad_confirm_link(request, exc)
        mail(background, mail_ids)
        return page(request, "confirmed.html", email=email, preferences_url=preferences)

    # --- preferences -----------------------------------------------------------------------

    def preferences_form(
        request: Request,
        sub: Subscriber,
        values: dict[str, Any],
        choosable: list[str],
        errors: dict[str, str] | None = None,
        status: int = 200,
        saved: bool = False,
    ) -> HTMLResponse:
        return form_page(
            request,
            "preferences.html",
            values,
            choosable,
            errors,
            status,
            email=sub.email,
            status_=sub.status,
            active=sub.status == SubscriberStatus.CONFIRMED,
            saved=saved,
            unsubscribe_url=link_path(settings.secret_key, UNSUBSCRIBE, sub.id),
        )

    def current_values(sub: Subscriber) -> dict[str, Any]:
        return Preferences.of(sub).as_dict()

    @router.get("/preferences/{token}", response_class=HTMLResponse)
    def preferences_page(request: Request, token: str) -> HTMLResponse:
        try:
            with db.session_scope(settings.database_url) as session:
                sub = subscriber_for_token(session, settings.secret_key, PREFERENCES, token)
                choosable = sorted(set(known_topics(session)) | set(sub.topic_names))
                return preferences_form(request, sub, current_values(sub), choosable)
        except DigestError as exc:
            return page(request, "message.html", 400, title="Invalid link", message=str(exc))

    @router.post("/preferences/{token}", response_class=HTMLResponse)
    async def preferences_post(request: Request, token: str) -> HTMLResponse:
        form = await request.form()
        topics = [str(t) for t in form.getlist("topics")]
        try:
            with db.session_scope(settings.database_url) as session:
                sub = subscriber_for_token(session, settings.secret_key, PREFERENCES, token)
                choosable = sorted(set(known_topics(session)) | set(sub.topic_names))
                try:
                    prefs = preferences_from_form(form, topics, choosable)
                except FieldErrors as exc:
                    values: dict[str, Any] = {k: form.get(k, "") for k in FIELDS}
                    values["topics"] = topics
                    return preferences_form(request, sub, values, choosable, exc.errors, 400)
                update_preferences(session, sub.id, prefs)
                session.flush()
                return preferences_form(request, sub, current_values(sub), choosable, saved=True)
        except DigestError as exc:
            return page(request, "message.html", 400, title="Invalid link", message=str(exc))

    return router
