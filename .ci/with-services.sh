#!/usr/bin/env bash
# Runs a command with what the tests need from the system: Chromium (the HTML report test) and
# a throwaway PostgreSQL server (store and invariant tests, via LOADLENS_TEST_PG_URL).
# Installs Debian's packages when missing (needs root and the package registry), starts the
# server, runs the command, and stops the server whatever the command's outcome.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need_apt+=(postgresql)
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "installing ${need_apt[*]} (Debian packages)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ -z "${LOADLENS_TEST_PG_URL:-}" ]; then
  export LOADLENS_PG_STATE
  LOADLENS_PG_STATE=$(mktemp /tmp/loadlens-pg-state.XXXXXX)
  eval "$(.ci/postgres.sh start)"
  trap '.ci/postgres.sh stop >/dev/null 2>&1 || true; rm -f "$LOADLENS_PG_STATE"' EXIT
fi

"$@"
