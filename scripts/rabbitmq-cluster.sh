#!/usr/bin/env bash
# Three hermetic RabbitMQ nodes on this machine, clustered, for the broker-node failure test.
#
#   scripts/rabbitmq-cluster.sh start        start three nodes on 127.0.0.1 ports $CLUSTER_PORTS
#                                            (default 5701 5702 5703) and join them into one cluster
#   scripts/rabbitmq-cluster.sh stop         stop every node this script started and remove the
#                                            nodes' folders (KEEP_STATE=1 keeps them, e.g. for logs)
#   scripts/rabbitmq-cluster.sh stop-node N  stop node N (1..3) only; start-node N starts it again
#   scripts/rabbitmq-cluster.sh kill-node N  SIGKILL node N's Erlang VM (a crash, immediate)
#   scripts/rabbitmq-cluster.sh urls         print the nodes' AMQP URLs, comma-separated
#   scripts/rabbitmq-cluster.sh ctl N ARGS   rabbitmqctl against node N
#
# Each node is a scripts/rabbitmq.sh node (own HOME, node name rabbitchat<PORT>@localhost, data
# and logs under /tmp/rabbitchat-rabbitmq-<PORT>, every listener on loopback, started with
# setsid, waited for on its pid file, stopped with rabbitmqctl shutdown or by its PID). The
# three share one Erlang cookie, written before the first start, so they can cluster; each
# node's rabbitmq.conf names the three for peer discovery, so nodes 2 and 3 join node 1 while
# they boot.
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

# Every node boots with classic-config peer discovery naming all three: a node whose data is
# fresh joins the first of the others that runs, so the cluster forms while the nodes boot,
# without the four slow rabbitmqctl calls (stop_app, reset, join_cluster, start_app) per node.
write_config() {
    local n state
    for n in 1 2 3; do
        state=$(state_of "$n")
        mkdir -p "$state"
        {
            echo "cluster_formation.peer_discovery_backend = classic_config"
            echo "cluster_formation.classic_config.nodes.1 = $(name_of 1)"
            echo "cluster_formation.classic_config.nodes.2 = $(name_of 2)"
            echo "cluster_formation.classic_config.nodes.3 = $(name_of 3)"
        } > "$state/rabbitmq.conf"
    done
}

running_nodes_of_1() { # how many nodes node 1 sees running
    node 1 ctl cluster_status --formatter json 2>/dev/null \
        | python3 -c 'import json, sys; print(len(json.load(sys.stdin).get("running_nodes", [])))' 2>/dev/null || echo 0
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
    write_config
    # Node 1 alone first: it starts epmd if none runs (so 2 and 3 never race for it), and it is
    # the running peer that 2 and 3 find and join.
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
    local running
    running=$(running_nodes_of_1)
    if [[ "$running" != 3 ]]; then
        echo "rabbitmq-cluster.sh: the nodes started but node 1 sees $running of 3 running; see $(state_of 2)/log and $(state_of 3)/log." >&2
        cmd_stop >/dev/null 2>&1 || true
        exit 1
    fi
    echo "RabbitMQ cluster of $(name_of 1), $(name_of 2), $(name_of 3) is ready: $(cmd_urls)"
}

# kill-node N: the sudden death of node N (SIGKILL to its Erlang VM, found by its pid file):
# what a crashed machine looks like to its clients and peers, at once and without rabbitmqctl.
cmd_kill_node() {
    local n=$1 pid_file pid
    pid_file="$(state_of "$n")/rabbitmq.pid"
    pid=$(cat "$pid_file" 2>/dev/null || true)
    if [[ ! "$pid" =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null; then
        echo "rabbitmq-cluster.sh: node $n does not run (no live PID in $pid_file)." >&2
        exit 1
    fi
    kill -KILL "$pid"
    local i
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$(state_of "$n")/started-by-rabbitmq.sh" "$pid_file"
    echo "RabbitMQ node $n ($(name_of "$n"), PID $pid) killed."
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

# stop: the three nodes in parallel (rabbitmqctl shutdown of each, or by PID), then the epmd
# this script started when no other Erlang node uses it, then the nodes' data and logs.
cmd_stop() {
    local n pids=()
    for n in 3 2 1; do
        node "$n" stop >/dev/null 2>&1 &
        pids+=($!)
    done
    local pid
    for pid in "${pids[@]}"; do wait "$pid" || true; done
    adopt_epmd
    if [[ -f "$EPMD_PIDFILE" ]]; then
        # Only when no other Erlang node (someone else's RabbitMQ) still uses it.
        if ! /usr/bin/epmd -names 2>/dev/null | grep -q '^name '; then kill "$(cat "$EPMD_PIDFILE")" 2>/dev/null || true; fi
        rm -f "$EPMD_PIDFILE"
    fi
    if [[ "${KEEP_STATE:-0}" != 1 ]]; then
        for n in 1 2 3; do
            # A node still answering was not ours to stop: its folder stays.
            (exec 3<>"/dev/tcp/127.0.0.1/${PORTS[$((n - 1))]}") 2>/dev/null || rm -rf "$(state_of "$n")"
        done
    fi
    echo "RabbitMQ cluster stopped."
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
    kill-node) check_node "${2:-}"; cmd_kill_node "$2" ;;
    start-node) check_node "${2:-}"; share_cookie; node "$2" start; adopt_epmd ;;
    urls) cmd_urls ;;
    ctl) check_node "${2:-}"; n=$2; shift 2; node "$n" ctl "$@" ;;
    *)
        echo "usage: scripts/rabbitmq-cluster.sh start|stop|stop-node N|kill-node N|start-node N|urls|ctl N RABBITMQCTL-ARGS..." >&2
        exit 2
        ;;
esac
