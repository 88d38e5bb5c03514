#!/usr/bin/env bash
# The official Speechmatics real-time clients against a Speechmatics-RT-shaped endpoint:
#   - @speechmatics/real-time-client 8.5.1 (tests/clients/speechmatics_node.mjs): credential as `?jwt=`;
#   - speechmatics-rt 1.2.1 (tests/clients/speechmatics_python.py): credential as `Authorization: Bearer`.
# Each prints one JSON summary line and exits non-zero on a failed assertion.
#
# Usage:
#   scripts/clients/speechmatics.sh --simulate
#       builds nothing: starts target/debug/voxrelay simulate on 127.0.0.1:0 without a key and runs both
#       clients against ws://ADDR/v2, then a simulator that requires a generated key and runs the Python
#       client (the one that sends a Bearer header) against it with that key;
#   scripts/clients/speechmatics.sh URL [CREDENTIAL]
#       runs both clients against URL (ws:// or wss://host:port/path) presenting CREDENTIAL
#       (default: $SPEECHMATICS_CREDENTIAL); a test CA goes in NODE_EXTRA_CA_CERTS and SSL_CERT_FILE.
#   scripts/clients/speechmatics.sh --relay
#       both clients through voxrelay's generic route `speechmatics` (config/local.toml) to a simulator
#       that requires a generated key (scripts/clients/relay-harness.sh), over ws:// and wss://; then
#       checks that the upstream saw only `Authorization: Bearer <its key>` and that voxrelay metered
#       the audio the clients sent within 1 %.
# SPEECHMATICS_EXPECT_TRANSCRIPT overrides the transcript both clients expect (the simulator's by default).
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN=${VOXRELAY_BIN:-target/debug/voxrelay}
PYTHON=.venv-clients/bin/python
CLIENT_TIMEOUT=60
WORK=$(mktemp -d "${TMPDIR:-/tmp}/voxrelay-speechmatics.XXXXXX")
PIDS=()
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ -d tests/clients/node_modules/@speechmatics/real-time-client ] \
    || { echo "tests/clients/node_modules is missing: cd tests/clients && npm ci" >&2; exit 1; }
[ -x "$PYTHON" ] || { echo "$PYTHON is missing: scripts/setup-test-deps.sh" >&2; exit 1; }

# wait_line NAME PID FILE SED: the first line of FILE that SED (a sed -n script) turns into a value,
# while PID lives (≤ 20 s); sets LINE_VALUE
wait_line() {
    local name=$1 pid=$2 file=$3 script=$4
    LINE_VALUE=
    for _ in $(seq 200); do
        LINE_VALUE=$(sed -n "$script" "$file" 2>/dev/null | head -n 1) || true
        [ -n "$LINE_VALUE" ] && return 0
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$file" >&2; echo "$name exited" >&2; exit 1; }
        sleep 0.1
    done
    echo "$name did not report its address within 20 s" >&2
    exit 1
}

# start_simulator NAME [KEY]: starts the simulator (requiring KEY if given), sets SIM_ADDR
start_simulator() {
    local name=$1 key=${2:-}
    local args=(simulate --listen 127.0.0.1:0)
    [ -n "$key" ] && args+=(--api-key-env VOXRELAY_TEST_SPEECHMATICS_KEY)
    [ -x "$BIN" ] || { echo "$BIN is missing: cargo build" >&2; exit 1; }
    env NO_COLOR=1 VOXRELAY_TEST_SPEECHMATICS_KEY="$key" "$BIN" "${args[@]}" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    wait_line "$name" "$!" "$WORK/$name.log" 's/.*simulator listening.*addr[^0-9]*\([0-9.]*:[0-9]*\).*/\1/p'
    SIM_ADDR=$LINE_VALUE
}

failed=0
# run NAME URL CREDENTIAL COMMAND…: one client, bounded, its summary line echoed
run() {
    local name=$1 url=$2 credential=$3
    shift 3
    if SPEECHMATICS_URL=$url SPEECHMATICS_CREDENTIAL=$credential \
        timeout "$CLIENT_TIMEOUT" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"; then
        echo "PASS $name $(tail -n 1 "$WORK/$name.out")"
    else
        echo "FAIL $name (exit $?)"
        cat "$WORK/$name.out" "$WORK/$name.err" >&2
        failed=1
    fi
}

run_both() {
    local url=$1 credential=$2 suffix=${3:-}
    run "speechmatics-node$suffix" "$url" "$credential" node tests/clients/speechmatics_node.mjs
    run "speechmatics-python$suffix" "$url" "$credential" "$PYTHON" tests/clients/speechmatics_python.py
}

case ${1:-} in
--simulate)
    [ $# -eq 1 ] || usage
    start_simulator simulator
    echo "simulator (no key) on $SIM_ADDR"
    run_both "ws://$SIM_ADDR/v2" "simulated-temporary-key"
    key="sm-test-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    start_simulator keyed-simulator "$key"
    echo "simulator (key required) on $SIM_ADDR"
    run speechmatics-python-keyed "ws://$SIM_ADDR/some/prefix/v2" "$key" "$PYTHON" tests/clients/speechmatics_python.py
    ;;
--relay)
    [ $# -eq 1 ] || usage
    # shellcheck source=scripts/clients/relay-harness.sh
    source scripts/clients/relay-harness.sh
    trap 'harness_stop; cleanup' EXIT
    harness_start speechmatics || { harness_dump; exit 1; }
    host=${RELAY_URL#http://} tls_host=${RELAY_TLS_URL#https://}
    run_both "ws://$host/v2" "$RELAY_KEY"
    NODE_EXTRA_CA_CERTS=$RELAY_CA SSL_CERT_FILE=$RELAY_CA run_both "wss://$tls_host/v2" "$RELAY_KEY" -tls
    harness_check_upstream authorization 'Bearer {key}' || failed=1
    sent=$(sed -n 's/.*"sent_audio_bytes": *\([0-9]*\).*/\1/p' "$WORK/speechmatics-python.out" | tail -n 1)
    [ -n "$sent" ] || { echo "the Python client reported no sent_audio_bytes" >&2; failed=1; sent=0; }
    harness_check_usage audio_seconds "$(awk "BEGIN{print $sent/32000}")" speechmatics || failed=1
    [ "$failed" = 0 ] || harness_dump
    ;;
"" | -h | --help) usage ;;
*)
    [ $# -le 2 ] || usage
    run_both "$1" "${2:-${SPEECHMATICS_CREDENTIAL:-}}"
    ;;
esac
exit "$failed"
