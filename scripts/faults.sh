#!/usr/bin/env bash
# Fault scenarios: while LoadTester --faults runs public and private traffic against two
# rabbitChat nodes, break something, and require that no `sent` message is lost. CI runs the
# scenarios as Swift tests (Tests/FaultTests/FaultScenarioTests.swift, same criteria); this
# script keeps the soak and runs the scenarios by hand.
#
#   scripts/faults.sh                  the CI scenarios: broker-restart, close-connections,
#                                      kill-node, cluster (in that order)
#   scripts/faults.sh NAME...          only these scenarios
#   scripts/faults.sh soak [SECONDS]   the soak: one node, steady traffic for SECONDS (default
#                                      180); RSS and open file descriptors sampled every 10 s,
#                                      fds must come back to their level before the run;
#                                      the in-process broker keeps a --data-dir whose size is
#                                      sampled too (FAULTS_SOAK_HISTORY_MIB: its retention;
#                                      FAULTS_SOAK_BROKER=in-memory: --in-memory instead);
#                                      FAULTS_SOAK_BROKER=rabbitmq runs it on RabbitMQ; the
#                                      summary (RSS at 0/5/10 min, end, the slope over the last
#                                      5 minutes) goes to test-output/faults/soak/summary.txt
#
# Scenarios (each a fresh pair of nodes, a fresh run tag, its own report), each fault 3 s into
# 30 s of sending by 40 clients (public 1/s, private 0.5/s; websocket, xhr-streaming, xhr-polling):
#   broker-restart     rabbitmqctl stop_app, 4 s, start_app
#   close-connections  rabbitmqctl close_connection for every connection of the servers
#   kill-node          SIGKILL server node 0, start it again on the same port 3 s later
#   cluster            three clustered RabbitMQ nodes (scripts/rabbitmq-cluster.sh), the servers
#                      on different broker nodes with --replicated-queues and a URL list; SIGKILL
#                      the broker node that server node 0 is connected to
#
# Pass criteria, all deterministic (no timing is measured against a limit):
#   every scenario     LoadTester --faults exits 0: every `sent` message reached every recipient
#                      (duplicates dropped by msgId), no message was left without `sent` (each
#                      `unavailable` is retried with the same id until `sent`), every private
#                      message got `delivered`, every client rejoined by itself and sees every
#                      client online at the end; both nodes answer /healthz 200 at the end
#   broker-restart     both nodes answered /healthz 503 meanwhile (outage of >= 4 s, sampled every
#                      0.2 s) and counted a broker reconnect (/metrics); clients got `unavailable`
#   close-connections  at least 2 connections closed; both nodes counted a broker reconnect
#   kill-node          node 0 stopped answering; its clients lost their sessions and all rejoined
#   cluster            node 0 counted a broker reconnect; one quorum inbox per client
# One line per scenario says PASS or FAIL, the figures, and any failed criterion.
#
# The scenarios use their own RabbitMQ on 127.0.0.1:$FAULTS_AMQP_PORT (default 5692, started and
# stopped with scripts/rabbitmq.sh), never the shared one on 5672, because they restart it.
# Everything started is stopped by PID at the end. Output (reports, server logs, health
# samples) goes to test-output/faults/. Exit status: 0 when every scenario passed.
#
# Knobs: FAULTS_CONFIG (debug|release, default debug), FAULTS_CLIENTS (default 40),
# FAULTS_DURATION (seconds of sending, default 30), FAULTS_PORTS (two HTTP ports, default
# "19301 19302"), FAULTS_BIN (a folder with prebuilt rabbitChat and LoadTester: no build),
# FAULTS_NODE_ID (node id prefix, default faults), FAULTS_AMQP_URL (e.g. another vhost of the
# same RabbitMQ), FAULTS_SOAK_NAME (the soak's output folder is soak-NAME).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="/opt/swift/usr/bin:$PATH"
OUT="$ROOT/test-output/faults"
CONFIG="${FAULTS_CONFIG:-debug}"
CLIENTS="${FAULTS_CLIENTS:-40}"
DURATION="${FAULTS_DURATION:-30}"
read -r -a HTTP_PORTS <<< "${FAULTS_PORTS:-19301 19302}"
AMQP_PORT="${FAULTS_AMQP_PORT:-5692}"
AMQP_URL="${FAULTS_AMQP_URL:-amqp://guest:guest@127.0.0.1:$AMQP_PORT/}"
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
    # The built-in broker's default data directory stays in the scenario's folder (hermetic).
    XDG_DATA_HOME="$SCENARIO_OUT/data-node$n" \
    "$BIN/rabbitChat" --port "$port" --node-id "${FAULTS_NODE_ID:-faults}-$n" --secret-file "$SECRET" --log-level warning "$@" \
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
    if [ "$STARTED_RABBITMQ" = 1 ]; then
        RABBITMQ_PORT=$AMQP_PORT "$ROOT/scripts/rabbitmq.sh" stop >/dev/null 2>&1 || true
        # Its data and logs too, unless it still runs (then it was not ours to stop).
        (exec 3<>"/dev/tcp/127.0.0.1/$AMQP_PORT") 2>/dev/null || rm -rf "/tmp/rabbitchat-rabbitmq-$AMQP_PORT"
    fi
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

