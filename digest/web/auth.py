"""Who is asking: the admin session cookie (pages) and Bearer tokens (API, metrics).

The cookie is signed (itsdangerous) and holds the admin's id (0: signed in with
DIGEST_ADMIN_TOKEN, with a fingerprint of that token so changing it signs everyone out)
and a random nonce that is also the CSRF token every admin form carries. It is HttpOnly,
SameSite=Lax, and Secure when DIGEST_BASE_URL is https.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from digest.config import Settings
from digest.services import admins
from digest.services.admins import TOKEN_ADMIN, Admin

COOKIE = "digest_admin"
SESSION_MAX_AGE = 12 * 3600
CSRF_FIELD = "csrf"


def _fingerprint(token: str | None) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()[:16]


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
        data: dict[str, Any] = {"a": admin.id, "n": self.new_nonce()}
        if admin.by_token:
            data["t"] = _fingerprint(self.settings.admin_token)
        self.write(response, data)

    def sign_out(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/")

    def admin(self, request: Request) -> Admin | None:
        """The signed-in admin of this request (a database read for admin users)."""
        data = self.read(request)
        admin_id = data.get("a")
        if not isinstance(admin_id, int):
            return None
        if admin_id == 0:
            token = self.settings.admin_token
            if token and hmac.compare_digest(str(data.get("t", "")), _fingerprint(token)):
                return TOKEN_ADMIN
            return None
        return admins.signed_in_admin(self.settings, admin_id)

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
