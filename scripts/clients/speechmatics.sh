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
# shellcheck source=scripts/clients/lib.sh
source scripts/clients/lib.sh
clients_init speechmatics

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ -d tests/clients/node_modules/@speechmatics/real-time-client ] \
    || { echo "tests/clients/node_modules is missing: cd tests/clients && npm ci" >&2; exit 1; }
[ -x "$PYTHON" ] || { echo "$PYTHON is missing: scripts/setup-test-deps.sh" >&2; exit 1; }

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
    start_simulator "$WORK/simulator.log"
    echo "simulator (no key) on $SIM_ADDR"
    run_both "ws://$SIM_ADDR/v2" "simulated-temporary-key"
    key="sm-test-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    start_simulator "$WORK/keyed-simulator.log" "$key"
    echo "simulator (key required) on $SIM_ADDR"
    run speechmatics-python-keyed "ws://$SIM_ADDR/some/prefix/v2" "$key" "$PYTHON" tests/clients/speechmatics_python.py
    ;;
--relay)
    [ $# -eq 1 ] || usage
    # shellcheck source=scripts/clients/relay-harness.sh
    source scripts/clients/relay-harness.sh
    harness_start speechmatics || exit 1
    host=${RELAY_URL#http://} tls_host=${RELAY_TLS_URL#https://}
    run_both "ws://$host/v2" "$RELAY_KEY"
    NODE_EXTRA_CA_CERTS=$RELAY_CA SSL_CERT_FILE=$RELAY_CA run_both "wss://$tls_host/v2" "$RELAY_KEY" -tls
    harness_check_upstream authorization 'Bearer {key}' || failed=1
    sent=$(sed -n 's/.*"sent_audio_bytes": *\([0-9]*\).*/\1/p' "$WORK/speechmatics-python.out" | tail -n 1)
    [ -n "$sent" ] || { echo "the Python client reported no sent_audio_bytes" >&2; failed=1; sent=0; }
    harness_check_usage audio_seconds "$(awk "BEGIN{print $sent/32000}")" speechmatics || failed=1
    ;;
"" | -h | --help) usage ;;
*)
    [ $# -le 2 ] || usage
    run_both "$1" "${2:-${SPEECHMATICS_CREDENTIAL:-}}"
    ;;
esac
exit "$failed"
