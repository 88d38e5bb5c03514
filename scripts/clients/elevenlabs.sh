#!/usr/bin/env bash
# The official ElevenLabs SDK clients against an ElevenLabs-compatible endpoint (a voxrelay route,
# or voxrelay's simulator), each taking its target from ELEVENLABS_BASE_URL / ELEVENLABS_CREDENTIAL:
#   python-scribe   elevenlabs (Python) speech_to_text.realtime      tests/clients/elevenlabs_python_scribe.py
#   python-tts      elevenlabs (Python) text_to_speech.convert_realtime, wss:// only
#                                                                    tests/clients/elevenlabs_python_tts.py
#   node-scribe     @elevenlabs/elevenlabs-js speechToText.realtime  tests/clients/elevenlabs_node_scribe.mjs
#   browser-scribe  @elevenlabs/client Scribe.connect in headless Chromium (bundled with esbuild)
#                                                                    tests/clients/elevenlabs_browser_scribe.mjs
# Each prints one JSON line {"client","sent_audio_bytes","sent_chars","received_audio_bytes",
# "transcript",…}; this script collects them into $ELEVENLABS_SUMMARY (if set) and prints them.
#
#   scripts/clients/elevenlabs.sh --simulate [CLIENT...]
#       starts `target/debug/voxrelay simulate --listen 127.0.0.1:0` (no key; built if missing),
#       runs the clients against it with ELEVENLABS_SIMULATED=1 (exact transcripts and audio
#       lengths), python-tts through a throwaway TLS front (support/upstream_tap.mjs --tls and
#       scripts/make-test-cert.sh, trusted with SSL_CERT_FILE)
#   scripts/clients/elevenlabs.sh --relay [CLIENT...]
#       the clients through voxrelay by base URL only (scripts/clients/relay-harness.sh): a
#       `voxrelay simulate` requiring a generated key, behind the recording pass-through
#       (support/upstream_tap.mjs), behind voxrelay in local mode (its `elevenlabs` upstream),
#       plain and TLS; python-tts over wss:// to the TLS relay, the others over ws://, each with
#       voxrelay's demo key. Then checks that every upstream handshake carried `xi-api-key: <the
#       upstream key>` and never the client's credential, and that voxrelay's usage records hold
#       each client's audio seconds (Scribe, pcm_16000) or characters and audio seconds (TTS)
#       within 1 %.
#   scripts/clients/elevenlabs.sh BASE_URL CREDENTIAL [CLIENT...]
#       (or ELEVENLABS_BASE_URL / ELEVENLABS_CREDENTIAL in the environment) against that endpoint;
#       python-tts is skipped with a message unless BASE_URL is https://. Pass SSL_CERT_FILE (Python)
#       and NODE_EXTRA_CA_CERTS (Node) for a private CA, ELEVENLABS_SIMULATED=1 when the endpoint's
#       upstream is the simulator.
# Exits non-zero if any client fails. Every step is time-bounded; what it starts is stopped by pid.
set -euo pipefail
cd "$(dirname "$0")/../.."
ALL=(python-scribe python-tts node-scribe browser-scribe)
SIMULATE=0
RELAY=0
if [ "${1:-}" = --simulate ]; then
    SIMULATE=1
    shift
elif [ "${1:-}" = --relay ]; then
    RELAY=1
    shift
