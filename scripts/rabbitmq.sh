#!/usr/bin/env bash
# Starts, stops and drives a hermetic RabbitMQ node for rabbitChat's tests and benchmarks.
#
#   scripts/rabbitmq.sh start    start RabbitMQ on 127.0.0.1:$RABBITMQ_PORT (default 5672), with a
#                                TLS listener on 127.0.0.1:$RABBITMQ_TLS_PORT (default 5671 for
#                                5672, else RABBITMQ_PORT+10000), unless something already
#                                answers there (then it does nothing)
#   scripts/rabbitmq.sh stop     stop the node this script started (and the epmd it started)
#   scripts/rabbitmq.sh status   say whether RabbitMQ answers on the port, and who started it
#   scripts/rabbitmq.sh ctl ...  run rabbitmqctl against that node (e.g. `ctl list_connections`)
#
# The node runs as root without systemd, with its own HOME (Erlang cookie), node name, data,
# log and pid folders under $RABBITCHAT_STATE (default /tmp/rabbitchat-rabbitmq, or
# /tmp/rabbitchat-rabbitmq-PORT for another port), and every listener (AMQP, distribution,
# epmd) on 127.0.0.1. See ../shared/ENVIRONMENT.md for why each setting is there.
#
# TLS: each start makes a throwaway CA and a server certificate for localhost / 127.0.0.1 in
# $STATE/tls (ca.pem, server.pem, server.key) and writes the URL that reaches the TLS listener,
# trusting that CA, to $STATE/tls/amqps-url
# (amqps://guest:guest@127.0.0.1:5671/?cacertfile=$STATE/tls/ca.pem); tests read it from there
# unless RABBITCHAT_TEST_AMQPS_URL is set.
set -euo pipefail

PORT="${RABBITMQ_PORT:-5672}"
if [[ ! "$PORT" =~ ^[0-9]+$ ]] || (( PORT < 1 || PORT > 45535 )); then
    echo "rabbitmq.sh: RABBITMQ_PORT must be a port number between 1 and 45535, not '$PORT'." >&2
    exit 2
fi
if [[ "$PORT" == 5672 ]]; then
    STATE="${RABBITCHAT_STATE:-/tmp/rabbitchat-rabbitmq}"
    NODENAME="${RABBITCHAT_NODENAME:-rabbitchat@localhost}"
else
    STATE="${RABBITCHAT_STATE:-/tmp/rabbitchat-rabbitmq-$PORT}"
    NODENAME="${RABBITCHAT_NODENAME:-rabbitchat$PORT@localhost}"
fi
DIST_PORT="${RABBITMQ_DIST_PORT:-$((PORT + 20000))}"
# 5671 beside 5672 (RabbitMQ's usual pair); other ports get theirs 10000 higher, so that nodes on
# neighbouring ports (scripts/rabbitmq-cluster.sh: 5701 5702 5703) never collide.
if [[ "$PORT" == 5672 ]]; then DEFAULT_TLS_PORT=5671; else DEFAULT_TLS_PORT=$((PORT + 10000)); fi
TLS_PORT="${RABBITMQ_TLS_PORT:-$DEFAULT_TLS_PORT}"
if [[ ! "$TLS_PORT" =~ ^[0-9]+$ ]] || (( TLS_PORT < 1 || TLS_PORT > 65535 || TLS_PORT == PORT )); then
    echo "rabbitmq.sh: RABBITMQ_TLS_PORT must be a port number other than RABBITMQ_PORT, not '$TLS_PORT'." >&2
    exit 2
fi
TLS_DIR="$STATE/tls"
EPMD_PORT="${ERL_EPMD_PORT:-4369}"
RABBIT_BIN=/usr/lib/rabbitmq/bin
MARKER="$STATE/started-by-rabbitmq.sh"
EPMD_MARKER="$STATE/epmd-started-by-rabbitmq.sh"
PID_FILE="$STATE/rabbitmq.pid"

export HOME="$STATE/home"
export RABBITMQ_NODENAME="$NODENAME"
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT="$PORT"
export RABBITMQ_DIST_PORT="$DIST_PORT"
export RABBITMQ_MNESIA_BASE="$STATE/mnesia"
export RABBITMQ_LOG_BASE="$STATE/log"
export RABBITMQ_PID_FILE="$PID_FILE"
export RABBITMQ_ENABLED_PLUGINS_FILE="$STATE/enabled_plugins"
export RABBITMQ_CONF_ENV_FILE="$STATE/rabbitmq-env.conf"
export RABBITMQ_CONFIG_FILE="$STATE/rabbitmq"
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export ERL_EPMD_ADDRESS=127.0.0.1
export ERL_EPMD_PORT="$EPMD_PORT"

