#!/usr/bin/env bash
# The official AssemblyAI SDK clients (Universal Streaming v3) against an AssemblyAI-shaped endpoint:
#   python   assemblyai (PyPI) StreamingClient            tests/clients/assemblyai_python.py
#   node     assemblyai (npm) client.streaming.transcriber tests/clients/assemblyai_node.mjs    (wss:// only)
#   browser  assemblyai/streaming browser build, Chromium  tests/clients/assemblyai_browser.mjs (wss:// only)
# Each prints one JSON summary line and exits non-zero on a failed assertion; this script exits non-zero
# if any client fails. Every step is time-bounded; everything started is stopped by pid.
#
#   scripts/clients/assemblyai.sh [CLIENT…]
#       against ASSEMBLYAI_BASE_URL (ws://, wss://, http:// or https://HOST:PORT[/prefix], without /v3/ws)
#       with ASSEMBLYAI_CREDENTIAL (API key for python/node, temporary token for browser) and, for wss://,
#       ASSEMBLYAI_CA_FILE (the test CA: NODE_EXTRA_CA_CERTS for node, an SPKI pin for Chromium,
#       SSL_CERT_FILE for python). Node and browser skip (exit 0) on a non-TLS URL.
#   scripts/clients/assemblyai.sh --simulate [CLIENT…]
#       starts `target/debug/voxrelay simulate --listen 127.0.0.1:0` (no key), runs python against it over
#       ws://, and node and browser over wss:// through a TLS pass-through (tests/clients/support/tls_front.mjs)
#       with a throwaway CA (scripts/make-test-cert.sh); then checks the simulator logged every session as
#       ended by the client's Terminate.
# CLIENT defaults to: python node browser.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIMULATE=0
if [ "${1:-}" = --simulate ]; then SIMULATE=1; shift; fi
CLIENTS=("$@")
[ ${#CLIENTS[@]} -gt 0 ] || CLIENTS=(python node browser)
for c in "${CLIENTS[@]}"; do
    case $c in python | node | browser) ;; *) echo "unknown client: $c" >&2; exit 64 ;; esac
done
PYTHON=${PYTHON:-.venv-clients/bin/python}
[ -x "$PYTHON" ] || { echo "$PYTHON is missing: run scripts/setup-test-deps.sh" >&2; exit 1; }
[ -d tests/clients/node_modules/assemblyai ] || (cd tests/clients && timeout 600 npm ci --no-audit --no-fund)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/voxrelay-assemblyai.XXXXXX")
SIM_PID= FRONT_PID=
stop() {
    local pid=$1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local rc=$?
    stop "$FRONT_PID"
    stop "$SIM_PID"
    if [ "$rc" != 0 ] && [ -s "$WORK/simulator.log" ]; then
        echo "--- simulator log (last 20 lines) ---" >&2
        tail -n 20 "$WORK/simulator.log" >&2
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT

# wait_line NAME PID FILE SED: the first line of FILE that SED (sed -n script) turns into a value, while
# PID lives (≤ 20 s); sets LINE_VALUE
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

PY_URL=${ASSEMBLYAI_BASE_URL:-}
TLS_URL=${ASSEMBLYAI_BASE_URL:-}
CA=${ASSEMBLYAI_CA_FILE:-}
if [ "$SIMULATE" = 1 ]; then
    BIN=target/debug/voxrelay
    [ -x "$BIN" ] || timeout 1200 cargo build --quiet
    NO_COLOR=1 "$BIN" simulate --listen 127.0.0.1:0 >"$WORK/simulator.log" 2>&1 &
    SIM_PID=$!
    wait_line simulator "$SIM_PID" "$WORK/simulator.log" \
        's/.*simulator listening.*addr[^0-9]*\([0-9.]*:[0-9]*\).*/\1/p'
    SIM_ADDR=$LINE_VALUE
    PY_URL=ws://$SIM_ADDR/assemblyai
    scripts/make-test-cert.sh "$WORK/tls"
    CA=$WORK/tls/ca.pem
    node tests/clients/support/tls_front.mjs "$SIM_ADDR" "$WORK/tls" "$WORK/handshakes.jsonl" \
        >"$WORK/tls-front.log" 2>&1 &
    FRONT_PID=$!
    wait_line tls-front "$FRONT_PID" "$WORK/tls-front.log" 's/^{"tls_front":"[0-9.]*:\([0-9]*\)"}$/\1/p'
    TLS_URL=wss://localhost:$LINE_VALUE/assemblyai
    echo "simulator (pid $SIM_PID) on $SIM_ADDR; TLS pass-through (pid $FRONT_PID) at $TLS_URL"
fi
[ -n "$PY_URL" ] || { echo "ASSEMBLYAI_BASE_URL is unset (or use --simulate)" >&2; exit 64; }

failed=()
for c in "${CLIENTS[@]}"; do
    case $c in
        python) cmd=(env ASSEMBLYAI_BASE_URL="$PY_URL" ${CA:+ASSEMBLYAI_CA_FILE="$CA"} timeout 60 "$PYTHON"
            tests/clients/assemblyai_python.py) ;;
        node) cmd=(env ASSEMBLYAI_BASE_URL="$TLS_URL" ${CA:+ASSEMBLYAI_CA_FILE="$CA" NODE_EXTRA_CA_CERTS="$CA"}
            timeout 60 node tests/clients/assemblyai_node.mjs) ;;
        browser) cmd=(env ASSEMBLYAI_BASE_URL="$TLS_URL" ${CA:+ASSEMBLYAI_CA_FILE="$CA"}
            timeout 120 node tests/clients/assemblyai_browser.mjs) ;;
    esac
    if "${cmd[@]}"; then echo "assemblyai $c: ok"; else echo "assemblyai $c: FAILED" >&2; failed+=("$c"); fi
done

if [ "$SIMULATE" = 1 ]; then
    # Every session the clients opened must have ended with the client's Terminate.
    began=$(grep -c 'assemblyai session began' "$WORK/simulator.log" || true)
    terminated=$(grep -c 'ended_by="terminate"' "$WORK/simulator.log" || true)
    echo "simulator: $began sessions began, $terminated ended by Terminate"
    if [ "$began" = 0 ] || [ "$began" != "$terminated" ]; then
        echo "not every session ended by Terminate" >&2
        failed+=(terminate-check)
    fi
    if [ -s "$WORK/handshakes.jsonl" ]; then
        echo "handshakes seen by the TLS pass-through (credentials masked):"
        sed -E 's/(token=)[^&" ]*/\1<token>/; s/(\["authorization",")[^"]*/\1<key>/' "$WORK/handshakes.jsonl"
    fi
fi
[ ${#failed[@]} = 0 ] || { echo "failed: ${failed[*]}" >&2; exit 1; }
echo "all AssemblyAI clients passed"
