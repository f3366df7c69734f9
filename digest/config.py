"""Settings from the environment (prefix ``DIGEST_``) and an optional ``.env`` file."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from digest.core.redact import mask_url
from digest.errors import ConfigError
from digest.render import default_templates_dir

DEFAULT_SECRET = "change-me-in-production"
ENV_PREFIX = "DIGEST_"
BROKER_SCHEMES = ("redis", "rediss", "redis+socket")
DATABASE_EXAMPLES = "sqlite:///path/to/digest.db or postgresql+psycopg://user:password@host/name"


def broker_url_problem(url: str) -> str | None:
    """What is wrong with a Celery broker URL, or None."""
    shown = mask_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"{shown!r} has a port that is not a number from 1 to 65535"
    if parts.scheme not in BROKER_SCHEMES:
        return f"must start with redis:// or rediss:// (Celery with Redis), not {shown!r}"
    if port == 0:
        return f"{shown!r} has a port that is not a number from 1 to 65535"
    return None


# The database types SQLAlchemy ships, with the drivers each may name after a "+". The form
# of the URL is checked here, before anything connects; whether the driver is installed and
# the database can be reached is found out when connecting (digest.store.db).
DIALECTS: dict[str, frozenset[str]] = {
    "sqlite": frozenset({"pysqlite", "aiosqlite", "pysqlcipher"}),
    "postgresql": frozenset(
        {"psycopg2", "psycopg", "psycopg_async", "psycopg2cffi", "pg8000", "asyncpg"}
    ),
    "mysql": frozenset(
        {"mysqldb", "pymysql", "mysqlconnector", "asyncmy", "aiomysql", "cymysql", "pyodbc"}
    ),
    "mariadb": frozenset({"mariadbconnector", "mysqldb", "pymysql", "mysqlconnector"}),
    "oracle": frozenset({"cx_oracle", "oracledb", "oracledb_async"}),
    "mssql": frozenset({"pyodbc", "pymssql", "aioodbc"}),
}
_URL_FORM = re.compile(r"^(?P<name>[\w+.-]+)://")


def _port_ok(url: str) -> bool:
    """The URL's port, if any, is a number in range (urlsplit raises ValueError otherwise)."""
    try:
        urlsplit(url).port  # noqa: B018 (read for the check it makes)
    except ValueError:
        return False
    return True


def database_url_problem(url: str) -> str | None:
    """What is wrong with the form of a database URL, or None."""
    shown = mask_url(url)
    match = _URL_FORM.match(url)
    if match is None or not _port_ok(url):
        return f"{shown!r} is not a database URL; use {DATABASE_EXAMPLES}"
    drivername = match["name"]
    dialect, _, driver = drivername.partition("+")
    drivers = DIALECTS.get(dialect)
    if drivers is None or (driver and driver not in drivers):
        return f"unknown database type {drivername!r} in {shown!r}; use {DATABASE_EXAMPLES}"
    return None