answers() { # answers PORT: true when something accepts a TCP connection on 127.0.0.1:PORT
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

require_server() {
    if [[ ! -x "$RABBIT_BIN/rabbitmq-server" ]]; then
        echo "rabbitmq.sh: RabbitMQ is not installed; install it with: apt-get install -y rabbitmq-server" >&2
        exit 1
    fi
}

prepare_state() {
    mkdir -p "$HOME" "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
    if [[ ! -s "$HOME/.erlang.cookie" ]]; then
        rm -f "$HOME/.erlang.cookie"
        head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$HOME/.erlang.cookie"
    fi
    chmod 400 "$HOME/.erlang.cookie"
    echo "[]." > "$RABBITMQ_ENABLED_PLUGINS_FILE"
    : > "$RABBITMQ_CONF_ENV_FILE"
    make_certificates
    # The AMQP listener comes from RABBITMQ_NODE_IP_ADDRESS/PORT; this adds the TLS one. Clients
    # need no certificate of their own (verify_none on the broker's side); they check the broker's.
    # Lines another script wrote (rabbitmq-cluster.sh: peer discovery) are kept; only the TLS
    # lines are written anew.
    local conf="$STATE/rabbitmq.conf" kept=""
    if [[ -f "$conf" ]]; then kept=$(grep -vE '^(listeners\.ssl\.|ssl_options\.)' "$conf" || true); fi
    {
        if [[ -n "$kept" ]]; then printf '%s\n' "$kept"; fi
        cat <<CONF
listeners.ssl.default = 127.0.0.1:$TLS_PORT
ssl_options.cacertfile = $TLS_DIR/ca.pem
ssl_options.certfile = $TLS_DIR/server.pem
ssl_options.keyfile = $TLS_DIR/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
CONF
    } > "$conf.new"
    mv "$conf.new" "$conf"
}

# A throwaway CA and a server certificate it signs, for localhost and 127.0.0.1 (the IP also as a
# DNS name: rabbitmq-c 0.11 matches the host only against DNS names). Valid 30 days; made anew
# at each start, so nothing outlives the node's state folder.
make_certificates() {
    if ! command -v openssl >/dev/null; then
        echo "rabbitmq.sh: openssl is needed for the TLS listener's certificates; install it with: apt-get install -y openssl" >&2
        exit 1
    fi
    rm -rf "$TLS_DIR"
    mkdir -p "$TLS_DIR"
    chmod 700 "$TLS_DIR"
    local log="$TLS_DIR/openssl.log"
    if ! {
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
            -subj "/CN=rabbitChat test CA $PORT" -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -subj "/CN=localhost" -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" &&
        printf 'subjectAltName=DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' > "$TLS_DIR/server.ext" &&
        openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca.key" \
            -CAcreateserial -days 30 -extfile "$TLS_DIR/server.ext" -out "$TLS_DIR/server.pem"
    } >"$log" 2>&1; then
        echo "rabbitmq.sh: could not make the TLS certificates; see $log." >&2
        exit 1
    fi
    chmod 600 "$TLS_DIR/ca.key" "$TLS_DIR/server.key"
    echo "amqps://guest:guest@127.0.0.1:$TLS_PORT/?cacertfile=$TLS_DIR/ca.pem" > "$TLS_DIR/amqps-url"
}

start_epmd() {
    if answers "$EPMD_PORT"; then
        return 0 # an epmd is already there (ours from before, or someone else's): share it
    fi
    setsid /usr/bin/epmd -address 127.0.0.1 -port "$EPMD_PORT" </dev/null >"$RABBITMQ_LOG_BASE/epmd.log" 2>&1 &
    echo $! > "$EPMD_MARKER"
    for _ in $(seq 1 50); do
        answers "$EPMD_PORT" && return 0
        sleep 0.1
    done
    echo "rabbitmq.sh: epmd did not start on 127.0.0.1:$EPMD_PORT; see $RABBITMQ_LOG_BASE/epmd.log." >&2
    exit 1
}

cmd_start() {
    if answers "$PORT"; then
        echo "RabbitMQ (or something else) already answers on 127.0.0.1:$PORT; not starting another."
        return 0
    fi
    require_server
    prepare_state
    start_epmd
    rm -f "$PID_FILE"
    setsid "$RABBIT_BIN/rabbitmq-server" </dev/null >"$RABBITMQ_LOG_BASE/startup.log" 2>&1 &
    local launcher=$!
    echo "$launcher" > "$MARKER"
    if ! "$RABBIT_BIN/rabbitmqctl" wait --timeout 60 "$PID_FILE" >"$RABBITMQ_LOG_BASE/wait.log" 2>&1; then
        echo "rabbitmq.sh: RabbitMQ did not become ready within 60 s; see $RABBITMQ_LOG_BASE/startup.log and $RABBITMQ_LOG_BASE/wait.log." >&2
        cmd_stop >/dev/null 2>&1 || true
        exit 1
    fi
    for _ in $(seq 1 100); do
        answers "$PORT" && break
        sleep 0.1
    done
    if ! answers "$PORT"; then
        echo "rabbitmq.sh: RabbitMQ started but does not answer on 127.0.0.1:$PORT; see $RABBITMQ_LOG_BASE/startup.log." >&2
        exit 1
    fi
    for _ in $(seq 1 50); do
        answers "$TLS_PORT" && break
        sleep 0.1
    done
    if ! answers "$TLS_PORT"; then
        echo "rabbitmq.sh: RabbitMQ started but its TLS listener does not answer on 127.0.0.1:$TLS_PORT; see $RABBITMQ_LOG_BASE." >&2
        exit 1
    fi
    echo "RabbitMQ $NODENAME is ready on amqp://guest:guest@127.0.0.1:$PORT/ and $(cat "$TLS_DIR/amqps-url") (state in $STATE)."
}

cmd_stop() {
    if [[ ! -f "$MARKER" ]]; then
        echo "rabbitmq.sh did not start a RabbitMQ on port $PORT (no $MARKER); nothing to stop."
        return 0
    fi
    if ! "$RABBIT_BIN/rabbitmqctl" shutdown >"$RABBITMQ_LOG_BASE/shutdown.log" 2>&1; then
        local launcher
        launcher="$(cat "$MARKER")"
        if kill -0 "$launcher" 2>/dev/null; then
            echo "rabbitmq.sh: rabbitmqctl shutdown failed; stopping the node by its PID $launcher." >&2
            kill -- "-$launcher" 2>/dev/null || kill "$launcher" 2>/dev/null || true
        fi
    fi
    rm -f "$MARKER"
    if [[ -f "$EPMD_MARKER" ]]; then
        local epmd_pid
        epmd_pid="$(cat "$EPMD_MARKER")"
        # Other nodes (another port's rabbitmq.sh, a cluster test) may have registered with
        # the epmd this script started: then it stays for them.
        if /usr/bin/epmd -port "$EPMD_PORT" -names 2>/dev/null | grep -q '^name '; then
            echo "epmd (PID $epmd_pid) still serves other Erlang nodes; leaving it running."
        else
            kill "$epmd_pid" 2>/dev/null || true
        fi
        rm -f "$EPMD_MARKER"
    fi
    echo "RabbitMQ $NODENAME on port $PORT stopped."
}

cmd_status() {
    if answers "$PORT"; then
        if [[ -f "$MARKER" ]]; then
            echo "RabbitMQ $NODENAME answers on 127.0.0.1:$PORT (started by rabbitmq.sh, state in $STATE)."
        else
            echo "Something answers on 127.0.0.1:$PORT (not started by rabbitmq.sh)."
        fi
        return 0
    fi
    echo "Nothing answers on 127.0.0.1:$PORT; start RabbitMQ with: scripts/rabbitmq.sh start"
    return 1
}

cmd_ctl() {
    require_server
    if [[ ! -f "$HOME/.erlang.cookie" ]]; then
        echo "rabbitmq.sh: no node state in $STATE; start RabbitMQ with: scripts/rabbitmq.sh start" >&2
        exit 1
    fi
    exec "$RABBIT_BIN/rabbitmqctl" "$@"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    ctl) shift; cmd_ctl "$@" ;;
    *)
        echo "usage: scripts/rabbitmq.sh start|stop|status|ctl RABBITMQCTL-ARGS..." >&2
        exit 2
        ;;
esac
