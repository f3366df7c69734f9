#!/usr/bin/env bash
# Make sure a real redis-server binary is on this machine for the integration tests.
# Debian/Ubuntu as root: install the distribution package. Otherwise say what to do.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "redis-server not found: installing Debian's package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
  exit 0
fi
echo "redis-server not found: install it (e.g. 'sudo apt-get install redis-server' or 'brew install redis')" >&2
echo "the integration tests will be skipped locally, and fail under CI=true" >&2
exit 0
