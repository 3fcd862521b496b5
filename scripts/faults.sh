#!/usr/bin/env bash
# Fault scenarios for CI: while LoadTester --faults runs public and private traffic against two
# rabbitChat nodes, break something, and require that no `sent` message is lost.
#
#   scripts/faults.sh                  the CI scenarios: broker-restart, close-connections,
#                                      kill-node, cluster (in that order)
#   scripts/faults.sh NAME...          only these scenarios
#   scripts/faults.sh soak [SECONDS]   the soak: one node, steady traffic for SECONDS (default
#                                      180); RSS and open file descriptors sampled every 10 s,
#                                      fds must come back to their level before the run
#
# Scenarios (each a fresh pair of nodes, a fresh run tag, its own report):
#   broker-restart     rabbitmqctl stop_app, a few seconds, start_app
#   close-connections  rabbitmqctl close_connection for every connection of the servers
#   kill-node          SIGKILL node 1, start it again on the same port
#   cluster            three clustered RabbitMQ nodes (scripts/rabbitmq-cluster.sh), the servers
#                      on different broker nodes with --replicated-queues and a URL list; stop
#                      the broker node that node 1 is connected to
#
# Each scenario checks: LoadTester --faults exits 0 (every `sent` message reached every
# recipient, duplicates dropped by msgId; every private message got `delivered`; every client
# rejoined by itself and sees every client online at the end); for the broker faults, /healthz
# of a node went 503 and back to 200 (sampled every 0.2 s) and clients got `unavailable`.
#
# The scenarios use their own RabbitMQ on 127.0.0.1:$FAULTS_AMQP_PORT (default 5692, started and
# stopped with scripts/rabbitmq.sh), never the shared one on 5672, because they restart it.
# Everything started is stopped by PID at the end. Output (reports, server logs, health
# samples) goes to test-output/faults/. Exit status: 0 when every scenario passed.
#
# Knobs: FAULTS_CONFIG (debug|release, default debug), FAULTS_CLIENTS (default 40),
# FAULTS_DURATION (seconds of sending, default 30), FAULTS_PORTS (two HTTP ports, default
# "19301 19302"), FAULTS_BIN (a folder with prebuilt rabbitChat and LoadTester: no build).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="/opt/swift/usr/bin:$PATH"
OUT="$ROOT/test-output/faults"
CONFIG="${FAULTS_CONFIG:-debug}"
CLIENTS="${FAULTS_CLIENTS:-40}"
DURATION="${FAULTS_DURATION:-30}"
read -r -a HTTP_PORTS <<< "${FAULTS_PORTS:-19301 19302}"
AMQP_PORT="${FAULTS_AMQP_PORT:-5692}"
AMQP_URL="amqp://guest:guest@127.0.0.1:$AMQP_PORT/"
SECRET="$OUT/secret"

NODE_PIDS=("" "")
WATCH_PIDS=()
OTHER_PIDS=()
STARTED_RABBITMQ=0
STARTED_CLUSTER=0
RESULTS=()

log() { echo "faults: $*" >&2; }

# MARK: processes

# start_node N ARGS...: starts rabbitChat node N (0 or 1) on its fixed port and waits until it
# listens (healthz answers anything; 200 once connected to the broker).
start_node() {
    local n=$1; shift
    local port=${HTTP_PORTS[$n]}
    "$BIN/rabbitChat" --port "$port" --node-id "faults-$n" --secret-file "$SECRET" --log-level warning "$@" \
        >>"$SCENARIO_OUT/node$n.log" 2>&1 &
    NODE_PIDS[$n]=$!
    local i
    for i in $(seq 1 600); do
        if ! kill -0 "${NODE_PIDS[$n]}" 2>/dev/null; then
            log "rabbitChat node $n exited while starting:"; tail -5 "$SCENARIO_OUT/node$n.log" | sed 's/^/  /' >&2
            return 1
        fi
        [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$port/healthz")" = 200 ] && return 0
        sleep 0.1
    done
    log "rabbitChat node $n did not become healthy within 60 s (see $SCENARIO_OUT/node$n.log)."
    return 1
}

