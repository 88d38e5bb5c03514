#!/usr/bin/env bash
# The official Cartesia SDK clients (tests/clients/cartesia_*.{mjs,py}) against a Cartesia-compatible
# base URL: @cartesia/cartesia-js in Node (cartesia-node), its browser build in headless Chromium
# (cartesia-browser) and the `cartesia` Python SDK (cartesia-python). Each prints one JSON summary
# line; this prints them and exits non-zero if any client fails. Every step is time-bounded.
#
#   scripts/clients/cartesia.sh simulate [CLIENT...]
#       starts `voxrelay simulate --listen 127.0.0.1:0` (no key; VOXRELAY_BIN or target/debug/voxrelay,
#       built if missing), reads its address from its "simulator listening" line and runs the clients
#       over ws:// (STT; Python again with its websocket_base_url for TTS). If openssl is present it
#       also puts a TLS front (tests/clients/support/upstream_tap.mjs --tls, scripts/make-test-cert.sh) before
#       the simulator and runs Node and Python again over https/wss, so the TTS halves run too.
#   scripts/clients/cartesia.sh target BASE_URL [CREDENTIAL] [CLIENT...]
#       runs the clients against BASE_URL (http:// or https://, e.g. a voxrelay route), presenting
#       CREDENTIAL (default: a placeholder) as apiKey (Node, Python) and token (browser). Optional env:
#       CARTESIA_CA_FILE (CA the Node and Python clients trust for https/wss), CARTESIA_TLS_BASE_URL and
#       CARTESIA_CERT_FILE (an https:// URL and its server certificate, for the TTS halves when BASE_URL
#       is http://), CARTESIA_WEBSOCKET_BASE_URL (Python only), CARTESIA_EXPECT_TRANSCRIPT.
#   scripts/clients/cartesia.sh relay [CLIENT...]
#       the clients through voxrelay in local mode (scripts/clients/relay-harness.sh: the simulator
#       requiring a generated upstream key behind a recording pass-through; voxrelay plain and with
#       TLS), by base URL only, with the demo key: Node STT over ws:// (http:// base) and again with
#       TTS over wss:// (https:// base, NODE_EXTRA_CA_CERTS), Python over http://, websocket_base_url
#       ws:// and https://, the browser build in Chromium with its token in the query (TTS over wss://,
#       the relay's certificate trusted by SPKI). Then checks that every upstream handshake carried
#       `Authorization: Bearer <upstream key>` and no client credential, and that usage records show
#       the TTS characters, TTS audio and STT audio sent and received.
#
# CLIENT: cartesia-node, cartesia-python, cartesia-browser (default: all three).
set -euo pipefail
cd "$(dirname "$0")/../.."
MODE=${1:-}
shift || true
# the other provider scripts spell their modes with dashes: accept both
MODE=${MODE#--}
case $MODE in
    simulate | relay) ;;
    target)
        BASE_URL=${1:?usage: cartesia.sh target BASE_URL [CREDENTIAL] [CLIENT...]}
        shift
        CREDENTIAL=
        if [ $# -gt 0 ] && [[ $1 != cartesia-* ]]; then CREDENTIAL=$1; shift; fi
        ;;
    *) echo "usage: cartesia.sh simulate|relay [CLIENT...] | cartesia.sh target BASE_URL [CREDENTIAL] [CLIENT...]" >&2; exit 64 ;;
esac
CLIENTS=("$@")
[ ${#CLIENTS[@]} -gt 0 ] || CLIENTS=(cartesia-node cartesia-python cartesia-browser)
for c in "${CLIENTS[@]}"; do
    case $c in cartesia-node | cartesia-python | cartesia-browser) ;; *) echo "unknown client: $c" >&2; exit 64 ;; esac
done

# shellcheck source=scripts/clients/lib.sh
source scripts/clients/lib.sh
clients_init cartesia

