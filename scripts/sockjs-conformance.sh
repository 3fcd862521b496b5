#!/usr/bin/env bash
# Runs the official SockJS protocol suite (../shared/sockjs-protocol) against this project's
# sockjs-echo-server and fails unless it reports 68 passed, 0 failed, 0 errors.
#
#   scripts/sockjs-conformance.sh            # debug build
#   SOCKJS_BUILD_CONFIG=release scripts/sockjs-conformance.sh
set -euo pipefail
ROOT="$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
SUITE="${SOCKJS_PROTOCOL_RUN:-$ROOT/../shared/sockjs-protocol/run.sh}"
CONFIG="${SOCKJS_BUILD_CONFIG:-debug}"
EXPECTED="68 passed, 0 failed, 0 errors"

if [ ! -x "$SUITE" ]; then
    # A fresh clone without ../shared skips this check; CI (CI=true or
    # RABBITCHAT_REQUIRE_RABBITMQ=1) must run it, so there the missing suite is a failure.
    if [ "${CI:-}" = true ] || [ "${RABBITCHAT_REQUIRE_RABBITMQ:-}" = 1 ]; then
        echo "error: the SockJS protocol suite is not at $SUITE; put the shared/ folder beside the clone or set SOCKJS_PROTOCOL_RUN." >&2
        exit 2
    fi
    echo "skipped: the SockJS protocol suite is not at $SUITE (put the shared/ folder beside the clone or set SOCKJS_PROTOCOL_RUN to run it)."
    exit 0
fi

cd "$ROOT"
swift build -c "$CONFIG" --product sockjs-echo-server >&2
BIN="$(swift build -c "$CONFIG" --show-bin-path)/sockjs-echo-server"

LOG="${TMPDIR:-/tmp}/sockjs-echo-server-$$.log"
"$BIN" --port 0 >"$LOG" 2>&1 &
SERVER_PID=$!
cleanup() {
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

PORT=""
for _ in $(seq 1 100); do
    PORT="$(sed -n 's#^sockjs-echo-server listening on http://[^:]*:\([0-9]*\)$#\1#p' "$LOG")"
    [ -n "$PORT" ] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "error: sockjs-echo-server exited before listening:" >&2
        cat "$LOG" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$PORT" ]; then
    echo "error: sockjs-echo-server did not report its port within 10 s; log: $LOG" >&2
    exit 1
fi

set +e
OUTPUT="$("$SUITE" "http://127.0.0.1:$PORT" 2>&1)"
set -e
echo "$OUTPUT"
LAST="$(printf '%s\n' "$OUTPUT" | tail -n 1)"
if [[ "$LAST" != *"$EXPECTED"* ]]; then
    echo "error: the SockJS protocol suite did not pass completely (wanted '$EXPECTED')." >&2
    exit 1
fi
