#!/usr/bin/env bash
# CI for the example app: installs the locked packages, checks that the
# generated operation types match schema.graphqls, type-checks, builds, then
# runs the browser test (browser-test.mjs) against usersgraph over a Cognigy
# fake, all on free loopback ports. Usage, from anywhere:
#   bash examples/users-app/check.sh
# The screenshot goes to $USERS_APP_SCREENSHOT, by default
# examples/users-app/artifacts/users-app.png (not tracked); the script prints
# its path. Every server it started is stopped on exit.
set -euo pipefail

app="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$app/../.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/usersgraph-users-app.XXXXXX")"
pids=()

cleanup() {
  local rc=$? pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -s "$log" ] && { echo "--- $(basename "$log") (last lines)"; tail -n 20 "$log"; }
    done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cd "$app"
echo "== users-app: node $(node --version), npm $(npm --version)"
npm ci --no-audit --no-fund

echo "== users-app: operation types in sync with schema.graphqls (graphql-codegen --check)"
npx graphql-codegen --check

echo "== users-app: tsc"
npx tsc --noEmit

echo "== users-app: build"
npx vite build --logLevel warn

echo "== users-app: servers"
(cd "$repo" && go build -o "$work/usersgraph" ./cmd/usersgraph && go build -o "$work/fakecognigy" ./examples/users-app/fakecognigy)

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# wait_for DESCRIPTION PID COMMAND...: polls COMMAND until it succeeds, for at
# most 30 s, and fails at once if PID exits.
wait_for() {
  local what=$1 pid=$2 deadline=$((SECONDS + 30))
  shift 2
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { echo "$what exited"; return 1; }
    [ "$SECONDS" -lt "$deadline" ] || { echo "$what: not ready within 30 s"; return 1; }
    sleep 0.1
  done
}
answers() {
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1"
}

api_key=demo-key
# The demo mode's Cognigy fake, on a port of its own choosing; its first line
# of output is its URL.
"$work/fakecognigy" -api-key "$api_key" >"$work/fakecognigy.out" 2>"$work/fakecognigy.log" &
pids+=($!)
wait_for "fakecognigy" "${pids[-1]}" grep -q '^http' "$work/fakecognigy.out"
rest_url="$(head -n 1 "$work/fakecognigy.out")"

graphql_port="$(free_port)"
env -u REDIS_URL COGNIGY_API_URL="$rest_url" COGNIGY_API_KEY="$api_key" \
  LISTEN_ADDR="127.0.0.1:$graphql_port" LOG_FORMAT=json LOG_LEVEL=warn \
  "$work/usersgraph" >"$work/usersgraph.log" 2>&1 &
pids+=($!)
wait_for "usersgraph" "${pids[-1]}" answers "http://127.0.0.1:$graphql_port/healthz"

app_port="$(free_port)"
USERSGRAPH_URL="http://127.0.0.1:$graphql_port" \
  npx vite preview --host 127.0.0.1 --port "$app_port" --strictPort >"$work/preview.log" 2>&1 &
pids+=($!)
wait_for "vite preview" "${pids[-1]}" answers "http://127.0.0.1:$app_port/"
echo "REST $rest_url, GraphQL http://127.0.0.1:$graphql_port/graphql, app http://127.0.0.1:$app_port/"

echo "== users-app: browser test (Chromium)"
APP_URL="http://127.0.0.1:$app_port/" REST_URL="$rest_url" API_KEY="$api_key" \
  SCREENSHOT="${USERS_APP_SCREENSHOT:-$app/artifacts/users-app.png}" \
  node browser-test.mjs
