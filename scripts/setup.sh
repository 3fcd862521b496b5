#!/usr/bin/env bash
# Installs what rabbitChat needs on Debian 12 (as root) when it is missing: the Debian
# packages below (apt-get update once, then install). Swift itself comes with the machine
# (/opt/swift). Idempotent: prints nothing and does nothing when all is there.
#
#   scripts/setup.sh            # what the server needs
#   scripts/setup.sh --test     # plus what the test suite needs
set -euo pipefail

packages=(librabbitmq-dev libsqlite3-dev pkg-config node-sockjs-client)
if [ "${1:-}" = "--test" ]; then
    packages+=(rabbitmq-server node-sockjs chromium python3-venv curl)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "error: these Debian packages are missing: ${missing[*]}; run this script as root or install them with apt-get." >&2
        exit 1
    fi
    echo "installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${missing[@]}" >&2
fi

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        echo "note: add /opt/swift/usr/bin to PATH" >&2
    else
        echo "error: no Swift toolchain found; install Swift 6.2 or newer and put it on PATH." >&2
        exit 1
    fi
fi
