#!/usr/bin/env bash
# Rebuilds the playground's assets in playground/dist/ from the locked
# packages: npm ci, then build.mjs. Run it after changing src/, build.mjs or
# the packages, and commit dist/ with the change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
npm ci --no-audit --no-fund
npm run build
