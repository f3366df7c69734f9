"""The `digest` command: parse the arguments, call the library, print the outcome.

One function per command, in one module per area; `digest.cli.app` holds the Typer
apps and what the commands share, `digest.cli.output` how they print. Where the work
runs (this process, or Celery workers when DIGEST_BROKER_URL is set) is decided by
`digest.runtime.dispatch`, not here.
"""

from __future__ import annotations

from digest.cli.app import app, main

# Each area registers its commands as it is imported, in the order `digest --help`
# lists them: keep this order.
# isort: off
from digest.cli import database, sources, articles, subscribers, gathering  # noqa: F401
from digest.cli import sending, bounces, run, admins, webhooks, servers  # noqa: F401
# isort: on

__all__ = ["app", "main"]
