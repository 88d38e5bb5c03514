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
#       ws://, and node and browser over wss:// through a TLS pass-through (tests/clients/support/upstream_tap.mjs)
#       with a throwaway CA (scripts/make-test-cert.sh); then checks the simulator logged every session as
#       ended by the client's Terminate.
#   scripts/clients/assemblyai.sh --relay [CLIENT…]
#       through voxrelay in local mode (scripts/clients/relay-harness.sh: its `assemblyai` upstream is a
#       keyed simulator behind a recording pass-through), each SDK changing only its base URL: python
#       over ws:// (api_host = the relay, the client key as its raw Authorization), node over wss:// to
#       the TLS relay (NODE_EXTRA_CA_CERTS, the key as Authorization) and browser in Chromium over wss://
#       (the relay's CA pinned by SPKI, the key as ?token=); then checks that the upstream saw only its own
#       key (`Authorization: <key>`), that each session's usage record has the audio sent (3 s, from
#       AssemblyAI's Termination) and that the simulator saw every session end by Terminate.
# CLIENT defaults to: python node browser.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIMULATE=0 RELAY=0
if [ "${1:-}" = --simulate ]; then SIMULATE=1; shift; fi
if [ "${1:-}" = --relay ]; then RELAY=1; shift; fi
CLIENTS=("$@")
[ ${#CLIENTS[@]} -gt 0 ] || CLIENTS=(python node browser)
for c in "${CLIENTS[@]}"; do
    case $c in python | node | browser) ;; *) echo "unknown client: $c" >&2; exit 64 ;; esac
done
PYTHON=${PYTHON:-.venv-clients/bin/python}
[ -x "$PYTHON" ] || { echo "$PYTHON is missing: run scripts/setup-test-deps.sh" >&2; exit 1; }
[ -d tests/clients/node_modules/assemblyai ] || (cd tests/clients && timeout 600 npm ci --no-audit --no-fund)

# shellcheck source=scripts/clients/lib.sh
source scripts/clients/lib.sh
clients_init assemblyai

PY_URL=${ASSEMBLYAI_BASE_URL:-}
TLS_URL=${ASSEMBLYAI_BASE_URL:-}
CA=${ASSEMBLYAI_CA_FILE:-}
if [ "$SIMULATE" = 1 ]; then
    BIN=target/debug/voxrelay
    [ -x "$BIN" ] || timeout 1200 cargo build --quiet
    start_simulator "$WORK/simulator.log"
    PY_URL=ws://$SIM_ADDR/assemblyai
    scripts/make-test-cert.sh "$WORK/tls"
    CA=$WORK/tls/ca.pem
    start_tap "$WORK/tls-front.log" "$SIM_ADDR" "$WORK/handshakes.jsonl" --tls "$WORK/tls"
    TLS_URL=wss://localhost:${TAP_ADDR##*:}/assemblyai
    echo "simulator (pid $SIM_PID) on $SIM_ADDR; TLS pass-through (pid $TAP_PID) at $TLS_URL"
fi
if [ "$RELAY" = 1 ]; then
    [ -x "${VOXRELAY_BIN:-target/debug/voxrelay}" ] || timeout 1200 cargo build --quiet
    # shellcheck source=scripts/clients/relay-harness.sh
    source scripts/clients/relay-harness.sh
    harness_start assemblyai
    PY_URL=$RELAY_URL
    TLS_URL=$RELAY_TLS_URL
    CA=$RELAY_CA
    export ASSEMBLYAI_CREDENTIAL=$RELAY_KEY
    echo "voxrelay at $RELAY_URL and $RELAY_TLS_URL; upstream: keyed simulator behind the recording pass-through"
fi
[ -n "$PY_URL" ] || { echo "ASSEMBLYAI_BASE_URL is unset (or use --simulate or --relay)" >&2; exit 64; }

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
if [ "$RELAY" = 1 ]; then
    harness_check_upstream authorization '{key}' || failed+=(upstream-check)
    # each client sends 3 s of 16 kHz PCM16 (96,000 bytes) and terminates
    harness_check_usage audio_seconds 3 assemblyai || failed+=(usage-check)
    # every assemblyai usage record, not just one, has the 3 s AssemblyAI reported
    records=$(node -e '
        const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l.includes("\"session usage\""));
        const recs = lines.map((l) => JSON.parse(l)).map((r) => ({ ...r, ...(r.fields ?? {}), ...(r.span ?? {}) }))
            .filter((r) => r.route === "assemblyai");
        const bad = recs.filter((r) => Math.abs(r.audio_seconds - 3) > 0.03 || !(r.session_seconds >= 2));
        if (bad.length) { console.error("records off:", JSON.stringify(bad.map((r) => [r.audio_seconds, r.session_seconds]))); process.exit(1); }
        console.log(recs.length);' < <(cat "${RELAY_LOGS[@]}")) || failed+=(records-check)
    began=$(grep -c 'assemblyai session began' "$HARNESS_WORK/simulator.log" || true)
    terminated=$(grep -c 'ended_by="terminate"' "$HARNESS_WORK/simulator.log" || true)
    echo "voxrelay: $records usage records; simulator: $began sessions began, $terminated ended by Terminate"
    if [ "$records" != "${#CLIENTS[@]}" ] || [ "$began" != "${#CLIENTS[@]}" ] || [ "$terminated" != "$began" ]; then
        echo "expected ${#CLIENTS[@]} sessions, each recorded and ended by Terminate" >&2
        failed+=(session-check)
    fi
fi
[ ${#failed[@]} = 0 ] || { echo "failed: ${failed[*]}" >&2; exit 1; }
echo "all AssemblyAI clients passed"