# wait_healthy: up to 60 s for both nodes' /healthz to answer 200.
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

# report_value KEY: a number from the JSON report (KEY like "sent" or "faults.unavailable"); 0 when absent.
report_value() {
    python3 - "$SCENARIO_OUT/report.json" "$1" <<'EOF' 2>/dev/null || echo 0
import json, sys
value = json.load(open(sys.argv[1]))
for key in sys.argv[2].split("."):
    value = value.get(key, 0) if isinstance(value, dict) else 0
print(value or 0)
EOF
}

# report_figures: the scenario's figures from the JSON report, in one line.
report_figures() {
    python3 - "$SCENARIO_OUT/report.json" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"no LoadTester report ({e})"); sys.exit(0)
f = r.get("faults") or {}
unconfirmed = r.get("unconfirmed", 0)
print(f"sent {r['sent']} ({'all confirmed' if not unconfirmed else f'{unconfirmed} never confirmed'}), "
      f"deliveries {r['deliveries']}/{r['expectedDeliveries']}, receipts {r['receipts']}/{r['privateConfirmed']}, "
      f"unavailable {f.get('unavailable', 0)} (+{f.get('unavailableWithoutId', 0)} acks) resent {f.get('resent', 0)}, "
      f"rejoins {f.get('reconnects', 0)}/{f.get('disconnects', 0)} disconnects, duplicates dropped {f.get('duplicatesDropped', 0)}, "
      f"violations {sum(r['violationCounts'].values())}")
EOF
}

# node_reconnects N: rabbitchat_broker_reconnects_total of node N (from /metrics), or "?" when it does not answer.
node_reconnects() {
    curl -s -m 2 "http://127.0.0.1:${HTTP_PORTS[$1]}/metrics" 2>/dev/null \
        | awk '/^rabbitchat_broker_reconnects_total/ { n += $2; found = 1 } END { if (found) print n; else print "?" }'
}

# at_least VALUE MIN: VALUE is a number and at least MIN.
at_least() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ]; }

# require STATUS SENTENCE: a failed criterion (STATUS not 0) fails the scenario and is named.
require() {
    if [ "$1" != 0 ]; then
        SCENARIO_OK=0
        SCENARIO_NOTES+=" FAILED: $2"
    fi
}

