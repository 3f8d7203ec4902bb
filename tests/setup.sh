#!/usr/bin/env bash
# Everything the test suite needs that `uv sync` cannot install: one script per outside part
# (a Chromium, database servers, npm packages) in tests/setup.d, each a no-op when it is present.
set -euo pipefail
cd "$(dirname "$0")/.."
for part in tests/setup.d/*.sh; do
    bash "$part"
done
