#!/usr/bin/env bash
# Short LoadTester runs for CI: every transport, the in-process broker on one node, and two
# nodes on RabbitMQ. Each run must verify clean (no loss, duplicate, misorder or leak);
# performance is reported, not asserted. After each, a short resume run on the same server(s)
# (`--resume-drops`): half the clients drop for 1-5 s while sending and rejoin (on the other
# node with two) naming their room's last seq; every public message must still arrive exactly
# once, in order, with no gap (Specs/chat-protocol.md, "Resume without gaps").
#
#   scripts/loadtest-ci.sh                 build (debug), run both backends
#   LOADTEST_CONFIG=release scripts/loadtest-ci.sh    with release builds
#
# RabbitMQ: RABBITCHAT_TEST_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/). When nothing
# answers there, scripts/rabbitmq.sh starts a node (and stops it at the end); when that fails
# the RabbitMQ run is skipped with a message, or fails with RABBITCHAT_REQUIRE_RABBITMQ=1.
# Every process this script starts is stopped by its PID. Reports and server logs go to
# test-output/loadtest/. Exit status: 0 when every run passed, 1 otherwise.
#
# Other scripts (scripts/bench) source this file for its functions.
set -uo pipefail

LT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="/opt/swift/usr/bin:$PATH"
LT_STARTED_PIDS=()
LT_STARTED_RABBITMQ=0

lt_log() { echo "loadtest: $*" >&2; }

# lt_build CONFIG: builds rabbitChat and LoadTester; sets LT_BIN to their folder.
lt_build() {
    local config=$1
    # LT_BIN_DIR: a folder with prebuilt rabbitChat and LoadTester (e.g. an older server beside
    # today's LoadTester, for a before/after comparison); nothing is built.
    if [ -n "${LT_BIN_DIR:-}" ]; then
        LT_BIN=$LT_BIN_DIR
        [ -x "$LT_BIN/rabbitChat" ] && [ -x "$LT_BIN/LoadTester" ] && return 0
        lt_log "LT_BIN_DIR=$LT_BIN holds no rabbitChat and LoadTester."
        return 1
    fi
    # LT_NO_BUILD=1: use the binaries already built (e.g. to measure while another build of the
    # same checkout is running); say which commit they were built from in the figures.
    if [ "${LT_NO_BUILD:-0}" = 1 ]; then
        LT_BIN="$(cd "$LT_ROOT" && swift build -c "$config" --show-bin-path)"
        [ -x "$LT_BIN/rabbitChat" ] && [ -x "$LT_BIN/LoadTester" ] && return 0
        lt_log "LT_NO_BUILD=1 but $LT_BIN holds no rabbitChat and LoadTester: build them first."
        return 1
    fi
    (cd "$LT_ROOT" && swift build -c "$config" --product rabbitChat >&2 && swift build -c "$config" --product LoadTester >&2) || {
        lt_log "building rabbitChat and LoadTester ($config) failed (see above)."
        return 1
    }
    LT_BIN="$(cd "$LT_ROOT" && swift build -c "$config" --show-bin-path)"
}