# scenario NAME: runs one scenario; appends "NAME: PASS|FAIL in N s. figures. notes" to RESULTS.
scenario() {
    local name=$1
    SCENARIO_OUT="$OUT/$name"
    rm -rf "$SCENARIO_OUT"; mkdir -p "$SCENARIO_OUT"
    log "== $name"
    local started=$SECONDS
    SCENARIO_OK=1
    SCENARIO_NOTES=""
    "scenario_$name" || SCENARIO_OK=0
    stop_watchers
    stop_nodes
    local figures verdict=PASS
    figures=$(report_figures)
    [ "$SCENARIO_OK" = 1 ] || verdict=FAIL
    RESULTS+=("$name: $verdict in $((SECONDS - started)) s. $figures.${SCENARIO_NOTES}")
    log "$name: $verdict in $((SECONDS - started)) s. $figures.${SCENARIO_NOTES}"
    if [ "$verdict" = FAIL ] && [ -f "$SCENARIO_OUT/loadtester.log" ]; then
        grep -E "^verdict|^  - " "$SCENARIO_OUT/loadtester.log" | head -12 | sed 's/^/  /' >&2
    fi
    [ "$SCENARIO_OK" = 1 ]
}

# Two nodes on the scenario's RabbitMQ, health watched, load running.
two_nodes_and_load() {
    local broker=$1 extra=("${@:2}")
    ensure_rabbitmq || { SCENARIO_NOTES=" RabbitMQ could not be started."; return 1; }
    start_node 0 --broker "$broker" "${extra[@]}" && start_node 1 --broker "$broker" "${extra[@]}" || return 1
    watch_health 0 "$SCENARIO_OUT/health0.txt"
    watch_health 1 "$SCENARIO_OUT/health1.txt"
    run_load "$SCENARIO_NAME" "http://127.0.0.1:${HTTP_PORTS[0]}/chat" "http://127.0.0.1:${HTTP_PORTS[1]}/chat"
}

# finish_and_check: waits for LoadTester and checks what every scenario must show: LoadTester
# passed (no `sent` message lost for any recipient, every message finally `sent`, every
# private message `delivered` back, every client rejoined by itself and sees every client
# online) and both nodes answer /healthz 200 again. Reads each node's broker reconnects into
# RECONNECTS_0 and RECONNECTS_1.
finish_and_check() {
    finish_load
    wait_healthy
    require "$LOAD_RC" "LoadTester exited $LOAD_RC (see $SCENARIO_OUT/loadtester.log)."
    local n
    for n in 0 1; do
        [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:${HTTP_PORTS[$n]}/healthz")" = 200 ]
        require $? "node $n did not answer /healthz 200 at the end."
    done
    RECONNECTS_0=$(node_reconnects 0)
    RECONNECTS_1=$(node_reconnects 1)
}

# health_note N: node N's /healthz samples in a few words.
health_note() {
    local file="$SCENARIO_OUT/health$1.txt"
    echo "node $1 /healthz: $(grep -c ' 503$' "$file") x 503, $(grep -c ' 000$' "$file") x no answer, then $(tail -1 "$file" | cut -d' ' -f2)"
}

scenario_broker-restart() {
    SCENARIO_NAME=broker-restart
    two_nodes_and_load "$AMQP_URL" || return 1
    sleep 3
    local t0=$SECONDS
    rabbitmqctl_own stop_app >/dev/null 2>&1 || log "rabbitmqctl stop_app failed"
    local stopped=$((SECONDS - t0))
    sleep 4
    rabbitmqctl_own start_app >/dev/null 2>&1 || log "rabbitmqctl start_app failed"
    SCENARIO_NOTES+=" RabbitMQ stop_app 3 s into sending (took ${stopped} s), start_app done $((SECONDS - t0)) s later."
    finish_and_check
    local n count
    for n in 0 1; do
        grep -q ' 503$' "$SCENARIO_OUT/health$n.txt"
        require $? "node $n never answered /healthz 503 while the broker was down."
        count=RECONNECTS_$n
        at_least "${!count}" 1
        require $? "node $n counted no broker reconnect."
    done
    at_least "$(report_value faults.unavailable)" 1
    require $? "no client got unavailable while the broker was down."
    SCENARIO_NOTES+=" $(health_note 0); $(health_note 1); broker reconnects $RECONNECTS_0 and $RECONNECTS_1."
}

