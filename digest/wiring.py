"""The settings turned into the edges' plain arguments: the transport mail goes out by,
the fetcher sources are read with, the DKIM signer, the list's look (`Mailing`) and the
retry policy. The edges know no settings; the jobs and the workers build them here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest.config import Settings
from digest.core.retry import RetryPolicy
from digest.errors import ConfigError

if TYPE_CHECKING:
    import httpx

    from digest.gather.addresses import AllowList
    from digest.gather.fetch import Fetcher
    from digest.mail.dkim import Signer
    from digest.mail.outgoing import Finisher
    from digest.mail.transports import Transport
    from digest.render.edition import Mailing


def mailing(settings: Settings) -> Mailing:
    """What the list says about itself around the articles."""
    # Loaded here: Jinja2 and the renderer cost a command that renders nothing.
    from digest.render.edition import Mailing

    return Mailing(
        language=settings.language,
        sender=settings.from_address,
        postal_address=settings.postal_address,
        subject=settings.subject,
    )


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        base_delay=settings.retry_base_delay,
        max_delay=settings.retry_max_delay,
        window=settings.retry_window,
    )


def transport_for(settings: Settings) -> Transport:
    """The transport the settings describe (see digest.mail.servers.transport_from_url).
    The final dot's answer is awaited a third of the claim timeout: a sender renews its
    claim every third, so no other sender takes the copy over while this one still waits."""
    from digest.mail.servers import transport_from_url

    return transport_from_url(
        settings.smtp_url,
        settings.outbox_dir,
        settings.limits_url,
        settings.smtp_timeout,
        settings.claim_timeout / 3,
    )


def signer(settings: Settings) -> Signer | None:
    """The DKIM signer the settings describe, None when DKIM is off; a bad key or a
    missing selector is a one-line ConfigError naming the setting."""
    if not settings.dkim_key_file:
        return None
    if not settings.dkim_selector:
        raise ConfigError("DIGEST_DKIM_SELECTOR: needed with DIGEST_DKIM_KEY_FILE")
    from digest.mail.dkim import Signer
    from digest.mail.message import domain_of

    return Signer.load(
        settings.dkim_key_file,
        selector=settings.dkim_selector,
        domain=settings.dkim_domain or domain_of(settings.from_address),
    )


def finisher(settings: Settings) -> Finisher:
    """The VERP return path and the DKIM signature every copy gets, when configured."""
    from digest.mail.outgoing import Finisher

    return Finisher(signer(settings), settings.bounce_address, settings.secret_key)


def allow_list(settings: Settings) -> AllowList:
    """The networks fetched although inside (DIGEST_FETCH_ALLOW_NETWORKS)."""
    from digest.gather.addresses import AllowList

    return AllowList.parse(settings.fetch_allow_networks)


def fetcher_for(settings: Settings, client: httpx.Client | None = None) -> Fetcher:
    """The fetcher every source is read with: the limits and the networks allowed come from
    the settings. With Redis, every gathering process shares the per-host limit and
    robots.txt. `client` builds the requests; the fetcher's guarded transport sends them."""
    import httpx

    from digest.gather.fetch import Fetcher, user_agent_for
    from digest.gather.hosts import host_gate

    return Fetcher(
        client=client or httpx.Client(trust_env=False),
        timeout=settings.fetch_timeout,
        max_bytes=settings.fetch_max_bytes,
        per_host=settings.gather_per_host,
        user_agent=user_agent_for(settings.base_url),
        gate=host_gate(settings.gather_per_host, settings.limits_url, settings.fetch_timeout),
        allow=allow_list(settings),
        max_connections=settings.gather_concurrency * 2,
    )


def webhook_client(settings: Settings) -> httpx.Client:
    """The client outgoing webhooks are posted with: guarded like every fetch, no
    redirects followed."""
    from digest.gather.fetch import guarded_client

    return guarded_client(allow_list(settings), follow_redirects=False)
