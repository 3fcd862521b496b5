#!/usr/bin/env bash
# Three hermetic RabbitMQ nodes on this machine, clustered, for the broker-node failure test.
#
#   scripts/rabbitmq-cluster.sh start        start three nodes on 127.0.0.1 ports $CLUSTER_PORTS
#                                            (default 5701 5702 5703) and join them into one cluster
#   scripts/rabbitmq-cluster.sh stop         stop every node this script started
#   scripts/rabbitmq-cluster.sh stop-node N  stop node N (1..3) only; start-node N starts it again
#   scripts/rabbitmq-cluster.sh urls         print the nodes' AMQP URLs, comma-separated
#   scripts/rabbitmq-cluster.sh ctl N ARGS   rabbitmqctl against node N
#
# Each node is a scripts/rabbitmq.sh node (own HOME, node name rabbitchat<PORT>@localhost, data
# and logs under /tmp/rabbitchat-rabbitmq-<PORT>, every listener on loopback, started with
# setsid, waited for on its pid file, stopped with rabbitmqctl shutdown or by its PID). The
# three share one Erlang cookie, written before the first start, so they can cluster. Nodes 2
# and 3 join node 1 with stop_app / join_cluster / start_app (≈12 s from start to clustered).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
read -r -a PORTS <<< "${CLUSTER_PORTS:-5701 5702 5703}"
if (( ${#PORTS[@]} != 3 )); then
    echo "rabbitmq-cluster.sh: CLUSTER_PORTS must name exactly three ports, not '${PORTS[*]}'." >&2
    exit 2
fi

node() { # node N ARGS...: scripts/rabbitmq.sh for node N
    local n=$1; shift
    RABBITMQ_PORT="${PORTS[$((n - 1))]}" "$ROOT/scripts/rabbitmq.sh" "$@"
}

state_of() { echo "/tmp/rabbitchat-rabbitmq-${PORTS[$(($1 - 1))]}"; }
name_of() { echo "rabbitchat${PORTS[$(($1 - 1))]}@localhost"; }

check_node() {
    if [[ ! "${1:-}" =~ ^[123]$ ]]; then
        echo "rabbitmq-cluster.sh: the node number must be 1, 2 or 3." >&2
        exit 2
    fi
}

share_cookie() {
    local cookie="" n
    for n in 1 2 3; do
        if [[ -s "$(state_of "$n")/home/.erlang.cookie" ]]; then cookie=$(cat "$(state_of "$n")/home/.erlang.cookie"); break; fi
    done
    [[ -n "$cookie" ]] || cookie=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    for n in 1 2 3; do
        local home
        home="$(state_of "$n")/home"
        mkdir -p "$home"
        if [[ ! -s "$home/.erlang.cookie" ]] || [[ "$(cat "$home/.erlang.cookie")" != "$cookie" ]]; then
            rm -f "$home/.erlang.cookie"
            printf '%s' "$cookie" > "$home/.erlang.cookie"
        fi
        chmod 400 "$home/.erlang.cookie"
    done
}

clustered_with_1() { # clustered_with_1 N: node N lists node 1 among its running nodes
    node "$1" ctl cluster_status --formatter json 2>/dev/null | grep -q "\"$(name_of 1)\""
}

cmd_start() {
    local n failed=0
    # A fresh cluster every time: a node whose old data says it belongs to a cluster waits
    # minutes for its peers at boot. Only nodes that do not answer are wiped.
    for n in 1 2 3; do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/${PORTS[$((n - 1))]}") 2>/dev/null; then
            rm -rf "$(state_of "$n")/mnesia"
        fi
    done
    share_cookie
    # Node 1 alone first: it starts epmd if none runs, so 2 and 3 never race for it.
    node 1 start || failed=1
    if (( ! failed )); then
        node 2 start & local p2=$!
        node 3 start & local p3=$!
        wait "$p2" || failed=1
        wait "$p3" || failed=1
    fi
    adopt_epmd
    if (( failed )); then
        echo "rabbitmq-cluster.sh: a node did not start; stopping the others." >&2
        cmd_stop >/dev/null 2>&1 || true
        exit 1
    fi
    for n in 2 3; do
        if clustered_with_1 "$n" && node "$n" ctl cluster_status --formatter json 2>/dev/null | grep -q "running_nodes.*$(name_of 1)"; then
            continue
        fi
        node "$n" ctl stop_app >/dev/null
        node "$n" ctl reset >/dev/null
        node "$n" ctl join_cluster "$(name_of 1)" >/dev/null
        node "$n" ctl start_app >/dev/null
    done
    node 1 ctl await_online_nodes 3 --timeout 60 >/dev/null 2>&1 || true
    echo "RabbitMQ cluster of $(name_of 1), $(name_of 2), $(name_of 3) is ready: $(cmd_urls)"
}

EPMD_PIDFILE=/tmp/rabbitchat-cluster-epmd.pid

# The epmd a node's start may have launched belongs to the cluster, not to that node: stopping
# node 1 in a failover test must not take the name server of nodes 2 and 3 with it.
adopt_epmd() {
    local n marker
    for n in 1 2 3; do
        marker="$(state_of "$n")/epmd-started-by-rabbitmq.sh"
        if [[ -f "$marker" ]]; then
            if kill -0 "$(cat "$marker")" 2>/dev/null; then cat "$marker" > "$EPMD_PIDFILE"; fi
            rm -f "$marker"
        fi
    done
}

cmd_stop() {
    local n
    for n in 3 2 1; do node "$n" stop || true; done
    adopt_epmd
    if [[ -f "$EPMD_PIDFILE" ]]; then
        # Only when no other Erlang node (someone else's RabbitMQ) still uses it.
        if ! /usr/bin/epmd -names 2>/dev/null | grep -q '^name '; then kill "$(cat "$EPMD_PIDFILE")" 2>/dev/null || true; fi
        rm -f "$EPMD_PIDFILE"
    fi
}

cmd_urls() {
    local urls=() p
    for p in "${PORTS[@]}"; do urls+=("amqp://guest:guest@127.0.0.1:$p/"); done
    (IFS=,; echo "${urls[*]}")
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    stop-node) check_node "${2:-}"; node "$2" stop ;;
    start-node) check_node "${2:-}"; share_cookie; node "$2" start; adopt_epmd ;;
    urls) cmd_urls ;;
    ctl) check_node "${2:-}"; n=$2; shift 2; node "$n" ctl "$@" ;;
    *)
        echo "usage: scripts/rabbitmq-cluster.sh start|stop|stop-node N|start-node N|urls|ctl N RABBITMQCTL-ARGS..." >&2
        exit 2
        ;;
esac