scenario_close-connections() {
    SCENARIO_NAME=close-connections
    two_nodes_and_load "$AMQP_URL" || return 1
    sleep 3
    local pids pid count=0
    pids=$(rabbitmqctl_own list_connections pid --no-table-headers --silent 2>/dev/null)
    for pid in $pids; do
        rabbitmqctl_own close_connection "$pid" "faults.sh: closing the server's connection" >/dev/null 2>&1 && count=$((count + 1))
    done
    SCENARIO_NOTES+=" rabbitmqctl closed $count broker connections 3 s into sending."
    finish_and_check
    at_least "$count" 2
    require $? "expected to close at least 2 connections (one per node)."
    local n reconnects
    for n in 0 1; do
        reconnects=RECONNECTS_$n
        at_least "${!reconnects}" 1
        require $? "node $n counted no broker reconnect."
    done
    SCENARIO_NOTES+=" $(health_note 0); $(health_note 1); broker reconnects $RECONNECTS_0 and $RECONNECTS_1."
}

scenario_kill-node() {
    SCENARIO_NAME=kill-node
    two_nodes_and_load "$AMQP_URL" || return 1
    sleep 3
    kill -KILL "${NODE_PIDS[0]}"
    wait "${NODE_PIDS[0]}" 2>/dev/null
    NODE_PIDS[0]=""
    sleep 3
    start_node 0 --broker "$AMQP_URL" || { finish_load; return 1; }
    SCENARIO_NOTES+=" server node 0 SIGKILLed 3 s into sending, started again 3 s later."
    finish_and_check
    grep -q ' 000$' "$SCENARIO_OUT/health0.txt"
    require $? "node 0 never stopped answering /healthz."
    local disconnects rejoins
    disconnects=$(report_value faults.disconnects)
    rejoins=$(report_value faults.reconnects)
    at_least "$disconnects" 1 && at_least "$rejoins" "$disconnects"
    require $? "expected the clients of node 0 to lose their sessions and every one to rejoin ($rejoins rejoins after $disconnects disconnects)."
    SCENARIO_NOTES+=" $(health_note 0)."
}

scenario_cluster() {
    SCENARIO_NAME=cluster
    "$ROOT/scripts/rabbitmq-cluster.sh" start >&2 || { SCENARIO_NOTES=" The RabbitMQ cluster could not be started."; return 1; }
    STARTED_CLUSTER=1
    local u1=amqp://guest:guest@127.0.0.1:5701/ u2=amqp://guest:guest@127.0.0.1:5702/ u3=amqp://guest:guest@127.0.0.1:5703/
    start_node 0 --broker "$u1,$u2,$u3" --replicated-queues && start_node 1 --broker "$u2,$u3,$u1" --replicated-queues || return 1
    watch_health 0 "$SCENARIO_OUT/health0.txt"
    watch_health 1 "$SCENARIO_OUT/health1.txt"
    run_load cluster "http://127.0.0.1:${HTTP_PORTS[0]}/chat" "http://127.0.0.1:${HTTP_PORTS[1]}/chat" || return 1
    sleep 3
    "$ROOT/scripts/rabbitmq-cluster.sh" kill-node 1 >&2
    SCENARIO_NOTES+=" broker node 1 (server node 0's) SIGKILLed 3 s into sending."
    finish_and_check
    at_least "$RECONNECTS_0" 1
    require $? "server node 0 did not reconnect to a surviving broker node."
    local quorum
    quorum=$("$ROOT/scripts/rabbitmq-cluster.sh" ctl 2 list_queues name type --no-table-headers --silent 2>/dev/null | grep -c "quorum")
    at_least "$quorum" "$CLIENTS"
    require $? "expected one quorum inbox per client, found $quorum."
    SCENARIO_NOTES+=" $(health_note 0); node 0 reconnected $RECONNECTS_0 time(s); $quorum quorum inboxes."
}