stop_pid() { # stop_pid PID: SIGTERM, SIGKILL after 15 s, reaped
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

stop_nodes() {
    local n
    for n in 0 1; do stop_pid "${NODE_PIDS[$n]}"; NODE_PIDS[$n]=""; done
}

stop_watchers() {
    local pid
    for pid in "${WATCH_PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    WATCH_PIDS=()
}

cleanup() {
    local pid
    stop_watchers
    for pid in "${OTHER_PIDS[@]}"; do stop_pid "$pid"; done
    stop_nodes
    if [ "$STARTED_CLUSTER" = 1 ]; then "$ROOT/scripts/rabbitmq-cluster.sh" stop >/dev/null 2>&1 || true; fi
    if [ "$STARTED_RABBITMQ" = 1 ]; then RABBITMQ_PORT=$AMQP_PORT "$ROOT/scripts/rabbitmq.sh" stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# watch_health N FILE: samples node N's /healthz every 0.2 s ("seconds code"; 000 = no answer).
watch_health() {
    local port=${HTTP_PORTS[$1]} file=$2
    (
        while :; do
            echo "$(date +%s.%N | cut -c1-14) $(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$port/healthz")"
            sleep 0.2
        done
    ) >"$file" 2>/dev/null &
    WATCH_PIDS+=($!)
}

# health_summary FILE: "503 seen N times, last CODE"
health_summary() {
    local file=$1
    echo "$(grep -c ' 503$' "$file") samples 503, $(grep -c ' 000$' "$file") no answer, last $(tail -1 "$file" | cut -d' ' -f2)"
}

health_went_503_and_back() {
    local file=$1
    grep -q ' 503$' "$file" && [ "$(tail -1 "$file" | cut -d' ' -f2)" = 200 ]
}

rabbitmqctl_own() { RABBITMQ_PORT=$AMQP_PORT "$ROOT/scripts/rabbitmq.sh" ctl "$@"; }

ensure_rabbitmq() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$AMQP_PORT") 2>/dev/null; then
        log "RabbitMQ already answers on 127.0.0.1:$AMQP_PORT; using it."
        return 0
    fi
    # A fresh node: no queues left from earlier runs to recover on every restart.
    rm -rf "/tmp/rabbitchat-rabbitmq-$AMQP_PORT/mnesia"
    RABBITMQ_PORT=$AMQP_PORT "$ROOT/scripts/rabbitmq.sh" start >&2 || return 1
    STARTED_RABBITMQ=1
}

# MARK: one scenario

# run_load NAME URLS...: starts LoadTester --faults in the background (LOAD_PID), waits until all
# clients joined.
run_load() {
    local name=$1; shift
    local args=(--clients "$CLIENTS" --rooms 2 --rate 1 --private-rate 0.5 --duration "${LOAD_DURATION:-$DURATION}" --drain 60
        --transports websocket=2,xhr-streaming=1,xhr-polling=1 --progress 5 --faults --presence-timeout 40
        --report "$SCENARIO_OUT/report.json")
    local url
    for url in "$@"; do args+=(--url "$url"); done
    "$BIN/LoadTester" "${args[@]}" >"$SCENARIO_OUT/loadtester.log" 2>&1 &
    LOAD_PID=$!
    OTHER_PIDS+=("$LOAD_PID")
    local i
    for i in $(seq 1 600); do
        grep -qE "^all [0-9]+ clients joined" "$SCENARIO_OUT/loadtester.log" && return 0
        kill -0 "$LOAD_PID" 2>/dev/null || break
        sleep 0.1
    done
    log "LoadTester did not get its clients joined:"; tail -5 "$SCENARIO_OUT/loadtester.log" | sed 's/^/  /' >&2
    return 1
}

# finish_load: waits for LoadTester; its status in LOAD_RC.
finish_load() {
    wait "$LOAD_PID"
    LOAD_RC=$?
    local kept=()
    local pid
    for pid in "${OTHER_PIDS[@]}"; do [ "$pid" != "$LOAD_PID" ] && kept+=("$pid"); done
    OTHER_PIDS=("${kept[@]}")
}

# report_figures: one line of figures from the JSON report.
report_figures() {
    python3 - "$SCENARIO_OUT/report.json" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"no report ({e})"); sys.exit(0)
