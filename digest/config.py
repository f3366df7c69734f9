"""Settings from the environment (prefix ``DIGEST_``) and an optional ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRET = "change-me-in-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIGEST_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///digest.db"
    # Unset: tasks run in the calling process. redis://...: work goes to Celery workers.
    broker_url: str | None = None
    # Unset: messages are written as .eml files into outbox_dir.
    smtp_url: str | None = None
    outbox_dir: Path = Path("outbox")
    base_url: str = "http://localhost:8000"
    secret_key: str = DEFAULT_SECRET
    from_address: str = Field("Digest <digest@localhost>", alias="DIGEST_FROM")
    admin_token: str | None = None
    list_name: str = "Digest"
    templates_dir: Path = PROJECT_ROOT / "templates"

    # Gathering limits: every source is fetched with these.
    fetch_timeout: float = 20.0
    fetch_max_bytes: int = 5_000_000

    # Edition contents.
    max_articles: int = 20
    first_digest_days: int = 7
    delivery_batch_size: int = 100
    # A temporary SMTP failure is tried again after base, 2*base, 4*base... seconds (at most
    # an hour), in this process or on the workers alike, up to this many attempts in all.
    retry_base_delay: float = 30.0
    delivery_max_attempts: int = 5
    # A delivery claimed longer ago than this was being sent by a worker that died; it is
    # sent again (at least once beats never; the Message-ID stays the same).
    claim_timeout: float = 600.0
    # Redis hands an unacknowledged task to another worker after this many seconds.
    visibility_timeout: float = 3600.0

    def warnings(self) -> list[str]:
        """Settings that are fine on a laptop and wrong on a public server."""
        host = urlsplit(self.base_url).hostname or ""
        local = host in ("localhost", "127.0.0.1", "::1")
        found = []
        if self.secret_key == DEFAULT_SECRET and not local:
            found.append("DIGEST_SECRET_KEY is the default: anyone can forge unsubscribe links")
        if not local and not self.base_url.startswith("https://"):
            found.append("DIGEST_BASE_URL is not https: mailbox providers expect HTTPS links")
        return found


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
