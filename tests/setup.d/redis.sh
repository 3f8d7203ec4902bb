#!/usr/bin/env bash
# A Redis server for the multi-instance tests (tests/redis_server.py starts one per test process on a
# free 127.0.0.1 port, without persistence). Debian's package if missing.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    echo "setup redis: using $(redis-server --version | cut -d' ' -f1-3)"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup redis: installing Debian's redis-server with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    echo "setup redis: installed $(redis-server --version | cut -d' ' -f1-3)"
else
    echo "setup redis: no redis-server found and cannot install one (need root + apt-get)." >&2
    echo "  Install it yourself: sudo apt-get install -y redis-server" >&2
    echo "  The multi-instance tests will fail until it is there." >&2
fi
