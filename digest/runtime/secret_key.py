"""The secret key: written once for a new install, and refused where the default is unsafe."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from digest.config import ENV_PREFIX, Settings
from digest.errors import ConfigError

VARIABLE = f"{ENV_PREFIX}SECRET_KEY"


def _set_in(env_file: Path) -> bool:
    if not env_file.is_file():
        return False
    for line in env_file.read_text(encoding="utf-8", errors="replace").splitlines():
        name, _, value = line.strip().removeprefix("export ").partition("=")
        if name.strip() == VARIABLE and value.strip().strip("'\""):
            return True
    return False


def ensure_secret_key(env_file: Path = Path(".env")) -> Path | None:
    """Write a new random DIGEST_SECRET_KEY into `env_file` when none is set, neither in
    the environment nor in that file; returns the file written, else None.

    Existing lines of the file are kept; the file is made readable by its owner only when
    this creates it.
    """
    if os.environ.get(VARIABLE) or _set_in(env_file):
        return None
    key = secrets.token_urlsafe(48)
    existed = env_file.exists()
    text = env_file.read_text(encoding="utf-8") if existed else ""
    if text and not text.endswith("\n"):
        text += "\n"
    text += "# Signs sessions and subscriber links; keep it secret, keep it stable.\n"
    text += f"{VARIABLE}={key}\n"
    env_file.write_text(text, encoding="utf-8")
    if not existed:
        env_file.chmod(0o600)
    return env_file.resolve()


def refuse_default_key(settings: Settings, *, listen_host: str | None = None) -> None:
    """ConfigError when this process must not run with the default secret key: the pages
    are served beyond loopback, the links point beyond it, or an admin account exists."""
    from digest.runtime.checks import admins_exist

    refusal = settings.secret_key_refusal(
        listen_host=listen_host, admins_exist=admins_exist(settings)
    )
    if refusal:
        raise ConfigError(refusal)
