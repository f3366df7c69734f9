#!/usr/bin/env bash
# Make sure the real programs the integration tests drive are on this machine:
# redis-server (broker), chromium (web pages and the digest email, driven by Playwright),
# the PostgreSQL server (the tests start a throwaway cluster with initdb/pg_ctl; not a
# system service), spamassassin (scores a sent digest, offline rules) and node/npm for
# doiuse-email (the caniemail data), which goes into this checkout's .cache/node.
# Debian/Ubuntu as root: install the distribution packages. Otherwise say what to do.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DOIUSE_EMAIL_VERSION=0.4.1
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
have_postgres() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}
have_postgres || missing+=(postgresql)
command -v spamassassin >/dev/null 2>&1 || missing+=(spamassassin)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages for the integration tests: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "not installed: ${missing[*]} (e.g. 'sudo apt-get install ${missing[*]}')" >&2
    echo "the tests that need them are skipped locally, and fail under CI=true" >&2
  fi
fi
# doiuse-email from the npm registry, project-local (gitignored), at a fixed version.
installed="$ROOT/.cache/node/node_modules/doiuse-email/package.json"
if command -v npm >/dev/null 2>&1 && ! grep -q "\"version\": \"$DOIUSE_EMAIL_VERSION\"" "$installed" 2>/dev/null; then
  echo "installing doiuse-email $DOIUSE_EMAIL_VERSION into .cache/node" >&2
  mkdir -p "$ROOT/.cache/node"
  npm install --prefix "$ROOT/.cache/node" --no-audit --no-fund --loglevel=error \
    "doiuse-email@$DOIUSE_EMAIL_VERSION" >/dev/null
fi
exit 0
