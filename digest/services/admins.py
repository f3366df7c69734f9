"""Admin users and their API tokens.

Passwords are hashed with argon2 (argon2-cffi's defaults, RFC 9106's second choice); an
API token is shown once and stored as its SHA-256, so a copy of the database gives no
way in. `DIGEST_ADMIN_TOKEN` remains the key that needs no user at all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from digest.config import Settings
from digest.core.addresses import normalize_email
from digest.core.vocabulary import utcnow
from digest.errors import AlreadyExists, InvalidField, InvalidInput, NotFound
from digest.store import admins as store_admins
from digest.store.db import Session, session_scope
from digest.store.models import AdminSession, AdminUser, ApiToken
from digest.store.schema import require_current_schema

MIN_PASSWORD = 10
TOKEN_PREFIX = "dgt_"
_hasher = PasswordHasher()
# Compared against when the address is unknown, so both answers take as long.
_DUMMY_HASH = _hasher.hash("not-a-password-of-anyone")


@dataclass(frozen=True)
class Admin:
    """Who is signed in: an admin user, or the holder of DIGEST_ADMIN_TOKEN (id 0)."""

    id: int
    email: str
    # The API token it signed in with, when it did: revoking the token ends the session.
    api_token_id: int | None = None

    @property
    def by_token(self) -> bool:
        return self.id == 0


TOKEN_ADMIN = Admin(0, "admin token")


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidField("password", f"at least {MIN_PASSWORD} characters")
    return password


def add_admin(session: Session, email: str, password: str) -> AdminUser:
    try:
        address = normalize_email(email)
    except InvalidInput as exc:
        raise InvalidField("email", str(exc)) from None
    if store_admins.by_email(session, address):
        raise AlreadyExists(f"{address} is already an admin")
    user = AdminUser(email=address, password_hash=_hasher.hash(check_password(password)))
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, email: str, password: str) -> AdminUser:
    user = find_admin(session, email)
    user.password_hash = _hasher.hash(check_password(password))
    store_admins.end_sessions_of_admin(session, user.id)  # signed in elsewhere: not any more
    return user


def find_admin(session: Session, email: str) -> AdminUser:
    user = store_admins.by_email(session, email.strip().lower())
    if user is None:
        raise NotFound(f"no admin {email}")
    return user


def remove_admin(session: Session, email: str) -> None:
    user = find_admin(session, email)
    store_admins.end_sessions_of_admin(session, user.id)
    session.delete(user)


def admin_rows(session: Session) -> list[dict[str, Any]]:
    return [
        {"id": u.id, "email": u.email, "created_at": u.created_at, "last_login_at": u.last_login_at}
        for u in store_admins.all_admins(session)
    ]


def authenticate(session: Session, email: str, password: str) -> Admin | None:
    """The admin with this address and password, or None (same time either way)."""
    user = store_admins.by_email(session, email.strip().lower())
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    return Admin(user.id, user.email)


def admin_by_id(session: Session, admin_id: int) -> Admin | None:
    user = session.get(AdminUser, admin_id)
    return Admin(user.id, user.email) if user else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, email: str, name: str = "api") -> str:
    """A new API token for this admin; the only time it is seen in clear."""
    return _issue(session, find_admin(session, email).id, name)


def create_token_for(session: Session, admin: Admin, name: str) -> str:
    """A new API token for the signed-in admin (the admin's console)."""
    if admin.by_token or session.get(AdminUser, admin.id) is None:
        raise InvalidInput(
            "API tokens belong to an admin user: sign in with an address and password "
            "(`digest admins add` makes one)"
        )
    return _issue(session, admin.id, name)


def _issue(session: Session, admin_id: int, name: str) -> str:
    label = " ".join(name.split())
    if not label:
        raise InvalidField("name", "say what the token is for")
    if len(label) > 200:
        raise InvalidField("name", "at most 200 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(admin_user_id=admin_id, name=label, token_hash=_digest(token)))
    session.flush()
    return token


def token_rows(session: Session) -> list[dict[str, Any]]:
    """Every admin's tokens (admins hold the same rights, so any may revoke any)."""
    rows = store_admins.tokens_with_owner(session)
    return [
        {
            "id": token.id,
            "name": token.name,
            "admin": email,
            "created_at": token.created_at,
            "last_used_at": token.last_used_at,
        }
        for token, email in rows
    ]


def revoke_token(session: Session, token_id: int) -> str:
    """Delete a token at once (its next request is refused); its name, for the notice."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no API token #{token_id}")
    store_admins.end_sessions_of_token(session, token.id)
    session.delete(token)
    session.flush()
    return token.name


def admin_for_token(session: Session, token: str, admin_token: str | None) -> Admin | None:
    """Who a Bearer token belongs to: DIGEST_ADMIN_TOKEN, an admin's API token, or nobody."""
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return TOKEN_ADMIN
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = store_admins.token_by_hash(session, _digest(token))
    if row is None:
        return None
    row.last_used_at = utcnow()
    owner = admin_by_id(session, row.admin_user_id)
    return Admin(owner.id, owner.email, api_token_id=row.id) if owner else None


def any_admin(settings: Settings) -> bool:
    """Whether an admin account exists (the default secret key is refused from then on)."""
    require_current_schema(settings.database_url)
    with session_scope(settings.database_url) as session:
        return store_admins.count(session) > 0


# --- the use cases of the admin pages and the API, each in its own transaction -------------


def sign_in(settings: Settings, email: str, password: str, token: str) -> Admin | None:
    """Who signs in on the admin's form: with a token (DIGEST_ADMIN_TOKEN or an API
    token), else with an address and password; None when neither fits."""
    with session_scope(settings.database_url) as session:
        if token:
            return admin_for_token(session, token, settings.admin_token)
        if email and password:
            return authenticate(session, email, password)
        return None


def token_admin(settings: Settings, token: str) -> Admin | None:
    """Who a Bearer token belongs to (its use is recorded), or None."""
    with session_scope(settings.database_url) as session:
        return admin_for_token(session, token, settings.admin_token)


def list_tokens(settings: Settings) -> list[dict[str, Any]]:
    with session_scope(settings.database_url) as session:
        return token_rows(session)


def make_token(settings: Settings, admin: Admin, name: str) -> str:
    """A new API token for the signed-in admin, seen in clear this once."""
    with session_scope(settings.database_url) as session:
        return create_token_for(session, admin, name)


def revoke(settings: Settings, token_id: int) -> str:
    """Delete an API token; its name."""
    with session_scope(settings.database_url) as session:
        return revoke_token(session, token_id)


# --- console sessions: a row each, so that they can end ------------------------------------

# A session ends after this long whatever happens, and earlier when unused for
# `DIGEST_ADMIN_IDLE_TIMEOUT` seconds.
SESSION_MAX_AGE = 12 * 3600
# How often a session's last use is written down (not on every request).
_TOUCH_EVERY = 60


def _admin_token_hash(settings: Settings) -> str | None:
    """A keyed hash of DIGEST_ADMIN_TOKEN, kept with its sessions (never in a cookie)."""
    if not settings.admin_token:
        return None
    key = settings.secret_key.encode()
    return hmac.new(key, settings.admin_token.encode(), hashlib.sha256).hexdigest()


def start_session(settings: Settings, admin: Admin) -> str:
    """A new console session for this admin; the random id its cookie carries."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    row = AdminSession(
        session_hash=_digest(raw),
        admin_user_id=None if admin.by_token else admin.id,
        api_token_id=admin.api_token_id,
        admin_token_hash=_admin_token_hash(settings) if admin.by_token else None,
        created_at=now,
        last_seen_at=now,
    )
    with session_scope(settings.database_url) as session:
        store_admins.add_session(session, row)
    return raw


def session_admin(settings: Settings, raw: str) -> Admin | None:
    """Who a console session belongs to, or None once it has ended: signed out, too old,
    idle too long, its password changed, its API token revoked, DIGEST_ADMIN_TOKEN changed
    or unset, or its admin removed."""
    now = utcnow()
    with session_scope(settings.database_url) as session:
        row = store_admins.session_by_hash(session, _digest(raw))
        if row is None:
            return None
        too_old = (now - row.created_at).total_seconds() > SESSION_MAX_AGE
        idle = (now - row.last_seen_at).total_seconds() > settings.admin_idle_timeout
        if too_old or idle:
            session.delete(row)
            return None
        if row.admin_user_id is None:  # signed in with DIGEST_ADMIN_TOKEN
            current = _admin_token_hash(settings)
            if current is None or not hmac.compare_digest(current, row.admin_token_hash or ""):
                session.delete(row)
                return None
            admin: Admin | None = TOKEN_ADMIN
        else:
            admin = admin_by_id(session, row.admin_user_id)
            if admin is not None and row.api_token_id is not None:
                admin = Admin(admin.id, admin.email, api_token_id=row.api_token_id)
        if admin is not None and (now - row.last_seen_at).total_seconds() > _TOUCH_EVERY:
            row.last_seen_at = now
        return admin


def end_session(settings: Settings, raw: str) -> None:
    """Sign out: the session's row goes, so a copy of its cookie opens nothing."""
    with session_scope(settings.database_url) as session:
        store_admins.end_session(session, _digest(raw))


def new_admin(settings: Settings, email: str, password: str) -> dict[str, Any]:
    """`digest admins add`: an admin added in a transaction of its own; its id and address."""
    with session_scope(settings.database_url) as session:
        user = add_admin(session, email, password)
        return {"id": user.id, "email": user.email}