# MARK: soak

# soak_summary FILE T0 SECONDS: from RSS samples ("epoch rssKiB fds"; the load sends from epoch
# T0 for SECONDS, then drains; the last sample is taken idle after it), the RSS at the start of
# the load, at 5 and 10 minutes, at the end of sending, and its slope over the last 5 minutes
# of sending (least squares, MiB/min).
soak_summary() {
    awk -v t0="$2" -v seconds="$3" '
        { t[NR] = $1; r[NR] = $2 / 1024; n = NR }
        function at(sec,   i) { for (i = 2; i <= last; i++) if (t[i] - t0 >= sec) return sprintf("%.1f", r[i]); return "-" }
        END {
            last = 1                          # the last sample while sending
            for (i = 2; i < n; i++) if (t[i] - t0 <= seconds) last = i
            from = t[last] - 300
            for (i = 2; i <= last; i++) if (t[i] >= from) { k++; sx += t[i]; sy += r[i]; sxx += t[i] * t[i]; sxy += t[i] * r[i] }
            slope = (k > 2 && k * sxx - sx * sx != 0) ? (k * sxy - sx * sy) / (k * sxx - sx * sx) * 60 : 0
            printf "RSS MiB: idle before %.1f, start of load %s, 5 min %s, 10 min %s, end of sending (%d s) %.1f, idle after %.1f; slope over the last 5 min of sending %+.2f MiB/min (%d samples)\n",
                r[1], at(10), at(300), at(600), t[last] - t0, r[last], r[n], slope, k
        }' "$1"
}

# soak_disk_summary FILE T0 SECONDS: the same for the data directory's size (column 4, bytes).
soak_disk_summary() {
    awk -v t0="$2" -v seconds="$3" '
        { t[NR] = $1; r[NR] = $4 / 1048576; n = NR; if (r[NR] > max) max = r[NR] }
        function at(sec,   i) { for (i = 2; i <= last; i++) if (t[i] - t0 >= sec) return sprintf("%.1f", r[i]); return "-" }
        END {
            last = 1
            for (i = 2; i < n; i++) if (t[i] - t0 <= seconds) last = i
            from = t[last] - 300
            for (i = 2; i <= last; i++) if (t[i] >= from) { k++; sx += t[i]; sy += r[i]; sxx += t[i] * t[i]; sxy += t[i] * r[i] }
            slope = (k > 2 && k * sxx - sx * sx != 0) ? (k * sxy - sx * sy) / (k * sxx - sx * sx) * 60 : 0
            printf "data dir MiB: start of load %s, 5 min %s, 10 min %s, end of sending %.1f, idle after %.1f, largest %.1f; slope over the last 5 min of sending %+.2f MiB/min",
                at(10), at(300), at(600), r[last], r[n], max, slope
        }' "$1"
}

