#!/usr/bin/env bash
# Trusted documents, end to end: manifests written by the real tools, then
# the server started with each and TRUSTED_DOCUMENTS_ONLY=true, its
# operations sent by id, and everything else refused.
#
# Usage, from the repository root: bash interop/trusted/run.sh
#
# Builds the server, installs the pinned Node packages (package-lock.json),
# starts a server without trusted documents (for the schema relay-compiler
# needs, and as the expected answers), writes both manifests
# (manifests.mjs), then, for each, starts a trusted-only server and runs
# check.mjs against it. Exits non-zero if anything failed; every server is
# stopped on every exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/usersgraph-trusted.XXXXXX")"
pids=()

cleanup() {
  local rc=$? pid
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== trusted documents: node $(node --version), npm $(npm --version), $(go version)"

echo "== build the server"
(cd "$repo" && go build -o "$work/usersgraph" ./cmd/usersgraph)

echo "== npm ci"
(cd "$here" && npm ci --no-audit --no-fund)

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# start_server NAME [VAR=value ...] starts the server in demo mode on a free
# port with the given environment, and sets base and server_pid. It tries
# another port if the server exits at once (the port was taken between
# picking and listening).
start_server() {
  local name="$1" attempt port deadline
  shift
  for attempt in 1 2 3; do
    port="$(free_port)"
    # Demo mode: no upstream URL or key from the caller's environment.
    env -u COGNIGY_API_URL -u COGNIGY_API_KEY -u TRUSTED_DOCUMENTS -u TRUSTED_DOCUMENTS_ONLY \
      LISTEN_ADDR="127.0.0.1:$port" LOG_FORMAT=json "$@" \
      "$work/usersgraph" >"$work/$name.log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    base="http://127.0.0.1:$port"
    deadline=$((SECONDS + 30))
    while [ "$SECONDS" -lt "$deadline" ]; do
      if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "the $name server exited at once (attempt $attempt on port $port):"
        tail -n 20 "$work/$name.log" || true
        continue 2
      fi
      if node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$base/healthz"; then
        echo "$name server up at $base (pid $server_pid, demo mode)"
        return 0
      fi
      sleep 0.2
    done
    echo "the $name server did not answer $base/healthz within 30 s:"
    tail -n 20 "$work/$name.log" || true
    return 1
  done
  echo "the $name server could not start in 3 attempts"
  return 1
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}

echo "== start a server without trusted documents"
start_server plain
plain_base="$base"

echo
echo "== manifests"
(cd "$here" && SCHEMA_URL="$plain_base/schema.graphql" node manifests.mjs)

passed=0
failed=0
failed_checks=()
for kind in relay apollo; do
  case "$kind" in
    relay) manifest="$here/generated/relay-persisted.json" ;;
    apollo) manifest="$here/generated/apollo-manifest.json" ;;
  esac
  echo
  echo "== $kind: a server with TRUSTED_DOCUMENTS=${manifest#"$repo"/} TRUSTED_DOCUMENTS_ONLY=true"
  start_server "$kind" TRUSTED_DOCUMENTS="$manifest" TRUSTED_DOCUMENTS_ONLY=true
  # What the server says it loaded.
  grep -h '"trusted documents loaded"' "$work/$kind.log" || true
  if (cd "$here" && USERSGRAPH_URL="$base/graphql" PLAIN_URL="$plain_base/graphql" node check.mjs "$kind" "$manifest"); then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failed_checks+=("$kind")
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "the $kind server is gone; its last log lines:"
    tail -n 20 "$work/$kind.log" || true
    exit 1
  fi
  stop_server
done

echo
if [ "$failed" -gt 0 ]; then
  echo "failed: ${failed_checks[*]}"
fi
echo "trusted documents: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
