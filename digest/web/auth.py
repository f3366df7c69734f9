"""Who is asking: the admin session cookie (pages) and Bearer tokens (API, metrics).

The cookie is signed (itsdangerous) and holds two random values and nothing else: the id
of a session row (digest.services.admins: the row says who, and ends when that admin
signs out, changes password, has the API token revoked, or DIGEST_ADMIN_TOKEN changes,
and after an idle timeout) and a nonce that is also the CSRF token every admin form
carries. It is HttpOnly, SameSite=Lax, and Secure when DIGEST_BASE_URL is https.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from digest.config import Settings
from digest.services import admins
from digest.services.admins import Admin

COOKIE = "digest_admin"
SESSION_MAX_AGE = admins.SESSION_MAX_AGE
CSRF_FIELD = "csrf"


class Sessions:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.serializer = URLSafeTimedSerializer(settings.secret_key, salt="digest-admin-session")
        self.secure = settings.base_url.startswith("https://")

    def read(self, request: Request) -> dict[str, Any]:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return {}
        try:
            data = self.serializer.loads(raw, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return {}
        return data if isinstance(data, dict) else {}

    def write(self, response: Response, data: dict[str, Any]) -> None:
        response.set_cookie(
            COOKIE,
            self.serializer.dumps(data),
            max_age=SESSION_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=self.secure,
            path="/",
        )

    def new_nonce(self) -> str:
        return secrets.token_urlsafe(24)

    def sign_in(self, response: Response, admin: Admin) -> None:
        session_id = admins.start_session(self.settings, admin)
        self.write(response, {"s": session_id, "n": self.new_nonce()})

    def sign_out(self, request: Request, response: Response) -> None:
        session_id = self.read(request).get("s")
        if isinstance(session_id, str):
            admins.end_session(self.settings, session_id)
        response.delete_cookie(COOKIE, path="/")

    def admin(self, request: Request) -> Admin | None:
        """The signed-in admin of this request (one read of the session's row)."""
        session_id = self.read(request).get("s")
        if not isinstance(session_id, str):
            return None
        return admins.session_admin(self.settings, session_id)

    def csrf_ok(self, request: Request, submitted: object) -> bool:
        nonce = self.read(request).get("n")
        return (
            isinstance(nonce, str)
            and isinstance(submitted, str)
            and hmac.compare_digest(nonce.encode(), submitted.encode())
        )


def bearer_admin(settings: Settings, header: str | None) -> Admin | None:
    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 500:
        return None
    return admins.token_admin(settings, token)