f = r.get("faults") or {}
print(f"sent {r['sent']}, confirmed {r['confirmed']}, never confirmed {r.get('unconfirmed', 0)}; "
      f"deliveries {r['deliveries']} of {r['expectedDeliveries']}; receipts {r['receipts']} of {r['privateConfirmed']}; "
      f"unavailable {f.get('unavailable', 0)} (+{f.get('unavailableWithoutId', 0)} acks), rate-limited {f.get('rateLimited', 0)}, resent {f.get('resent', 0)}, disconnects {f.get('disconnects', 0)}, "
      f"rejoins {f.get('reconnects', 0)}, duplicates dropped {f.get('duplicatesDropped', 0)}, reordered {f.get('reordered', 0)}, "
      f"recovered from history {f.get('recoveredFromHistory', 0)}; violations {sum(r['violationCounts'].values())}")
EOF
}

unavailable_count() {
    python3 -c 'import json,sys; print((json.load(open(sys.argv[1])).get("faults") or {}).get("unavailable", 0))' "$SCENARIO_OUT/report.json" 2>/dev/null || echo 0
}

# scenario NAME: runs one scenario; appends "NAME PASS|FAIL figures" to RESULTS.
scenario() {
    local name=$1
    SCENARIO_OUT="$OUT/$name"
    rm -rf "$SCENARIO_OUT"; mkdir -p "$SCENARIO_OUT"
    log "== $name"
    local started=$SECONDS ok=1 notes=()
    if "scenario_$name"; then :; else ok=0; fi
    stop_watchers
    stop_nodes
    local figures
    figures=$(report_figures)
    [ -n "${SCENARIO_NOTES:-}" ] && notes+=("$SCENARIO_NOTES")
    local verdict=PASS
    [ "$ok" = 1 ] || verdict=FAIL
    RESULTS+=("$name: $verdict in $((SECONDS - started)) s. $figures. ${notes[*]}")
    log "$name: $verdict ($figures) ${notes[*]}"
    if [ "$verdict" = FAIL ]; then
        grep -E "^verdict|^  - " "$SCENARIO_OUT/loadtester.log" | head -12 | sed 's/^/  /' >&2
    fi
    SCENARIO_NOTES=""
    [ "$ok" = 1 ]
}

# Two nodes on the scenario's RabbitMQ, health watched, load running. Sets URLS.
two_nodes_and_load() {
    local broker=$1 extra=("${@:2}")
    ensure_rabbitmq || { SCENARIO_NOTES="RabbitMQ could not be started."; return 1; }
    start_node 0 --broker "$broker" "${extra[@]}" && start_node 1 --broker "$broker" "${extra[@]}" || return 1
    watch_health 0 "$SCENARIO_OUT/health0.txt"
    watch_health 1 "$SCENARIO_OUT/health1.txt"
    run_load "$SCENARIO_NAME" "http://127.0.0.1:${HTTP_PORTS[0]}/chat" "http://127.0.0.1:${HTTP_PORTS[1]}/chat"
}

check_load_and_health() { # check_load_and_health REQUIRE_503(0|1) REQUIRE_UNAVAILABLE(0|1)
    local ok=1
    finish_load
    wait_healthy
    [ "$LOAD_RC" = 0 ] || { ok=0; SCENARIO_NOTES+=" LoadTester exited $LOAD_RC."; }
    sleep 1
    local n
    for n in 0 1; do
        SCENARIO_NOTES+=" healthz node $n: $(health_summary "$SCENARIO_OUT/health$n.txt")."
    done
    if [ "$1" = 1 ]; then
        health_went_503_and_back "$SCENARIO_OUT/health0.txt" && health_went_503_and_back "$SCENARIO_OUT/health1.txt" \
            || { ok=0; SCENARIO_NOTES+=" /healthz did not go 503 and back to 200 on both nodes."; }
    fi
    if [ "$2" = 1 ] && [ "$(unavailable_count)" = 0 ]; then
        ok=0; SCENARIO_NOTES+=" No client got unavailable while the broker was away."
    fi
    [ "$ok" = 1 ]
}

# wait_healthy: up to 60 s for both nodes' /healthz to answer 200 again.
wait_healthy() {
    local i n ok
    for i in $(seq 1 300); do
        ok=1
        for n in 0 1; do
            [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:${HTTP_PORTS[$n]}/healthz")" = 200 ] || ok=0
        done
        [ "$ok" = 1 ] && return 0
        sleep 0.2
    done
    return 1
}