# "5/minute", "20 per hour": a form `limits.parse` reads, told without importing it.
_PLAIN_RATE = re.compile(r"[1-9][0-9]{0,8} ?(?:/|per) ?(?:second|minute|hour|day)")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    database_url: str = "sqlite:///digest.db"
    # Unset: tasks run in the calling process. redis://...: work goes to Celery workers.
    broker_url: str | None = None
    # Unset: messages are written as .eml files into outbox_dir.
    smtp_url: str | None = None
    # Seconds an SMTP server may take to connect or answer before the copy is deferred
    # (the answer to a message's final dot: a third of claim_timeout, if longer).
    smtp_timeout: float = Field(30.0, gt=0)
    outbox_dir: Path = Path("outbox")
    base_url: str = "http://localhost:8000"
    secret_key: str = DEFAULT_SECRET
    from_address: str = Field("Digest <digest@localhost>", alias="DIGEST_FROM")
    admin_token: str | None = None
    list_name: str = "Digest"
    # Folder whose email/ and web/ templates override the installed ones, file by file.
    templates_dir: Path = Field(default_factory=default_templates_dir)
    # The list's language (BCP 47): the digest's masthead, footer and dates are written in it.
    language: str = "en"
    # The sender's postal address, printed in every digest's footer (bulk-mail law in
    # several countries asks for one).
    postal_address: str | None = None
    # The digest's subject: a format string over {list_name}, {date}, {headline}, {count}
    # and {more}.
    subject: str = "{list_name}, {date}: {headline}"

    # Gathering limits: every source is fetched with these.
    fetch_timeout: float = 20.0
    fetch_max_bytes: int = 5_000_000
    # Fetches (sources, their pages, outgoing webhooks) never connect to loopback, private,
    # link-local or reserved addresses, except in the networks named here: comma-separated,
    # each a network or an address, optionally with a port, e.g.
    # "10.0.0.0/8,127.0.0.1:8765,[fd00::1]:8080" (for feeds on an intranet).
    fetch_allow_networks: str = ""
    # Sources fetched at once, and at most this many requests at once to one host.
    gather_concurrency: int = Field(32, ge=1, le=512)
    gather_per_host: int = Field(4, ge=1, le=64)
    # Processes sharing a large gather's parsing (0: one per CPU core).
    gather_processes: int = Field(0, ge=0, le=64)
    # A source failing twice in a row waits this many seconds, then twice as long after
    # each further failure, at most a day.
    gather_backoff_base: float = Field(600.0, ge=0)

    # Edition contents.
    # At most this many articles are shown; the rest of what is new is "and N more".
    max_articles: int = Field(20, ge=1)
    # A first digest holds what was published (undated: first seen) in these last days.
    first_digest_days: int = Field(7, ge=0)
    # Summaries: the lead's first whole sentences, at most this many and about this many
    # words (a first sentence is kept whole even when longer).
    summary_sentences: int = Field(3, ge=1)
    summary_words: int = Field(60, ge=10)
    # Copies per claim (and per Celery task). Each batch costs two commits and a claim, so
    # bigger batches go faster (on SQLite above all); a batch lost with its worker waits
    # for the claim timeout.
    delivery_batch_size: int = Field(500, ge=1, le=10_000)
    # A temporary SMTP failure defers the copy: tried again after about base, 2*base,
    # 4*base... seconds (at most retry_max_delay, with jitter), until retry_window seconds
    # after it was planned; only then (or on a 5xx) does it fail.
    retry_base_delay: float = 30.0
    retry_max_delay: float = 3600.0
    retry_window: float = 86400.0
    # In this process, `digest send` waits for deferred copies due within this many seconds;
    # later ones are left for the next send, run or beat dispatch.
    send_retry_wait: float = 60.0
    # `digest send` waiting on workers gives up after this many seconds without progress.
    send_wait_timeout: float = 300.0
    # A delivery claimed longer ago than this was being sent by a worker that died; it is
    # sent again (at least once beats never; the Message-ID stays the same).
    claim_timeout: float = 600.0
    # Redis hands an unacknowledged task to another worker after this many seconds.
    visibility_timeout: float = 3600.0
    # Retention (`digest prune`, `digest run`, beat once a day): settled deliveries planned
    # more than this many days ago are folded into per-send, per-edition and per-day counts
    # and deleted (0: kept for ever). A DSN for a pruned copy is refused; unsubscribe
    # links carry the subscriber, not the copy, and keep working.
    delivery_retention_days: int = Field(90, ge=0)
    # Articles first seen more than this many days ago that no edition holds and that are
    # not among the newest "Read also" reads are deleted, their keys and links kept so
    # that a feed still listing them does not bring them back (0: kept for ever).
    article_retention_days: int = Field(365, ge=0)
    # Rows deleted per transaction while pruning: each batch is short, so a big prune
    # never holds the database for long.
    prune_batch_size: int = Field(5000, ge=1, le=100_000)

    # Sign-up: most sign-up forms one address (IP) may post, e.g. "5/minute", "20/hour".
    signup_rate: str = "5/minute"
    # Seconds a confirmation link stays valid (7 days).
    confirm_max_age: int = Field(7 * 24 * 3600, gt=0)
    # Set: digests carry a mailto: unsubscribe too, as the second List-Unsubscribe entry.
    unsubscribe_mailto: str | None = None
    # Bounces: a subscriber is suppressed after this many hard bounces (5xx, 5.x.x DSNs),
    # or after `soft_bounce_limit` soft ones in a row (4xx past the retry window, 4.x.x DSNs).
    bounce_limit: int = Field(1, ge=1)
    soft_bounce_limit: int = Field(3, ge=1)
    # VERP return path for DSNs, e.g. bounces@example.org: each copy goes out as
    # bounces+{delivery id}-{signature}@example.org (MAIL FROM and Return-Path).
    bounce_address: str | None = None
    # Bearer token for POST /webhooks/bounce (the admin token is accepted too).
    webhook_token: str | None = None
    # DKIM: a PEM key (RSA PKCS#1 or PKCS#8, or Ed25519) and its selector; the domain is
    # DIGEST_FROM's unless given.
    dkim_key_file: Path | None = None
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    # A send pauses after this many copies in a row failed (not counting bounces).
    error_budget: int = Field(50, ge=1)
    # The public archive of past editions at /archive (0 turns it off).
    archive: bool = True
    # GET /metrics without the admin token (for a Prometheus on a private network).
    metrics_public: bool = False
    # Log lines as JSON objects (one per line) instead of text.
    log_json: bool = False
    # Most sign-in attempts to /admin/login one IP address may make.
    admin_login_rate: str = "10/minute"
    # Seconds an admin console session may go unused before it ends (it ends after 12
    # hours in any case, and at once on signing out).
    admin_idle_timeout: int = Field(1800, gt=0)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        problem = database_url_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @property
    def limits_url(self) -> str | None:
        """Where the counts every process shares are kept (SMTP rate limits; requests open
        per host while gathering, and robots.txt): the broker when it is Redis; else None
        (counted in the process, enough when one process does the work)."""
        url = self.broker_url or ""
        return url if url.startswith(("redis://", "rediss://", "unix://")) else None

    @field_validator("fetch_allow_networks")
    @classmethod
    def _check_fetch_allow_networks(cls, value: str) -> str:
        from digest.gather.addresses import AllowList

        return str(AllowList.parse(value))  # ValueError names the entry that is no network

    @field_validator("language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        from digest.core.languages import language_problem, normalize_tag

        problem = language_problem(value)
        if problem:
            raise ValueError(problem)
        return normalize_tag(value) or value

    @field_validator("subject")
    @classmethod
    def _check_subject(cls, value: str) -> str:
        from digest.core.placeholders import subject_template_problem

        problem = subject_template_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("postal_address")
    @classmethod
    def _check_postal_address(cls, value: str | None) -> str | None:
        return " ".join(value.split()) or None if value else None

    @field_validator("broker_url")
    @classmethod
    def _check_broker_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        problem = broker_url_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp_url(cls, value: str | None) -> str | None:
        from digest.core.smtp_urls import parse_servers

        if not value or not value.strip():
            return None
        parse_servers(value)  # each server's URL and options; ValueError says which
        return value.strip()

    @field_validator("signup_rate", "admin_login_rate")
    @classmethod
    def _check_signup_rate(cls, value: str) -> str:
        if _PLAIN_RATE.fullmatch(value):  # the common form, without loading `limits`
            return value
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate; write a count per period, e.g. 5/minute or 20/hour"
            ) from None
        return value

    @field_validator("unsubscribe_mailto")
    @classmethod
    def _check_unsubscribe_mailto(cls, value: str | None) -> str | None:
        if not value:
            return None
        from email_validator import EmailNotValidError, validate_email

        address = value.removeprefix("mailto:").strip()
        try:
            return validate_email(address, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValueError(f"{value!r} is not an email address: {exc}") from None

    @field_validator("bounce_address")
    @classmethod
    def _check_bounce_address(cls, value: str | None) -> str | None:
        if not value:
            return None
        from digest.core.verp import bounce_address_problem

        problem = bounce_address_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @property
    def base_url_is_local(self) -> bool:
        """The links in mail and the pages point at this machine only."""
        return is_loopback_host(urlsplit(self.base_url).hostname or "")

    def secret_key_refusal(
        self, *, listen_host: str | None = None, admins_exist: bool = False
    ) -> str | None:
        """Why a process must not start with this secret key, or None.

        The default key is public (it is in the source), so anyone can sign with it: an
        admin session, an API token minted from there, every subscriber's links. It is
        allowed only where nothing signed with it can be used by someone else: pages
        served on loopback, links pointing at loopback, and no admin account yet.
        """
        if not self.default_key:
            return None
        reasons = []
        if listen_host is not None and not is_loopback_host(listen_host):
            reasons.append(f"the pages are served on {listen_host}")
        if not self.base_url_is_local:
            reasons.append(f"DIGEST_BASE_URL is {self.base_url}")
        if admins_exist:
            reasons.append("an admin account exists")
        if not reasons:
            return None
        return (
            f"DIGEST_SECRET_KEY is the default ({DEFAULT_SECRET!r}) and {'; '.join(reasons)}: "
            "anyone can sign in to the admin with it, mint API tokens and forge every "
            "subscriber link. Set DIGEST_SECRET_KEY to a long random value (`digest init` "
            "writes one into .env)"
        )

    @property
    def default_key(self) -> bool:
        return self.secret_key == DEFAULT_SECRET

    def default_key_problem(self) -> str:
        """What `digest check` says of the default key where it is not refused outright."""
        return (
            f"DIGEST_SECRET_KEY is the default ({DEFAULT_SECRET!r}): anyone can sign in "
            "to the admin with it and forge every subscriber link; set a long random "
            "value (`digest init` writes one into .env)"
        )

    def local_base_url_problem(self) -> str:
        return (
            f"DIGEST_BASE_URL is {self.base_url}: the links in every mail point at this "
            "machine; set the public address of `digest serve`"
        )

    def https_warning(self) -> str | None:
        if self.base_url_is_local or self.base_url.startswith("https://"):
            return None
        return "DIGEST_BASE_URL is not https: mailbox providers expect HTTPS links"

    def warnings(self) -> list[str]:
        """Settings that are fine on a laptop and wrong on a public server."""
        found = []
        if self.default_key and not self.base_url_is_local:
            found.append(
                "DIGEST_SECRET_KEY is the default: anyone can sign in to the admin with it "
                "and forge every subscriber link"
            )
        https = self.https_warning()
        if https:
            found.append(https)
        return found


def is_loopback_host(host: str) -> bool:
    """localhost, or an address of the loopback network (IPv4 or IPv6)."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def env_names() -> dict[str, str]:
    """Each setting's environment variable, by field name: DIGEST_FROM for from_address."""
    return {
        name: field.alias or ENV_PREFIX + name.upper()
        for name, field in Settings.model_fields.items()
    }


def describe_validation_error(exc: ValidationError) -> list[str]:
    """One line per bad setting, naming its variable; URLs are shown without passwords."""
    names = env_names()
    by_alias = {env.lower(): env for env in names.values()}
    lines = []
    for error in exc.errors():
        key = str(error["loc"][0]) if error["loc"] else ""
        env = names.get(key) or by_alias.get(key.lower()) or key
        if error["type"] == "value_error":
            reason = str(error.get("ctx", {}).get("error", error["msg"]))
        else:
            msg = error["msg"]
            value = error.get("input")
            shown = mask_url(value) if isinstance(value, str) else value
            reason = f"{msg[:1].lower()}{msg[1:]} (got {shown!r})"
        lines.append(f"{env}: {reason}")
    return lines


def load_settings() -> Settings:
    """Settings from the environment; a bad value raises ConfigError, one line per setting."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError("\n".join(describe_validation_error(exc))) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
