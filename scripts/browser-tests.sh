#!/usr/bin/env bash
# The page in a real browser: builds rabbitChat, starts it on a free port (arguments go to the
# server, e.g. `--broker amqp://guest:guest@127.0.0.1:5672/`), runs Tests/browser with
# Playwright driving Debian's /usr/bin/chromium (headless, offline: no `playwright install`),
# stops the server by its PID, and exits non-zero if any test failed.
#
# Screenshots of the main states land in test-output/screenshots/, the server's log in
# test-output/browser-server.log. The accessibility test runs axe-core on the sign-in and chat
# screens, light and dark, and fails on any serious or critical violation.
# Needs python3-venv and chromium (scripts/setup.sh --test).
# RABBITCHAT_BINARY=path skips the build and uses that binary.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
export PATH="/opt/swift/usr/bin:$PATH"
VENV="$ROOT/.cache/browser-venv"
OUT="$ROOT/test-output"
mkdir -p "$OUT/screenshots"

if [ ! -x /usr/bin/chromium ]; then
    echo "error: /usr/bin/chromium is missing; install it with: apt-get install -y chromium" >&2
    exit 1
fi

# Python environment with Playwright (the driver only; the browser is Debian's) and axe-core
# (PyPI's axe-playwright-python ships axe.min.js; the accessibility test runs it in the page).
if ! "$VENV/bin/python" -c "import playwright, pytest, axe_playwright_python" 2>/dev/null; then
    echo "== setting up $VENV (pip install playwright pytest axe-playwright-python)"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" ||
        { echo "error: python3 -m venv failed; install python3-venv with apt-get." >&2; exit 1; }
    "$VENV/bin/pip" install --quiet --disable-pip-version-check playwright pytest axe-playwright-python ||
        { echo "error: pip could not install playwright, pytest and axe-playwright-python; check access to PyPI." >&2; exit 1; }
fi

# The server binary.
if [ -n "${RABBITCHAT_BINARY:-}" ]; then
    BIN=$RABBITCHAT_BINARY
else
    echo "== building rabbitChat"
    swift build --product rabbitChat || { echo "error: the build failed." >&2; exit 1; }
    BIN="$(swift build --show-bin-path)/rabbitChat"
fi

STATE=$(mktemp -d)
SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID"
        for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null
    fi
    SERVER_PID=""
    rm -rf "$STATE"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# Port 0: the server picks a free port and its banner says which.
XDG_DATA_HOME="$STATE" "$BIN" --port 0 --secret-file "$STATE/secret" "$@" >"$STATE/stdout" 2>"$OUT/browser-server.log" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 300); do
    URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$STATE/stdout" 2>/dev/null | head -n 1)
    [ -n "$URL" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$URL" ]; then
    echo "error: rabbitChat did not start; its output:" >&2
    cat "$STATE/stdout" "$OUT/browser-server.log" >&2
    exit 1
fi
echo "== server $URL (pid $SERVER_PID)"

RABBITCHAT_URL="$URL" RABBITCHAT_SCREENSHOTS="$OUT/screenshots" RABBITCHAT_BINARY="$BIN" \
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/Tests/browser"
status=$?
stop_server
if [ $status = 0 ]; then echo "== browser tests passed"; else echo "== browser tests FAILED"; fi
exit $status
