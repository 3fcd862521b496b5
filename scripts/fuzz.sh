#!/usr/bin/env bash
# Builds every coverage-guided fuzzer (libFuzzer, -sanitize=fuzzer,address) in its own scratch
# path (.build-fuzz, so ordinary builds stay uninstrumented) and runs each, with its dictionary
# (Fuzz/dict/<corpus>.dict), on a copy of its committed seeds in Fuzz/corpus/.
# Prints executions, coverage and crashes per fuzzer; exits 1 if any fuzzer found a crash,
# a leak, a timeout or an out-of-memory input (saved under test-output/fuzz/ with the command
# to reproduce it), 2 if the build failed.
#
#   scripts/fuzz.sh [SECONDS] [FUZZER...]   CI mode: SECONDS (default 60) shared by the fuzzers,
#                                           on a temporary copy of the seeds.
#                                           e.g. scripts/fuzz.sh 600 FuzzChatFrames
#   scripts/fuzz.sh --long [FUZZER...]      long mode: each fuzzer runs FUZZ_LONG_SECONDS
#                                           (default 1800) in turn, one at a time, and its
#                                           corpus grows in test-output/fuzz-corpus/<corpus>/
#                                           across runs (new inputs worth keeping are copied
#                                           into Fuzz/corpus/ by hand).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
export PATH="/opt/swift/usr/bin:$PATH"

LONG=0
if [ "${1:-}" = "--long" ]; then
    LONG=1
    shift
    TOTAL=0
else
    TOTAL=${1:-60}
    shift || true
fi
ALL=(FuzzChatFrames FuzzSockJSFrames FuzzWebSocketFrames FuzzHTTPHead FuzzSockJSConnection FuzzHTTPRequests FuzzClientFrames)
FUZZERS=("$@")
[ ${#FUZZERS[@]} -gt 0 ] || FUZZERS=("${ALL[@]}")

corpus_of() {
    case $1 in
        FuzzChatFrames) echo chat-frames ;;
        FuzzSockJSFrames) echo sockjs-frames ;;
        FuzzWebSocketFrames) echo websocket-frames ;;
        FuzzHTTPHead) echo http-head ;;
        FuzzSockJSConnection) echo sockjs-connection ;;
        FuzzHTTPRequests) echo http-requests ;;
        FuzzClientFrames) echo client-frames ;;
        *) return 1 ;;
    esac
}
max_len_of() {
    case $1 in
        FuzzSockJSConnection) echo 8192 ;;
        FuzzChatFrames | FuzzHTTPHead | FuzzClientFrames) echo 4096 ;;
        FuzzHTTPRequests) echo 1536 ;;
        *) echo 2048 ;;
    esac
}

for f in "${FUZZERS[@]}"; do
    corpus_of "$f" > /dev/null || { echo "error: unknown fuzzer '$f'; the fuzzers are: ${ALL[*]}."; exit 2; }
done

SCRATCH="$ROOT/.build-fuzz"
FLAGS=(-c debug --scratch-path "$SCRATCH" -Xswiftc -sanitize=fuzzer,address -Xcc -DRABBITCHAT_FUZZING)
echo "== building ${#FUZZERS[@]} fuzzers (debug, -sanitize=fuzzer,address, in .build-fuzz; the first build takes several minutes)"
mkdir -p "$ROOT/test-output"
for f in "${FUZZERS[@]}"; do
    build_log="$ROOT/test-output/fuzz-build-$f.log"
    swift build "${FLAGS[@]}" --product "$f" > "$build_log" 2>&1
    rc=$?
    # The linker's notes about AddressSanitizer's local symbols are noise.
    grep -E "error|warning: " "$build_log" | grep -v "Cannot export local symbol" | head -40
    if [ "$rc" != 0 ]; then echo "error: building $f failed (the whole log: $build_log)."; exit 2; fi
    grep -E "Build of product|Build complete" "$build_log" | tail -1
done
BIN=$(swift build "${FLAGS[@]}" --show-bin-path)

if [ "$LONG" = 1 ]; then
    PER=${FUZZ_LONG_SECONDS:-1800}
else
    PER=$(( TOTAL / ${#FUZZERS[@]} ))
fi
[ "$PER" -ge 1 ] || PER=1
WORK=$(mktemp -d /tmp/rabbitchat-fuzz.XXXXXX)
ARTIFACTS="$ROOT/test-output/fuzz"
mkdir -p "$ARTIFACTS"
# libFuzzer reports the crash; Swift's own backtracer would only race with AddressSanitizer.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"

failed=0
printf '\n%-22s %8s %10s %8s %8s %8s  %s\n' fuzzer seconds execs exec/s cov corpus result
summary=()
for f in "${FUZZERS[@]}"; do
    name=$(corpus_of "$f")
    mkdir -p "$WORK/$f/corpus"
    corpus="$WORK/$f/corpus"
    if [ "$LONG" = 1 ]; then
        corpus="$ROOT/test-output/fuzz-corpus/$name"
        mkdir -p "$corpus"
    fi
    cp "$ROOT/Fuzz/corpus/$name/"* "$corpus/" 2>/dev/null || true
    dict=()
    [ -f "$ROOT/Fuzz/dict/$name.dict" ] && dict=(-dict="$ROOT/Fuzz/dict/$name.dict")
    log="$WORK/$f/log"
    start=$SECONDS
    [ "$LONG" = 1 ] && echo "== $f: $PER s (started $(date -u +%H:%M:%S) UTC; corpus test-output/fuzz-corpus/$name)"
    "$BIN/$f" "$corpus" "${dict[@]}" \
        -max_total_time="$PER" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 \
        -max_len="$(max_len_of "$f")" -print_final_stats=1 -artifact_prefix="$WORK/$f/" > "$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -oE '(DONE|pulse|NEW|REDUCE|INITED) +cov: [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
    corp=$(grep -oE 'corp: [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
    found=$(find "$WORK/$f" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'slow-unit-*' \) | grep -v slow-unit || true)
    result=ok
    if [ -n "$found" ] || [ "$rc" != 0 ]; then
        result="FAILED (exit $rc)"
        failed=1
        cp "$log" "$ARTIFACTS/$f.log"
        for a in $found; do cp "$a" "$ARTIFACTS/$f-$(basename "$a")"; done
    fi
    [ "$LONG" = 1 ] && cp "$log" "$ARTIFACTS/$f-long.log"
    printf '%-22s %8s %10s %8s %8s %8s  %s\n' "$f" "$((SECONDS - start))" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${corp:-?}" "$result"
    summary+=("$f")
    if [ "$result" != ok ]; then
        echo "---- $f: the end of its log (all of it in test-output/fuzz/$f.log):"
        grep -vE '^(#[0-9]+|INFO:|MS:|	)' "$log" | grep -v '^$' | head -40
        for a in $found; do
            echo "input saved as test-output/fuzz/$f-$(basename "$a"); reproduce with:"
            echo "  $BIN/$f test-output/fuzz/$f-$(basename "$a")"
            echo "  (or, uninstrumented: swift build --product $f && .build/debug/$f test-output/fuzz/$f-$(basename "$a"))"
        done
    fi
done
rm -rf "$WORK"
if [ "$failed" != 0 ]; then
    echo "fuzzing found problems: turn each saved input into a test in Tests/FuzzRegressionTests, then fix it."
    exit 1
fi
echo "fuzzing: ${#FUZZERS[@]} fuzzers, ${PER} s each, nothing found."