scenario_broker-restart() {
    SCENARIO_NAME=broker-restart
    LOAD_DURATION=$((DURATION + 15)) two_nodes_and_load "$AMQP_URL" || return 1
    sleep 2
    local t0=$SECONDS
    rabbitmqctl_own stop_app >/dev/null 2>&1 || log "rabbitmqctl stop_app failed"
    local stopped=$((SECONDS - t0))
    sleep 4
    rabbitmqctl_own start_app >/dev/null 2>&1 || log "rabbitmqctl start_app failed"
    log "broker stopped $stopped s and started again $((SECONDS - t0)) s after the fault began (rabbitmqctl is slow on a loaded machine)"
    SCENARIO_NOTES+=" stop_app done after ${stopped} s, start_app done after $((SECONDS - t0)) s."
    wait_healthy
    check_load_and_health 1 1
}

scenario_close-connections() {
    SCENARIO_NAME=close-connections
    two_nodes_and_load "$AMQP_URL" || return 1
    sleep 5
    local pids pid count=0
    pids=$(rabbitmqctl_own list_connections pid --no-table-headers --silent 2>/dev/null)
    for pid in $pids; do
        rabbitmqctl_own close_connection "$pid" "faults.sh: closing the server's connection" >/dev/null 2>&1 && count=$((count + 1))
    done
    log "closed $count broker connections 5 s into the run"
    SCENARIO_NOTES+=" closed $count broker connections."
    [ "$count" -ge 2 ] || { SCENARIO_NOTES+=" Expected at least 2 connections to close."; finish_load; return 1; }
    check_load_and_health 0 0
}

scenario_kill-node() {
    SCENARIO_NAME=kill-node
    two_nodes_and_load "$AMQP_URL" || return 1
    sleep 5
    log "SIGKILL node 0 (pid ${NODE_PIDS[0]})"
    SCENARIO_NOTES+=" node 0 killed 5 s into the run, started again 3 s later."
    kill -KILL "${NODE_PIDS[0]}"
    wait "${NODE_PIDS[0]}" 2>/dev/null
    NODE_PIDS[0]=""
    sleep 3
    log "starting node 0 again"
    start_node 0 --broker "$AMQP_URL" || { finish_load; return 1; }
    local ok=0
    check_load_and_health 0 0 && ok=1
    grep -q ' 000$' "$SCENARIO_OUT/health0.txt" || { ok=0; SCENARIO_NOTES+=" node 0 never stopped answering?"; }
    [ "$ok" = 1 ]
}

scenario_cluster() {
    SCENARIO_NAME=cluster
    "$ROOT/scripts/rabbitmq-cluster.sh" start >&2 || { SCENARIO_NOTES="The RabbitMQ cluster could not be started."; return 1; }
    STARTED_CLUSTER=1
    local u1=amqp://guest:guest@127.0.0.1:5701/ u2=amqp://guest:guest@127.0.0.1:5702/ u3=amqp://guest:guest@127.0.0.1:5703/
    start_node 0 --broker "$u1,$u2,$u3" --replicated-queues && start_node 1 --broker "$u2,$u3,$u1" --replicated-queues || return 1
    watch_health 0 "$SCENARIO_OUT/health0.txt"
    watch_health 1 "$SCENARIO_OUT/health1.txt"
    run_load cluster "http://127.0.0.1:${HTTP_PORTS[0]}/chat" "http://127.0.0.1:${HTTP_PORTS[1]}/chat" || return 1
    sleep 5
    log "killing broker node 1 (port 5701), the one server node 0 is connected to"
    "$ROOT/scripts/rabbitmq-cluster.sh" kill-node 1 >&2
    SCENARIO_NOTES+=" broker node 1 killed 5 s into $DURATION s of sending."
    local ok=1
    check_load_and_health 0 0 || ok=0
    grep -q ' 503$' "$SCENARIO_OUT/health0.txt" || { ok=0; SCENARIO_NOTES+=" node 0 never reported the lost broker on /healthz."; }
    local quorum
    quorum=$("$ROOT/scripts/rabbitmq-cluster.sh" ctl 2 list_queues name type --no-table-headers --silent 2>/dev/null | grep -c "quorum")
    SCENARIO_NOTES+=" $quorum quorum user queues on the cluster."
    [ "${quorum:-0}" -ge "$CLIENTS" ] || { ok=0; SCENARIO_NOTES+=" Expected one quorum queue per client."; }
    [ "$ok" = 1 ]
}

# MARK: soak

