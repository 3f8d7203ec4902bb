#!/usr/bin/env bash
# Make a Chromium available for the Playwright e2e tests. Playwright's own browser download does not
# work on our machines, so fall back to Debian's chromium package (tests/e2e/conftest.py finds either).
set -euo pipefail
cd "$(dirname "$0")/../.."

own=$(uv run --quiet python -c 'from playwright.sync_api import sync_playwright
with sync_playwright() as p: print(p.chromium.executable_path)' 2>/dev/null || true)
if [ -n "$own" ] && [ -x "$own" ]; then
    echo "setup chromium: using Playwright's Chromium at $own"
elif [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then
    echo "setup chromium: using system Chromium at $(command -v chromium || echo /usr/bin/chromium)"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup chromium: installing Debian's chromium with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    echo "setup chromium: installed $(command -v chromium)"
else
    echo "setup chromium: no Chromium found and cannot install one (need root + apt-get)." >&2
    echo "  Install it yourself: sudo apt-get install -y chromium  (or: uv run playwright install chromium)" >&2
    echo "  The e2e tests will fail until a Chromium is available." >&2
fi