soak() {
    local seconds=${1:-180}
    # FAULTS_SOAK_NAME keeps two soaks (e.g. before and after a change) apart.
    SCENARIO_OUT="$OUT/soak${FAULTS_SOAK_NAME:+-$FAULTS_SOAK_NAME}"
    rm -rf "$SCENARIO_OUT"; mkdir -p "$SCENARIO_OUT"
    # With the in-process broker the server's RSS also holds the broker: its history stream keeps
    # up to --embedded-history-mib (8 MiB of messages by default) in memory.
    # FAULTS_SOAK_BROKER=rabbitmq (own RabbitMQ on $FAULTS_AMQP_PORT; FAULTS_AMQP_URL for another
    # vhost) leaves only the server's own memory in it.
    # The in-process broker keeps its store in $SCENARIO_OUT/data (--data-dir), whose size
    # (store.sqlite + its WAL) is sampled next to the RSS; FAULTS_SOAK_HISTORY_MIB sets its
    # --embedded-history-mib (the history's retention, in memory and on disk), so that a soak
    # reaches retention early. FAULTS_SOAK_BROKER=in-memory runs it with --in-memory.
    local data="$SCENARIO_OUT/data"
    local broker_args=(--data-dir "$data") broker_name="in-process broker, --data-dir"
    if [ -n "${FAULTS_SOAK_HISTORY_MIB:-}" ]; then
        broker_args+=(--embedded-history-mib "$FAULTS_SOAK_HISTORY_MIB")
        broker_name+=", --embedded-history-mib $FAULTS_SOAK_HISTORY_MIB"
    fi
    if [ "${FAULTS_SOAK_BROKER:-in-process}" = in-memory ]; then
        broker_args=(--in-memory)
        broker_name="in-process broker, --in-memory"
    elif [ "${FAULTS_SOAK_BROKER:-in-process}" = rabbitmq ]; then
        ensure_rabbitmq || return 1
        broker_args=(--broker "$AMQP_URL")
        broker_name="RabbitMQ on port $AMQP_PORT"
    fi
    log "== soak: one node ($broker_name), $CLIENTS clients for $seconds s"
    start_node 0 "${broker_args[@]}" || return 1
    local pid=${NODE_PIDS[0]}
    # "epoch rssKiB fds dataDirBytes sqliteBytes walBytes" (the sizes 0 without a data dir).
    size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
    sample() {
        echo "$(( $(date +%s) )) $(awk '/VmRSS/ {print $2}' "/proc/$pid/status") $(ls "/proc/$pid/fd" | wc -l)" \
            "$(du -sb "$data" 2>/dev/null | cut -f1 || echo 0) $(size_of "$data/store.sqlite") $(size_of "$data/store.sqlite-wal")"
    }
    local before
    before=$(sample)
    echo "$before" > "$SCENARIO_OUT/samples.txt"
    local t0
    t0=$(date +%s)
    ( while :; do sleep 10; sample; done ) >>"$SCENARIO_OUT/samples.txt" 2>/dev/null &
    WATCH_PIDS+=($!)
    "$BIN/LoadTester" --url "http://127.0.0.1:${HTTP_PORTS[0]}/chat" --clients "$CLIENTS" --rooms 2 --rate 2 --private-rate 1 \
        --duration "$seconds" --drain 30 --transports websocket=2,xhr-streaming=1,xhr-polling=1 --progress 30 \
        --report "$SCENARIO_OUT/report.json" >"$SCENARIO_OUT/loadtester.log" 2>&1
    local rc=$?
    stop_watchers
    sleep 12 # sessions closed by clients and the SockJS disconnect delay (5 s) past
    local after
    after=$(sample)
    echo "$after" >> "$SCENARIO_OUT/samples.txt"
    local fd0 fd1
    read -r _ _ fd0 _ <<< "$before"
    read -r _ _ fd1 _ <<< "$after"
    local summary
    summary=$(soak_summary "$SCENARIO_OUT/samples.txt" "$t0" "$seconds")
    if [ -d "$data" ]; then summary+="; $(soak_disk_summary "$SCENARIO_OUT/samples.txt" "$t0" "$seconds")"; fi
    echo "$summary" > "$SCENARIO_OUT/summary.txt"
    local line="soak $seconds s ($broker_name): LoadTester exit $rc; $summary; fds $fd0 before, $fd1 after."
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
    if [ "${1:-}" != soak ] && [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
        if [ "${RABBITCHAT_REQUIRE_RABBITMQ:-0}" = 1 ]; then
            log "RabbitMQ is not installed; install it with: apt-get install -y rabbitmq-server"
            return 1
        fi
        log "RabbitMQ is not installed: the fault scenarios are skipped (apt-get install -y rabbitmq-server runs them)."
        return 0
    fi
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