# lt_start_server NAME ARGS...: starts rabbitChat on a free port (--port 0), waits until it
# listens, sets LT_PORT and LT_PID. Its log goes to $LT_OUT/NAME.log.
lt_start_server() {
    local name=$1; shift
    local log="$LT_OUT/$name.log"
    # The built-in broker's default data directory goes under the output folder (hermetic).
    rm -rf "$LT_OUT/$name.data"
    XDG_DATA_HOME="$LT_OUT/$name.data" "$LT_BIN/rabbitChat" --port 0 --log-level warning "$@" >"$log" 2>&1 &
    LT_PID=$!
    LT_STARTED_PIDS+=("$LT_PID")
    LT_PORT=""
    local i
    for i in $(seq 1 300); do
        if ! kill -0 "$LT_PID" 2>/dev/null; then
            lt_log "rabbitChat ($name) exited while starting:"; sed 's/^/  /' "$log" >&2
            return 1
        fi
        LT_PORT=$(sed -n 's|.*Open http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$log" | head -1)
        if [ -n "$LT_PORT" ] && curl -fsS -o /dev/null "http://127.0.0.1:$LT_PORT/healthz" 2>/dev/null; then
            lt_log "rabbitChat ($name) pid $LT_PID listens on port $LT_PORT"
            return 0
        fi
        sleep 0.1
    done
    lt_log "rabbitChat ($name) did not become healthy within 30 s:"; sed 's/^/  /' "$log" >&2
    return 1
}

# lt_stop_servers: stops every rabbitChat this script started, by PID (SIGTERM, then SIGKILL
# after 15 s).
lt_stop_servers() {
    local pid i
    for pid in "${LT_STARTED_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || continue
    done
    for pid in "${LT_STARTED_PIDS[@]}"; do
        for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            lt_log "rabbitChat pid $pid did not stop within 15 s of SIGTERM; killing it."
            kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
    done
    LT_STARTED_PIDS=()
}

# lt_ensure_rabbitmq: true when RabbitMQ answers at $LT_AMQP_URL (starting one on 127.0.0.1
# with scripts/rabbitmq.sh when nothing answers there).
lt_ensure_rabbitmq() {
    local hostport host port
    hostport=$(echo "$LT_AMQP_URL" | sed -E 's|^amqp://([^@/]*@)?([^/]*).*|\2|')
    host=${hostport%:*}; port=${hostport##*:}
    [ "$host" = "$hostport" ] && port=5672
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    if [ "$host" = 127.0.0.1 ] || [ "$host" = localhost ]; then
        if RABBITMQ_PORT=$port "$LT_ROOT/scripts/rabbitmq.sh" start >&2; then
            LT_STARTED_RABBITMQ=$port
            return 0
        fi
    fi
    return 1
}

lt_stop_rabbitmq() {
    if [ "$LT_STARTED_RABBITMQ" != 0 ]; then
        RABBITMQ_PORT=$LT_STARTED_RABBITMQ "$LT_ROOT/scripts/rabbitmq.sh" stop >&2 || true
        LT_STARTED_RABBITMQ=0
    fi
}

# lt_loadtest REPORT ARGS...: runs LoadTester with ARGS, writing the JSON report to REPORT.
lt_loadtest() {
    local report=$1; shift
    "$LT_BIN/LoadTester" --report "$report" "$@"
}

lt_main() {
    local config=${LOADTEST_CONFIG:-debug}
    LT_OUT="$LT_ROOT/test-output/loadtest"
    LT_AMQP_URL=${RABBITCHAT_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}
    mkdir -p "$LT_OUT"
    trap 'lt_stop_servers; lt_stop_rabbitmq' EXIT
    trap 'exit 130' INT TERM
    lt_build "$config" || return 1

    local common=(--clients "${LOADTEST_CLIENTS:-100}" --duration "${LOADTEST_DURATION:-15}" --rooms 4
        --rate 1 --private-rate 0.5 --transports websocket=2,xhr-streaming=1,xhr-polling=1 --drain 20 --progress 5)
    # The resume runs: rooms of 20, so a drop of a few seconds misses more than one resume
    # frame holds and the client pages on with `history after`.
    local resume=(--clients "${LOADTEST_RESUME_CLIENTS:-40}" --duration "${LOADTEST_RESUME_DURATION:-6}" --rooms 2
        --rate 2 --private-rate 0.5 --transports websocket=2,xhr-streaming=1,xhr-polling=1 --drain 20 --progress 5
        --resume-drops 0.5)
    local failed=0

    lt_log "== in-process broker, one node"
    if lt_start_server inmem --secret-file "$LT_OUT/secret"; then
        lt_loadtest "$LT_OUT/inmem.json" --url "http://127.0.0.1:$LT_PORT/chat" "${common[@]}" || failed=1
        lt_log "== in-process broker, one node: clients drop and resume"
        lt_loadtest "$LT_OUT/inmem-resume.json" --url "http://127.0.0.1:$LT_PORT/chat" "${resume[@]}" || failed=1
    else
        failed=1
    fi
    lt_stop_servers

    lt_log "== RabbitMQ ($LT_AMQP_URL), two nodes"
    if lt_ensure_rabbitmq; then
        local ports=()
        if lt_start_server rabbitmq-node1 --broker "$LT_AMQP_URL" --node-id loadtest-1 --secret-file "$LT_OUT/secret" \
            && ports+=("$LT_PORT") \
            && lt_start_server rabbitmq-node2 --broker "$LT_AMQP_URL" --node-id loadtest-2 --secret-file "$LT_OUT/secret" \
            && ports+=("$LT_PORT"); then
            lt_loadtest "$LT_OUT/rabbitmq-2nodes.json" --url "http://127.0.0.1:${ports[0]}/chat" \
                --url "http://127.0.0.1:${ports[1]}/chat" "${common[@]}" || failed=1
            lt_log "== RabbitMQ, two nodes: clients drop and resume on the other node"
            lt_loadtest "$LT_OUT/rabbitmq-2nodes-resume.json" --url "http://127.0.0.1:${ports[0]}/chat" \
                --url "http://127.0.0.1:${ports[1]}/chat" "${resume[@]}" || failed=1
        else
            failed=1
        fi
        lt_stop_servers
    elif [ "${RABBITCHAT_REQUIRE_RABBITMQ:-0}" = 1 ]; then
        lt_log "RabbitMQ is not reachable at $LT_AMQP_URL and could not be started: failing (RABBITCHAT_REQUIRE_RABBITMQ=1)."
        failed=1
    else
        lt_log "RabbitMQ is not reachable at $LT_AMQP_URL and could not be started: the RabbitMQ run is skipped."
    fi

    if [ "$failed" = 0 ]; then lt_log "all runs passed"; else lt_log "a run FAILED (see above)"; fi
    return "$failed"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    lt_main "$@"
    exit $?
fi
