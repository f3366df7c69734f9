# syntax=docker/dockerfile:1
# One image for every role: `digest init`, `digest serve`, `digest worker`, `digest beat`.
# Everything is installed at build time; nothing is fetched when a container starts.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DIGEST_OUTBOX_DIR=/app/outbox

RUN groupadd --system --gid 10001 digest \
    && useradd --system --uid 10001 --gid digest --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin digest

# Install the project (not editable) with the PostgreSQL driver from the `postgres` extra;
# the templates go into the package (setup.py), so the source tree is not needed afterwards.
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY digest ./digest
COPY workers ./workers
COPY templates ./templates
RUN pip install ".[postgres]" \
    && cd / && rm -rf /src

WORKDIR /app
# /app is the working directory of every role: beat keeps its schedule file here and the
# outbox transport (used when DIGEST_SMTP_URL is unset) writes .eml files under it.
RUN mkdir -p /app/outbox && chown -R digest:digest /app

USER digest
EXPOSE 8000

# `docker run IMAGE gather`, `... send --now`, `... serve --host 0.0.0.0`, and so on.
ENTRYPOINT ["digest"]
CMD ["--help"]
