#!/usr/bin/env bash
# Interop checks of usersgraph against third-party GraphQL tooling: the
# GraphQL over HTTP audits, Apollo Federation, the Relay compiler, and a
# supergraph of three subgraphs behind @apollo/gateway and Hive Gateway.
#
# Usage, from the repository root: bash interop/run.sh
#
# Builds the server, starts it in demo mode on a free loopback port, installs
# the pinned Node packages from package-lock.json, runs the four steps in
# order (each runs even when an earlier one failed) and exits non-zero if any
# failed. The server is stopped on every exit.
set -euo pipefail

interop="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$interop/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/usersgraph-interop.XXXXXX")"
server_pid=""

cleanup() {
  local rc=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== interop: node $(node --version), npm $(npm --version), $(go version)"

echo "== build the server and the counting Cognigy fake"
(cd "$repo" && go build -o "$work/usersgraph" ./cmd/usersgraph && go build -o "$work/countingfake" ./interop/countingfake)
# The supergraph step starts its own server over the counting fake.
USERSGRAPH_BIN="$work/usersgraph" COUNTINGFAKE_BIN="$work/countingfake"
export USERSGRAPH_BIN COUNTINGFAKE_BIN

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# Starts the server on a free port; tries again on another port if it exits
# at once (the port was taken between picking and listening).
start_server() {
  local attempt port
  for attempt in 1 2 3; do
    port="$(free_port)"
    # Demo mode: no upstream URL or key from the caller's environment.
    env -u COGNIGY_API_URL -u COGNIGY_API_KEY \
      LISTEN_ADDR="127.0.0.1:$port" LOG_FORMAT=json \
      "$work/usersgraph" >"$work/server.log" 2>&1 &
    server_pid=$!
    local base="http://127.0.0.1:$port"
    local deadline=$((SECONDS + 30))
    while [ "$SECONDS" -lt "$deadline" ]; do
      if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "the server exited at once (attempt $attempt on port $port):"
        tail -n 20 "$work/server.log" || true
        server_pid=""
        continue 2
      fi
      if node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$base/healthz"; then
        USERSGRAPH_URL="$base/graphql"
        export USERSGRAPH_URL
        echo "server up at $base (pid $server_pid, demo mode, JSON logs)"
        return 0
      fi
      sleep 0.2
    done
    echo "the server did not answer $base/healthz within 30 s:"
    tail -n 20 "$work/server.log" || true
    return 1
  done
  echo "the server could not start in 3 attempts"
  return 1
}

echo "== start the server"
start_server

echo "== npm ci"
(cd "$interop" && npm ci --no-audit --no-fund)

passed=0
failed=0
failed_steps=()
step() {
  local name="$1" script="$2" start=$SECONDS
  echo
  echo "== step: $name ($script)"
  if (cd "$interop" && node "$script"); then
    passed=$((passed + 1))
    echo "== step $name: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failed_steps+=("$name")
    echo "== step $name: FAILED ($((SECONDS - start)) s)"
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "the server is gone; its last log lines:"
    tail -n 20 "$work/server.log" || true
    server_pid=""
    exit 1
  fi
}

step audit audit.mjs
step federation federation.mjs
step relay relay.mjs
step supergraph supergraph.mjs

echo
if [ "$failed" -gt 0 ]; then
  echo "failed steps: ${failed_steps[*]}"
fi
echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