elif [ $# -ge 2 ] && [[ $1 == http://* || $1 == https://* ]]; then
    ELEVENLABS_BASE_URL=$1 ELEVENLABS_CREDENTIAL=$2
    shift 2
fi
CLIENTS=("$@")
[ ${#CLIENTS[@]} -gt 0 ] || CLIENTS=("${ALL[@]}")
for c in "${CLIENTS[@]}"; do
    case $c in python-scribe | python-tts | node-scribe | browser-scribe) ;;
        *) echo "unknown client: $c (one of ${ALL[*]})" >&2; exit 64 ;;
    esac
done
wants() { local c; for c in "${CLIENTS[@]}"; do [ "$c" = "$1" ] && return 0; done; return 1; }

# shellcheck source=scripts/clients/lib.sh
source scripts/clients/lib.sh
clients_init elevenlabs

TLS_BASE_URL=
if [ "$SIMULATE" = 1 ]; then
    clients_build
    start_simulator "$WORK/simulator.log"
    ELEVENLABS_BASE_URL=http://$SIM_ADDR
    ELEVENLABS_CREDENTIAL=voxrelay-simulated-key-$$
    export ELEVENLABS_SIMULATED=1
    say "simulator (pid $SIM_PID) on $SIM_ADDR"
    if wants python-tts; then
        scripts/make-test-cert.sh "$WORK/tls"
        start_tap "$WORK/tls-front.log" "$SIM_ADDR" --tls "$WORK/tls"
        TLS_BASE_URL=https://$TAP_ADDR
        say "TLS front (pid $TAP_PID) on $TLS_BASE_URL for python-tts"
    fi
fi
if [ "$RELAY" = 1 ]; then
    clients_build
    # shellcheck source=scripts/clients/relay-harness.sh
    source scripts/clients/relay-harness.sh
    harness_start elevenlabs
    ELEVENLABS_BASE_URL=$RELAY_URL
    ELEVENLABS_CREDENTIAL=$RELAY_KEY
    TLS_BASE_URL=$RELAY_TLS_URL
    TLS_CA=$RELAY_CA
    export ELEVENLABS_SIMULATED=1
    say "voxrelay on $RELAY_URL and $RELAY_TLS_URL, its elevenlabs upstream a keyed simulator behind a recording pass-through"
fi
: "${ELEVENLABS_BASE_URL:?give BASE_URL CREDENTIAL, --simulate, or set ELEVENLABS_BASE_URL}"
: "${ELEVENLABS_CREDENTIAL:?give BASE_URL CREDENTIAL, --simulate, or set ELEVENLABS_CREDENTIAL}"
export ELEVENLABS_BASE_URL ELEVENLABS_CREDENTIAL
PYTHON=${PYTHON:-.venv-clients/bin/python}
[ -x "$PYTHON" ] || { echo "$PYTHON is missing: run scripts/setup-test-deps.sh" >&2; exit 1; }
[ -d tests/clients/node_modules/@elevenlabs ] || { echo "run: (cd tests/clients && npm ci)" >&2; exit 1; }

failed=0
declare -A RESULT
# run NAME SECONDS CMD...: output in $WORK/NAME.log, its JSON line in $WORK/NAME.json
run() {
    local name=$1 limit=$2 t=$SECONDS rc=0
    shift 2
    say "$name"
    timeout --kill-after=10 "$limit" "$@" >"$WORK/$name.log" 2>&1 || rc=$?
    grep '^{' "$WORK/$name.log" | tail -n 1 >"$WORK/$name.json" || true
    if [ "$rc" = 0 ]; then
        RESULT[$name]="ok ($((SECONDS - t)) s)"
    else
        RESULT[$name]="FAILED (exit $rc, $((SECONDS - t)) s)"
        failed=1
        echo "--- $name: last 40 lines ---" >&2
        tail -n 40 "$WORK/$name.log" >&2
    fi
}
wants python-scribe && run python-scribe 90 "$PYTHON" tests/clients/elevenlabs_python_scribe.py
if wants python-tts; then
    if [ -n "$TLS_BASE_URL" ]; then
        run python-tts 90 env ELEVENLABS_BASE_URL="$TLS_BASE_URL" SSL_CERT_FILE="${TLS_CA:-$WORK/tls/ca.pem}" \
            "$PYTHON" tests/clients/elevenlabs_python_tts.py
    else
        run python-tts 90 "$PYTHON" tests/clients/elevenlabs_python_tts.py
    fi
fi
wants node-scribe && run node-scribe 90 node tests/clients/elevenlabs_node_scribe.mjs
wants browser-scribe && run browser-scribe 180 node tests/clients/elevenlabs_browser_scribe.mjs

echo
for c in "${CLIENTS[@]}"; do
    printf '%-16s %-18s %s\n' "$c" "${RESULT[$c]}" "$(cat "$WORK/$c.json" 2>/dev/null || true)"
    if [ -n "${ELEVENLABS_SUMMARY:-}" ] && [ -s "$WORK/$c.json" ]; then cat "$WORK/$c.json" >>"$ELEVENLABS_SUMMARY"; fi
done

# --relay: what the upstream saw, and what voxrelay metered against what each client reports
if [ "$RELAY" = 1 ]; then
    check() { # NAME CMD...: a failed check fails the run
        local name=$1 out
        shift
        if out=$("$@" 2>&1); then echo "check $name: $out"; else echo "check $name FAILED: $out" >&2; failed=1; fi
    }
    check upstream harness_check_upstream xi-api-key '{key}'
    field() { node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(r[process.argv[2]] ?? "")' "$WORK/$1.json" "$2" 2>/dev/null || true; }
    # one usage record per client session (so no two clients' checks can match one record)
    records=$(cat "${RELAY_LOGS[@]}" | grep -c '"session usage"' || true)
    if [ "$records" = "${#CLIENTS[@]}" ]; then echo "check records: $records usage records"; else
        echo "check records FAILED: $records usage records for ${#CLIENTS[@]} clients" >&2
        failed=1
    fi
    for c in "${CLIENTS[@]}"; do
        [ -s "$WORK/$c.json" ] || { echo "check $c FAILED: no summary" >&2; failed=1; continue; }
        case $c in
            python-tts)
                chars=$(field "$c" sent_chars) received=$(field "$c" received_audio_bytes)
                check "$c" harness_check_usage tts_characters "$chars" elevenlabs-tts
                # pcm_16000: 32,000 bytes a second
                check "$c" harness_check_usage tts_audio_seconds "$(node -p "$received / 32000")" elevenlabs-tts ;;
            *)
                sent=$(field "$c" sent_audio_bytes)
                check "$c" harness_check_usage audio_seconds "$(node -p "$sent / 32000")" elevenlabs-stt ;;
        esac
    done
fi
say "done in $((SECONDS - started)) s"
exit "$failed"
