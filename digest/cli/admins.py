"""`digest admins`: the admin users of /admin, their passwords and API tokens."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from digest.cli.app import JsonOption, admins_app, load_settings, show_rows
from digest.cli.output import Column, console, show, when
from digest.services.transaction import run as in_transaction


def _ask_password() -> str:
    password = os.environ.get("DIGEST_NEW_ADMIN_PASSWORD")  # for scripts: not kept anywhere
    if password:
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@admins_app.command("add")
def admins_add(email: str) -> None:
    """Add an admin; asks for the password (hashed with argon2, never stored)."""
    from digest.services.admins import new_admin

    settings = load_settings()
    password = _ask_password()
    user = new_admin(settings, email, password)
    console.print(f"Added admin #{user['id']}: {user['email']}", markup=False)


@admins_app.command("password")
def admins_password(email: str) -> None:
    """Set a new password for an admin."""
    from digest.services.admins import set_password

    settings = load_settings()
    password = _ask_password()
    in_transaction(settings, set_password, email, password)
    console.print(f"Password of {email} changed", markup=False)


@admins_app.command("remove")
def admins_remove(email: str) -> None:
    """Remove an admin and their API tokens."""
    from digest.services.admins import remove_admin

    settings = load_settings()
    in_transaction(settings, remove_admin, email)
    console.print(f"Removed admin {email}", markup=False)


ADMIN_COLUMNS = (
    Column("id", lambda r: str(r["id"])),
    Column("email", lambda r: r["email"]),
    Column("last sign-in", lambda r: when(r["last_login_at"])),
)


@admins_app.command("list")
def admins_list(as_json: JsonOption = False) -> None:
    """List the admins."""
    from digest.services.admins import admin_rows

    show_rows(admin_rows, ADMIN_COLUMNS, as_json)


@admins_app.command("token")
def admins_token(
    email: str, name: Annotated[str, typer.Option(help="What the token is for.")] = "api"
) -> None:
    """Make an API token for an admin; printed once, stored only as a hash."""
    from digest.services.admins import create_token

    settings = load_settings()
    token = in_transaction(settings, create_token, email, name)
    sys.stdout.write(token + "\n")


TOKEN_COLUMNS = (
    Column("id", lambda r: str(r["id"])),
    Column("for", lambda r: r["name"]),
    Column("admin", lambda r: r["admin"]),
    Column("made", lambda r: when(r["created_at"])),
    Column("last used", lambda r: when(r["last_used_at"])),
)


@admins_app.command("tokens")
def admins_tokens(as_json: JsonOption = False) -> None:
    """List the API tokens of every admin (never the tokens themselves)."""
    from digest.services.admins import list_tokens

    show(list_tokens(load_settings()), TOKEN_COLUMNS, as_json)


@admins_app.command("revoke-token")
def admins_revoke_token(token_id: int) -> None:
    """Revoke an API token: its next request is refused."""
    from digest.services.admins import revoke

    settings = load_settings()
    name = revoke(settings, token_id)
    console.print(f"Revoked API token #{token_id} ({name})", markup=False)
