#!/usr/bin/env bash
# Runs the real sockjs-client (Debian node-sockjs-client) against sockjs-echo-server on
# websocket, xhr-streaming, xhr-polling and eventsource. The node test starts and stops the
# server itself (by PID).
set -euo pipefail
ROOT="$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
cd "$ROOT"
if [ ! -f /usr/share/nodejs/sockjs-client/package.json ]; then
    echo "error: sockjs-client is missing; install it with: apt-get install -y node-sockjs-client" >&2
    exit 2
fi
CONFIG="${SOCKJS_BUILD_CONFIG:-debug}"
swift build -c "$CONFIG" --product sockjs-echo-server >&2
export SOCKJS_ECHO_SERVER="$(swift build -c "$CONFIG" --show-bin-path)/sockjs-echo-server"
NODE_PATH=/usr/share/nodejs timeout 300 node --test Tests/node/sockjs-client.test.js
