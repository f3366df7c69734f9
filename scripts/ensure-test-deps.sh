#!/usr/bin/env bash
# Make sure the real programs the integration tests drive are on this machine:
# redis-server (broker), chromium (web pages, driven by Playwright) and the PostgreSQL
# server (the tests start a throwaway cluster with initdb/pg_ctl; not a system service).
# Debian/Ubuntu as root: install the distribution packages. Otherwise say what to do.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
have_postgres() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}
have_postgres || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages for the integration tests: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "not installed: ${missing[*]} (e.g. 'sudo apt-get install ${missing[*]}')" >&2
echo "the tests that need them are skipped locally, and fail under CI=true" >&2
exit 0
