#!/usr/bin/env bash
# CI: the assets embedded in the server (playground/dist/, committed) must be
# exactly what build.sh makes from the committed sources and lock file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

echo "== playground: node $(node --version), npm $(npm --version)"
bash build.sh

status=0
if ! git diff --exit-code --stat -- dist; then
  status=1
fi
untracked=$(git ls-files --others --exclude-standard -- dist)
if [ -n "$untracked" ]; then
  echo "files in playground/dist that are not committed:"
  echo "$untracked"
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "the embedded assets must match what the script builds: run bash playground/build.sh and commit playground/dist"
  exit 1
fi
echo "playground: dist/ matches its sources"
