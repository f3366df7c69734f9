"""The long-running processes: `digest serve`, `digest worker`, `digest beat`."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from digest.cli.app import app, load_settings
from digest.cli.output import err
from digest.config import get_settings
from digest.errors import InvalidInput


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Run the web app (sign-up, confirmation, preferences, unsubscribe, health)."""
    import uvicorn

    from digest.runtime.logs import configure
    from digest.runtime.secret_key import refuse_default_key
    from digest.web import create_app

    def say(step: str) -> None:
        err.print(f"digest serve: {step}…", markup=False, highlight=False)

    settings = load_settings(templates=True, say=say)
    refuse_default_key(settings, listen_host=host)
    configure(settings)
    say("loading the web app")
    app = create_app(settings)
    say(f"opening http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_config=None)


def _exec_celery(args: list[str]) -> None:
    if not get_settings().broker_url:
        raise InvalidInput("set DIGEST_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run workers")
    load_settings(
        templates=True
    )  # an old schema or a broken template is named here, not in every task
    os.execvp(sys.executable, [sys.executable, "-m", "celery", "-A", "workers", *args])


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(ctx: typer.Context) -> None:
    """A Celery worker (extra arguments go to `celery worker`)."""
    _exec_celery(["worker", *ctx.args])


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def beat(ctx: typer.Context) -> None:
    """Celery beat: enqueues gathering every 15 minutes and due sends every minute."""
    _exec_celery(["beat", *ctx.args])
