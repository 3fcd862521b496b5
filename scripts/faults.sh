#!/usr/bin/env bash
# The soak: one rabbitChat node under steady public and private traffic from LoadTester for
# SECONDS, its RSS and open file descriptors sampled every 10 s; the file descriptors must come
# back to their level before the run. (The fault scenarios, a broker restart, closed
# connections, a killed node and a killed RabbitMQ cluster node under load, are Swift tests:
# `swift test --filter FaultScenarioTests`, the `faults` check of scripts/test.)
#
#   scripts/faults.sh soak [SECONDS]   SECONDS defaults to 180. The in-process broker keeps a
#                                      --data-dir whose size is sampled too
#                                      (FAULTS_SOAK_HISTORY_MIB: its retention;
#                                      FAULTS_SOAK_BROKER=in-memory: --in-memory instead);
#                                      FAULTS_SOAK_BROKER=rabbitmq runs it on RabbitMQ; the
#                                      summary (RSS at 0/5/10 min, end, the slope over the last
#                                      5 minutes) goes to test-output/faults/soak/summary.txt
#
# A soak on RabbitMQ uses its own RabbitMQ on 127.0.0.1:$FAULTS_AMQP_PORT (default 5692, started
# and stopped with scripts/rabbitmq.sh), never the shared one on 5672. Everything started is
# stopped by PID at the end. Exit status: 0 when LoadTester passed and no descriptor leaked.
#
# Knobs: FAULTS_CONFIG (debug|release, default debug), FAULTS_CLIENTS (default 40),
# FAULTS_PORTS (the HTTP port is the first, default 19301), FAULTS_BIN (a folder with prebuilt
# rabbitChat and LoadTester: no build), FAULTS_NODE_ID (node id prefix, default faults),
# FAULTS_AMQP_URL (e.g. another vhost of the same RabbitMQ), FAULTS_SOAK_NAME (the output
# folder is soak-NAME).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="/opt/swift/usr/bin:$PATH"
OUT="$ROOT/test-output/faults"
CONFIG="${FAULTS_CONFIG:-debug}"
CLIENTS="${FAULTS_CLIENTS:-40}"
read -r -a HTTP_PORTS <<< "${FAULTS_PORTS:-19301 19302}"
AMQP_PORT="${FAULTS_AMQP_PORT:-5692}"
AMQP_URL="${FAULTS_AMQP_URL:-amqp://guest:guest@127.0.0.1:$AMQP_PORT/}"
SECRET="$OUT/secret"

NODE_PIDS=("" "")
WATCH_PIDS=()
STARTED_RABBITMQ=0
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
    stop_watchers
    stop_nodes
    if [ "$STARTED_RABBITMQ" = 1 ]; then
        RABBITMQ_PORT=$AMQP_PORT "$ROOT/scripts/rabbitmq.sh" stop >/dev/null 2>&1 || true
        # Its data and logs too, unless it still runs (then it was not ours to stop).
        (exec 3<>"/dev/tcp/127.0.0.1/$AMQP_PORT") 2>/dev/null || rm -rf "/tmp/rabbitchat-rabbitmq-$AMQP_PORT"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM




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
    if [ "${1:-}" != soak ]; then
        log "usage: scripts/faults.sh soak [SECONDS]. The fault scenarios are Swift tests now: swift test --filter FaultScenarioTests"
        return 2
    fi
    mkdir -p "$OUT"
    if (exec 3<>"/dev/tcp/127.0.0.1/${HTTP_PORTS[0]}") 2>/dev/null; then
        log "port ${HTTP_PORTS[0]} is in use; set FAULTS_PORTS to a free port."
        return 2
    fi
    build || return 1
    local failed=0 t0=$SECONDS
    soak "${2:-180}" || failed=1
    echo
    echo "== faults.sh results ($((SECONDS - t0)) s)"
    local line
    for line in "${RESULTS[@]}"; do echo "  $line"; done
    return "$failed"
}

main "$@"
exit $?
