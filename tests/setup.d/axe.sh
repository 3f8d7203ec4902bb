#!/usr/bin/env bash
# axe-core for the accessibility checks in tests/e2e (injected into the page as a script), from npm.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=tests/.npm
if [ -f "$dest/node_modules/axe-core/axe.min.js" ]; then
    echo "setup axe: axe-core $(node -p "require('./$dest/node_modules/axe-core/package.json').version" 2>/dev/null || echo '?') present"
else
    if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup axe: installing Debian's npm with apt-get"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    fi
    npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix "$dest" axe-core@4 >/dev/null
    echo "setup axe: installed axe-core into $dest"
fi
