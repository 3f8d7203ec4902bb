#!/usr/bin/env bash
# A PostgreSQL server for the store and e2e tests that run on PostgreSQL (tests/postgres.py starts one
# per test process from /usr/lib/postgresql/N/bin as the `postgres` user). Debian's package if missing.
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    echo "setup postgres: using $(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup postgres: installing Debian's postgresql with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    echo "setup postgres: installed $(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
else
    echo "setup postgres: no PostgreSQL server found and cannot install one (need root + apt-get)." >&2
    echo "  Install it yourself: sudo apt-get install -y postgresql" >&2
    echo "  The tests that run on PostgreSQL will fail until it is there." >&2
fi