ENV=()
if [ "$MODE" = relay ]; then
    clients_build
    # shellcheck source=scripts/clients/relay-harness.sh
    source scripts/clients/relay-harness.sh
    harness_start cartesia
    say "voxrelay on $RELAY_URL and $RELAY_TLS_URL, the keyed simulator behind a recording pass-through"
    BASE_URL=$RELAY_URL
    CREDENTIAL=$RELAY_KEY
    ENV+=(CARTESIA_TLS_BASE_URL="$RELAY_TLS_URL" CARTESIA_CERT_FILE="$HARNESS_WORK/tls/cert.pem"
        CARTESIA_CA_FILE="$RELAY_CA")
    SIM_ADDR=${RELAY_URL#http://}
fi
if [ "$MODE" = simulate ]; then
    clients_build
    start_simulator "$WORK/simulator.log"
    say "simulator (pid $SIM_PID) on $SIM_ADDR"
    BASE_URL=http://$SIM_ADDR
    CREDENTIAL=
    if command -v openssl >/dev/null; then
        scripts/make-test-cert.sh "$WORK/tls"
        start_tap "$WORK/tls-forward.log" "$SIM_ADDR" --tls "$WORK/tls"
        say "TLS front (pid $TAP_PID) on https://$TAP_ADDR"
        ENV+=(CARTESIA_TLS_BASE_URL="https://$TAP_ADDR" CARTESIA_CERT_FILE="$WORK/tls/cert.pem"
            CARTESIA_CA_FILE="$WORK/tls/ca.pem")
    else
        say "no openssl: the wss://-only TTS halves of cartesia-js are skipped"
    fi
fi
ENV+=(CARTESIA_BASE_URL="$BASE_URL" CARTESIA_CREDENTIAL="$CREDENTIAL")

failed=0
# run NAME SECONDS CMD...: output to $WORK/NAME.log; its summary line, or its tail on failure
run() {
    local name=$1 limit=$2 t=$SECONDS rc=0
    shift 2
    timeout --kill-after=10 "$limit" env "${ENV[@]}" "$@" >"$WORK/$name.log" 2>&1 || rc=$?
    local line
    line=$(grep '^{' "$WORK/$name.log" | tail -n 1) || true
    if [ "$rc" = 0 ]; then
        say "$name ok ($((SECONDS - t)) s): $line"
        grep -v '^{' "$WORK/$name.log" | grep -i 'skipped' | sed 's/^/    /' || true
    else
        failed=1
        say "$name FAILED (exit $rc, $((SECONDS - t)) s): ${line:-no summary}"
        tail -n 40 "$WORK/$name.log" >&2
    fi
}
ca_env() { # the CA, each client's own way
    local var=$1
    if [ -n "${CARTESIA_CA_FILE:-}" ]; then echo "$var=$CARTESIA_CA_FILE"; fi
    for e in "${ENV[@]}"; do case $e in CARTESIA_CA_FILE=*) echo "$var=${e#CARTESIA_CA_FILE=}" ;; esac; done
}
tls_base() { for e in "${ENV[@]}"; do case $e in CARTESIA_TLS_BASE_URL=*) echo "${e#CARTESIA_TLS_BASE_URL=}" ;; esac; done; }

for c in "${CLIENTS[@]}"; do
    case $c in
        cartesia-node)
            mapfile -t ca < <(ca_env NODE_EXTRA_CA_CERTS)
            run cartesia-node 90 "${ca[@]}" node tests/clients/cartesia_node.mjs
            tls=$(tls_base)
            if [ "$MODE" != target ] && [ -n "$tls" ]; then # the TTS half, over the TLS front
                run cartesia-node-tls 90 "${ca[@]}" CARTESIA_BASE_URL="$tls" node tests/clients/cartesia_node.mjs
            fi
            ;;
        cartesia-python)
            [ -x .venv-clients/bin/python ] || timeout 1200 scripts/setup-test-deps.sh
            mapfile -t ca < <(ca_env SSL_CERT_FILE)
            run cartesia-python 120 "${ca[@]}" .venv-clients/bin/python tests/clients/cartesia_python.py
            if [ "$MODE" != target ]; then # TTS through the SDK's websocket_base_url (ws://), and over TLS
                run cartesia-python-wsbase 120 CARTESIA_WEBSOCKET_BASE_URL="ws://$SIM_ADDR" \
                    .venv-clients/bin/python tests/clients/cartesia_python.py
                tls=$(tls_base)
                if [ -n "$tls" ]; then
                    run cartesia-python-tls 120 "${ca[@]}" CARTESIA_BASE_URL="$tls" \
                        .venv-clients/bin/python tests/clients/cartesia_python.py
                fi
            fi
            ;;
        cartesia-browser)
            run cartesia-browser 180 CARTESIA_CREDENTIAL_KIND=token node tests/clients/cartesia_browser.mjs
            ;;
    esac
done
if [ "$MODE" = relay ] && [ "$failed" = 0 ]; then
    # what the clients sent and the simulator answers (50 ms of audio per character)
    chars=$(node -e 'import("./tests/clients/support/cartesia.mjs").then((c) => console.log(c.TTS_TEXT.length))')
    check() { # NAME CMD...
        local name=$1 out
        shift
        if out=$("$@" 2>&1); then say "$name ok: $out"; else failed=1; say "$name FAILED: $out"; fi
    }
    check "upstream credential" harness_check_upstream authorization 'Bearer {key}'
    check "usage tts_characters" harness_check_usage tts_characters "$chars" cartesia-tts
    check "usage tts_audio_seconds" harness_check_usage tts_audio_seconds "$(awk "BEGIN { print $chars * 0.05 }")" cartesia-tts
    check "usage audio_seconds" harness_check_usage audio_seconds 3 cartesia-stt
fi
say "done in $((SECONDS - started)) s"
exit "$failed"
