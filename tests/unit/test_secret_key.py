"""The default secret key is refused wherever someone else could use what it signs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from digest.config import DEFAULT_SECRET, Settings, is_loopback_host
from digest.errors import ConfigError
from digest.runtime.checks import check_exposure
from digest.runtime.secret_key import VARIABLE, ensure_secret_key, refuse_default_key
from digest.services.admins import add_admin
from digest.store import db, schema

LOCAL = "http://localhost:8000"
PUBLIC = "https://news.example.org"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("localhost.", True),
        ("app.localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.4", False),
        ("news.example.org", False),
        ("localhost.example.org", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_the_default_key_is_refused_beyond_loopback_or_once_an_admin_exists() -> None:
    local = Settings(base_url=LOCAL, secret_key=DEFAULT_SECRET)
    assert local.secret_key_refusal() is None
    assert local.secret_key_refusal(listen_host="127.0.0.1") is None
    served = local.secret_key_refusal(listen_host="0.0.0.0")
    assert served and "served on 0.0.0.0" in served and "sign in to the admin" in served
    assert "an admin account exists" in (local.secret_key_refusal(admins_exist=True) or "")
    public = Settings(base_url=PUBLIC, secret_key=DEFAULT_SECRET).secret_key_refusal()
    assert public and f"DIGEST_BASE_URL is {PUBLIC}" in public
    # Any other key is the operator's own.
    own = Settings(base_url=PUBLIC, secret_key="a-long-random-value")
    assert own.secret_key_refusal(listen_host="0.0.0.0", admins_exist=True) is None


def test_a_process_checks_the_database_for_admins(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    schema.upgrade(url)
    settings = Settings(database_url=url, base_url=LOCAL, secret_key=DEFAULT_SECRET)
    refuse_default_key(settings)  # nothing to protect yet: allowed
    with db.session_scope(url) as session:
        add_admin(session, "ops@example.org", "a-good-long-password")
    with pytest.raises(ConfigError, match="an admin account exists"):
        refuse_default_key(settings)
    with pytest.raises(ConfigError, match=r"served on 10\.0\.0\.5"):
        refuse_default_key(
            Settings(database_url=f"sqlite:///{tmp_path / 'e.db'}", secret_key=DEFAULT_SECRET),
            listen_host="10.0.0.5",
        )


def test_check_calls_the_default_key_and_a_local_address_errors_for_production(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    laptop = Settings(database_url=url, base_url=LOCAL, secret_key=DEFAULT_SECRET)
    found = {c.name: c.status for c in check_exposure(laptop)}
    assert found == {"secret key": "warning", "base url": "warning"}
    found = {c.name: c.status for c in check_exposure(laptop, production=True)}
    assert found == {"secret key": "error", "base url": "error"}
    public = Settings(database_url=url, base_url=PUBLIC, secret_key=DEFAULT_SECRET)
    [key] = check_exposure(public)
    assert (key.name, key.status) == ("secret key", "error")
    ready = Settings(database_url=url, base_url=PUBLIC, secret_key="own-key")
    assert check_exposure(ready, production=True) == []


def test_init_writes_a_random_key_once_and_keeps_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    env = tmp_path / ".env"
    env.write_text("DIGEST_LIST_NAME=Harbour\n")
    assert ensure_secret_key(env) == env.resolve()
    lines = env.read_text().splitlines()
    assert lines[0] == "DIGEST_LIST_NAME=Harbour"
    key = lines[-1].removeprefix(f"{VARIABLE}=")
    assert len(key) >= 48 and key != DEFAULT_SECRET
    assert ensure_secret_key(env) is None  # set now: left as it is
    assert env.read_text().count(VARIABLE) == 1
    fresh = tmp_path / "new" / ".env"
    fresh.parent.mkdir()
    assert ensure_secret_key(fresh) == fresh.resolve()
    assert os.stat(fresh).st_mode & 0o077 == 0  # readable by its owner only
    second = fresh.read_text()
    assert second != env.read_text()  # random each time
    monkeypatch.setenv(VARIABLE, "from-the-environment")
    other = tmp_path / "other.env"
    assert ensure_secret_key(other) is None and not other.exists()