soak() {
    local seconds=${1:-180}
    SCENARIO_OUT="$OUT/soak"
    rm -rf "$SCENARIO_OUT"; mkdir -p "$SCENARIO_OUT"
    log "== soak: one node (in-process broker), $CLIENTS clients for $seconds s"
    start_node 0 || return 1
    local pid=${NODE_PIDS[0]}
    sample() { echo "$(( $(date +%s) )) $(awk '/VmRSS/ {print $2}' "/proc/$pid/status") $(ls "/proc/$pid/fd" | wc -l)"; }
    local before
    before=$(sample)
    echo "$before" > "$SCENARIO_OUT/samples.txt"
    ( while :; do sleep 10; sample; done ) >>"$SCENARIO_OUT/samples.txt" 2>/dev/null &
    WATCH_PIDS+=($!)
    "$BIN/LoadTester" --url "http://127.0.0.1:${HTTP_PORTS[0]}/chat" --clients "$CLIENTS" --rooms 2 --rate 2 --private-rate 1 \
        --duration "$seconds" --drain 30 --transports websocket=2,xhr-streaming=1,xhr-polling=1 --progress 30 \
        --report "$SCENARIO_OUT/report.json" >"$SCENARIO_OUT/loadtester.log" 2>&1
    local rc=$?
    sleep 12 # sessions closed by clients and the SockJS disconnect delay (5 s) past
    local after
    after=$(sample)
    stop_watchers
    echo "$after" >> "$SCENARIO_OUT/samples.txt"
    local rss0 fd0 rss1 fd1 first
    read -r _ rss0 fd0 <<< "$before"
    read -r _ rss1 fd1 <<< "$after"
    # RSS once traffic has settled (the first sample after warm-up) against the last one under load.
    first=$(sed -n 3p "$SCENARIO_OUT/samples.txt" | cut -d' ' -f2)
    local last_loaded
    last_loaded=$(tail -2 "$SCENARIO_OUT/samples.txt" | head -1 | cut -d' ' -f2)
    local line="soak $seconds s: LoadTester exit $rc; RSS $((rss0 / 1024)) MiB idle before, $((first / 1024)) MiB after 20 s of load, $((last_loaded / 1024)) MiB at the end of the load, $((rss1 / 1024)) MiB idle after; fds $fd0 before, $fd1 after."
    log "$line"
    grep -E "^messages|^deliveries|^latency|^verdict" "$SCENARIO_OUT/loadtester.log" | sed 's/^/  /' >&2
    stop_nodes
    RESULTS+=("$line")
    [ "$rc" = 0 ] && [ "$fd1" -le $((fd0 + 4)) ]
}

# MARK: main

build() {
    if [ -n "${FAULTS_BIN:-}" ]; then
        BIN=$FAULTS_BIN
        [ -x "$BIN/rabbitChat" ] && [ -x "$BIN/LoadTester" ] || { log "FAULTS_BIN=$BIN holds no rabbitChat and LoadTester."; return 1; }
        return 0
    fi
    (cd "$ROOT" && swift build -c "$CONFIG" --product rabbitChat >&2 && swift build -c "$CONFIG" --product LoadTester >&2) || {
        log "building rabbitChat and LoadTester ($CONFIG) failed (see above)."
        return 1
    }
    BIN="$(cd "$ROOT" && swift build -c "$CONFIG" --show-bin-path)"
}

main() {
    mkdir -p "$OUT"
    local port
    for port in "${HTTP_PORTS[@]}"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            log "port $port is in use; set FAULTS_PORTS to two free ports."
            return 2
        fi
    done
    build || return 1
    local failed=0 t0=$SECONDS
    if [ "${1:-}" = soak ]; then
        soak "${2:-180}" || failed=1
    else
        local names=("$@")
        [ ${#names[@]} -gt 0 ] || names=(broker-restart close-connections kill-node cluster)
        local name
        for name in "${names[@]}"; do
            if ! declare -F "scenario_$name" >/dev/null; then
                log "unknown scenario '$name'; the scenarios are broker-restart, close-connections, kill-node, cluster (or soak)."
                return 2
            fi
            scenario "$name" || failed=1
        done
    fi
    echo
    echo "== faults.sh results ($((SECONDS - t0)) s)"
    local line
    for line in "${RESULTS[@]}"; do echo "  $line"; done
    return "$failed"
}

main "$@"
exit $?
