#!/usr/bin/env bash
# Official Deepgram and OpenAI clients against voxrelay, each changing only its base URL / environment:
#   - @deepgram/sdk in Node            (tests/clients/deepgram_node.test.mjs)
#   - @deepgram/sdk browser build in headless Chromium via playwright-core
#                                      (tests/clients/deepgram_browser.test.mjs)
#   - deepgram-sdk (Python)            (tests/clients/deepgram_python.py)
#   - livekit-plugins-deepgram         (tests/clients/livekit_deepgram.py)
#   - @deepgram/sdk in Node and deepgram-sdk (Python) again over https:// and wss:// (node-tls,
#     python-tls), against a second voxrelay with [server.tls] and a throwaway CA
#     (scripts/make-test-cert.sh) that each client trusts its own way: NODE_EXTRA_CA_CERTS,
#     SSL_CERT_FILE
#   - openai (Node) over wss:// to the TLS voxrelay (NODE_EXTRA_CA_CERTS): OpenAIRealtimeWS and
#     OpenAIRealtimeWebSocket, a conversation turn and an intent=transcription session
#                                      (tests/clients/openai_node.test.mjs; openai-node)
#   - openai (Python) client.realtime.connect() over wss:// (SSL_CERT_FILE)
#                                      (tests/clients/openai_python.py; openai-python)
#   - a raw browser-form Realtime session in headless Chromium, subprotocols `realtime,
#     openai-insecure-api-key.<key>`  (tests/clients/openai_browser.test.mjs; openai-browser)
# against ONE voxrelay in local mode (config/local.toml: the built-in simulator is the upstream, no
# credentials), on ephemeral loopback ports. For the OpenAI clients the `openai` upstream instead
# goes to a separate `voxrelay simulate` that requires a generated upstream key, through a
# pass-through that records each upstream handshake (tests/clients/support/upstream_tap.mjs), so
# the tests can show the clients never see that key and the upstream never sees a client's
# credential. The Node test also mints an ek_ secret with the SDK's own call
# (POST /v1/realtime/client_secrets) and holds a session with it. Installs what is missing first: Debian's
# chromium (apt), the npm packages (npm ci in tests/clients) and the Python virtualenv
# .venv-clients (scripts/setup-test-deps.sh). Prints one line per client with what arrived; exits
# non-zero if any client fails. Every step is time-bounded; everything started is stopped by pid.
#
#   scripts/test-clients.sh            # all nine
#   scripts/test-clients.sh node browser python livekit node-tls python-tls \
#       openai-node openai-python openai-browser                            # a subset, in this order
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/clients/lib.sh
source scripts/clients/lib.sh
KEY=voxrelay-demo-key
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
CLIENTS=("$@")
[ ${#CLIENTS[@]} -gt 0 ] \
    || CLIENTS=(node browser python livekit node-tls python-tls openai-node openai-python openai-browser)
for c in "${CLIENTS[@]}"; do
    case $c in node | browser | python | livekit | node-tls | python-tls | openai-node | openai-python | openai-browser) ;;
        *) echo "unknown client: $c" >&2; exit 64 ;;
    esac
done
wants() { local c; for c in "${CLIENTS[@]}"; do [ "$c" = "$1" ] && return 0; done; return 1; }
wants_openai() { wants openai-node || wants openai-python || wants openai-browser; }
wants_tls() { wants node-tls || wants python-tls || wants openai-node || wants openai-python; }

started=$SECONDS
say() { printf '[test-clients %3ss] %s\n' "$((SECONDS - started))" "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/voxrelay-clients.XXXXXX")
RELAY_PID=
TLS_RELAY_PID=
SIM_PID=
TAP_PID=
# stop_relay PID: SIGTERM (drain), SIGKILL after 10 s
stop_relay() { stop_pid "$1" 100; }
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local rc=$?
    stop_relay "$RELAY_PID"
    stop_relay "$TLS_RELAY_PID"
    stop_relay "$TAP_PID"
    stop_relay "$SIM_PID"
    local log
    for log in voxrelay voxrelay-tls openai-simulator upstream-tap; do
        if [ "$rc" != 0 ] && [ -s "$WORK/$log.log" ]; then
            echo "--- $log log (last 20 lines) ---" >&2
            tail -n 20 "$WORK/$log.log" >&2
        fi
    done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# What is missing

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "node and npm (>= 20) are required for the JS client tests" >&2
    exit 1
fi

if { wants browser || wants openai-browser; } && [ ! -x "$CHROMIUM" ]; then
    say "installing chromium (apt)"
    t=$SECONDS
    as_root timeout 300 apt-get update -q >"$WORK/apt.log" 2>&1 || { cat "$WORK/apt.log" >&2; exit 1; }
    as_root env DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q chromium >>"$WORK/apt.log" 2>&1 \
        || { tail -n 30 "$WORK/apt.log" >&2; exit 1; }
    say "chromium installed in $((SECONDS - t)) s: $("$CHROMIUM" --version 2>/dev/null || true)"
fi

if wants_tls; then
    if ! command -v openssl >/dev/null; then
        say "installing openssl (apt, for the test certificate)"
        as_root timeout 300 apt-get update -q >"$WORK/apt.log" 2>&1 || { cat "$WORK/apt.log" >&2; exit 1; }
        as_root env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q openssl >>"$WORK/apt.log" 2>&1 \
            || { tail -n 30 "$WORK/apt.log" >&2; exit 1; }
    fi
fi

# npm ci when node_modules is missing or older than the lock file
if wants node || wants browser || wants node-tls || wants openai-node || wants openai-browser; then
    if [ ! -f tests/clients/node_modules/.package-lock.json ] \
        || [ tests/clients/package-lock.json -nt tests/clients/node_modules/.package-lock.json ]; then
        say "npm ci (tests/clients)"
        t=$SECONDS
        (cd tests/clients && timeout 600 npm ci --no-audit --no-fund --loglevel=error) \
            || { echo "npm ci failed" >&2; exit 1; }
        say "npm ci done in $((SECONDS - t)) s"
    fi
fi

# the virtualenv, (re)installed when requirements.txt changed since the last install here
if wants python || wants livekit || wants python-tls || wants openai-python; then
    stamp=.venv-clients/.voxrelay-requirements.sha256
    want=$(sha256sum tests/clients/requirements.txt | cut -d' ' -f1)
    if [ ! -x .venv-clients/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "scripts/setup-test-deps.sh (.venv-clients)"
        t=$SECONDS
        timeout 1200 scripts/setup-test-deps.sh
        echo "$want" >"$stamp"
        say "virtualenv ready in $((SECONDS - t)) s"
    fi
fi

# ---------------------------------------------------------------------------------------------
# voxrelay, local mode, ephemeral loopback ports

# VOXRELAY_BIN=path: test that binary instead of building target/debug/voxrelay
clients_build
# start_relay NAME [VAR=value...]: voxrelay in local mode with these extra env vars, log in
# $WORK/NAME.log; sets STARTED_PID, and STARTED_ADDR once it logs its (loopback) address
start_relay() {
    local name=$1
    shift
    env VOXRELAY_SERVER__LISTEN=127.0.0.1:0 VOXRELAY_SIMULATOR__LISTEN=127.0.0.1:0 VOXRELAY_LOG__FORMAT=json "$@" \
        "$BIN" serve --config config/local.toml >"$WORK/$name.log" 2>"$WORK/$name.err" &
    STARTED_PID=$!
    STARTED_ADDR=
    for _ in $(seq 200); do # ≤ 20 s
        STARTED_ADDR=$(grep -m1 '"message":"voxrelay listening"' "$WORK/$name.log" 2>/dev/null \
            | sed -n 's/.*"addr":"\([^"]*\)".*/\1/p') || true
        [ -n "$STARTED_ADDR" ] && break
        kill -0 "$STARTED_PID" 2>/dev/null || { cat "$WORK/$name.err" >&2; echo "$name exited" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$STARTED_ADDR" ] || { echo "$name did not report its address within 20 s" >&2; exit 1; }
    case $STARTED_ADDR in 127.0.0.1:*) ;; *) echo "$name is not on loopback: $STARTED_ADDR" >&2; exit 1 ;; esac
}
# The OpenAI clients' upstream: the simulator on its own, requiring a generated key, behind the
# recording pass-through; voxrelay's `openai` upstream points at the pass-through with that key.
OPENAI_ENV=()
if wants_openai; then
    UPSTREAM_KEY="sk-voxrelay-test-upstream-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    HANDSHAKES=$WORK/upstream-handshakes.jsonl
    start_simulator "$WORK/openai-simulator.log" "$UPSTREAM_KEY"
    start_tap "$WORK/upstream-tap.log" "$SIM_ADDR" "$HANDSHAKES"
    say "OpenAI Realtime simulator (pid $SIM_PID) on $SIM_ADDR, recorded through (pid $TAP_PID) $TAP_ADDR"
    OPENAI_ENV=(VOXRELAY_UPSTREAMS__OPENAI__BASE_URL="ws://$TAP_ADDR"
        VOXRELAY_UPSTREAMS__OPENAI__KEY_ENV=VOXRELAY_TEST_UPSTREAM_KEY VOXRELAY_TEST_UPSTREAM_KEY="$UPSTREAM_KEY")
fi
start_relay voxrelay "${OPENAI_ENV[@]}"
RELAY_PID=$STARTED_PID ADDR=$STARTED_ADDR
say "voxrelay (pid $RELAY_PID) on $ADDR"
# the same over TLS, for node-tls, python-tls, openai-node and openai-python
TLS_DIR=$WORK/tls
if wants_tls; then
    scripts/make-test-cert.sh "$TLS_DIR"
    start_relay voxrelay-tls VOXRELAY_SERVER__TLS__CERT_FILE="$TLS_DIR/cert.pem" \
        VOXRELAY_SERVER__TLS__KEY_FILE="$TLS_DIR/key.pem" "${OPENAI_ENV[@]}"
    TLS_RELAY_PID=$STARTED_PID TLS_ADDR=$STARTED_ADDR
    say "voxrelay with TLS (pid $TLS_RELAY_PID) on https://$TLS_ADDR"
fi

# ---------------------------------------------------------------------------------------------
# The clients

export VOXRELAY_ADDR=$ADDR VOXRELAY_KEY=$KEY VOXRELAY_SUMMARY_DIR=$WORK CHROMIUM
declare -A RESULT
failed=0

# run NAME SECONDS CMD... — output to $WORK/NAME.log; the tail of it on failure
run() {
    local name=$1 limit=$2 t=$SECONDS rc=0
    shift 2
    timeout --kill-after=10 "$limit" "$@" >"$WORK/$name.log" 2>&1 || rc=$?
    if [ "$rc" = 0 ]; then
        RESULT[$name]="ok ($((SECONDS - t)) s)"
    else
        local why="exit $rc"
        [ "$rc" != 124 ] || why="timed out after $limit s"
        RESULT[$name]="FAILED ($why, $((SECONDS - t)) s)"
        failed=1
        echo "--- $name: last 60 lines ---" >&2
        tail -n 60 "$WORK/$name.log" >&2
    fi
}

if wants node; then
    say "@deepgram/sdk in Node"
    run node 120 node --test tests/clients/deepgram_node.test.mjs
fi
if wants browser; then
    say "@deepgram/sdk browser build in Chromium"
    run browser 180 node --test tests/clients/deepgram_browser.test.mjs
fi
if wants python; then
    say "deepgram-sdk (Python)"
    run python 120 .venv-clients/bin/python tests/clients/deepgram_python.py --relay "$ADDR" --key "$KEY"
    grep '^{' "$WORK/python.log" | tail -n 1 >"$WORK/deepgram-python.json" || true
fi
if wants node-tls; then
    say "@deepgram/sdk in Node over wss:// (NODE_EXTRA_CA_CERTS)"
    run node-tls 120 env VOXRELAY_ADDR="$TLS_ADDR" VOXRELAY_TLS_DIR="$TLS_DIR" \
        NODE_EXTRA_CA_CERTS="$TLS_DIR/ca.pem" node --test tests/clients/deepgram_node.test.mjs
fi
if wants python-tls; then
    say "deepgram-sdk (Python) over wss:// (SSL_CERT_FILE)"
    run python-tls 120 env SSL_CERT_FILE="$TLS_DIR/ca.pem" \
        .venv-clients/bin/python tests/clients/deepgram_python.py --relay "$TLS_ADDR" --key "$KEY" --tls
    grep '^{' "$WORK/python-tls.log" | tail -n 1 >"$WORK/deepgram-python-tls.json" || true
fi
if wants livekit; then
    say "livekit-plugins-deepgram"
    run livekit 180 .venv-clients/bin/python tests/clients/livekit_deepgram.py --relay "$ADDR" --key "$KEY"
    grep '^{' "$WORK/livekit.log" | tail -n 1 >"$WORK/livekit-deepgram.json" || true
fi
if wants_openai; then
    export VOXRELAY_UPSTREAM_KEY=$UPSTREAM_KEY VOXRELAY_UPSTREAM_HANDSHAKES=$HANDSHAKES
fi
if wants openai-node; then
    say "openai (Node) over wss:// (NODE_EXTRA_CA_CERTS)"
    run openai-node 120 env VOXRELAY_ADDR="$TLS_ADDR" NODE_EXTRA_CA_CERTS="$TLS_DIR/ca.pem" \
        node --test tests/clients/openai_node.test.mjs
fi
if wants openai-python; then
    say "openai (Python) over wss:// (SSL_CERT_FILE)"
    run openai-python 120 env SSL_CERT_FILE="$TLS_DIR/ca.pem" \
        .venv-clients/bin/python tests/clients/openai_python.py --base-url "https://$TLS_ADDR/v1" --key "$KEY"
    grep '^{' "$WORK/openai-python.log" | tail -n 1 >"$WORK/openai-python.json" || true
fi
if wants openai-browser; then
    say "OpenAI Realtime browser form in Chromium"
    run openai-browser 180 node --test tests/clients/openai_browser.test.mjs
fi

relay_alive=1
kill -0 "$RELAY_PID" 2>/dev/null || { relay_alive=0; failed=1; }
if [ -n "$TLS_RELAY_PID" ]; then kill -0 "$TLS_RELAY_PID" 2>/dev/null || { relay_alive=0; failed=1; }; fi

# ---------------------------------------------------------------------------------------------
# One line per client

RESULTS_JSON=$(for k in "${!RESULT[@]}"; do printf '%s\t%s\n' "$k" "${RESULT[$k]}"; done)
export RESULTS_JSON
echo
node --input-type=module - "$WORK" "${CLIENTS[@]}" <<'EOF'
import { existsSync, readFileSync } from "node:fs";
const [dir, ...clients] = process.argv.slice(2);
const results = Object.fromEntries(
  process.env.RESULTS_JSON.split("\n").filter(Boolean).map((l) => l.split("\t")),
);
const load = (name) => {
  const path = `${dir}/${name}.json`;
  if (!existsSync(path)) return null;
  try { return JSON.parse(readFileSync(path, "utf8")); } catch { return null; }
};
const stt = (s) => s ? `STT ${s.interim}+${s.finals} Results "${s.text.join(" ")}"${s.metadata ? " +Metadata" : ""} close ${s.close_code}` : "STT -";
const tts = (s) => s ? `TTS ${s.audio_bytes} B audio${s.flushed ? " +Flushed" : ""} close ${s.close_code}` : "TTS -";
const flux = (s) => s ? `Flux ${s.turn_infos} TurnInfo [${s.events.join(",")}] close ${s.close_code}` : "Flux -";
const line = {
  node: (file = "deepgram-node") => {
    const r = load(file);
    if (!r) return "no summary";
    return [stt(r.stt), tts(r.tts), flux(r.flux),
      r.grant ? `grant ${r.grant.expires_in}s → bearer STT ${r.grant.stt_finals} finals` : "grant -",
      `wrong key → ${JSON.stringify(r.wrong_key)}`].join("; ");
  },
  browser: () => {
    const r = load("deepgram-browser");
    if (!r) return "no summary";
    // the subprotocols Chromium offered (UUIDs elided) → what voxrelay selected, per form
    const forms = {};
    for (const h of r.handshakes ?? []) {
      const offered = String(h.offered).replace(/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}/g, "<uuid>");
      const k = `"${offered}" → ${h.selected} (${h.status})`;
      forms[k] = (forms[k] ?? 0) + 1;
    }
    return [stt(r.stt), tts(r.tts), flux(r.flux),
      r.bearer_stt ? `bearer STT ${r.bearer_stt.finals} finals` : "bearer -",
      `socket.protocol ${r.stt?.protocol}/${r.bearer_stt?.protocol}`,
      `offered ${Object.entries(forms).map(([k, n]) => `${k} ×${n}`).join(", ")}`].join("; ");
  },
  python: (file = "deepgram-python") => {
    const r = load(file);
    if (!r) return "no summary";
    return `STT ${r.stt_final_transcripts} finals "${r.stt_text}"${r.stt_metadata ? " +Metadata" : ""}; TTS ${r.tts_audio_bytes} B audio${r.tts_flushed ? " +Flushed" : ""}; Flux ${r.flux_turn_infos} TurnInfo; grant ${r.grant_expires_in}s → bearer STT ${r.grant_stt_final_transcripts} finals`;
  },
  livekit: () => {
    const r = load("livekit-deepgram");
    if (!r) return "no summary";
    const failures = r.failures ? `; FAILURES ${JSON.stringify(r.failures)}` : "";
    return `STT ${JSON.stringify(r.stt_events ?? {})} "${r.stt_text ?? ""}"; TTS ${r.tts_audio_frames ?? 0} frames ${r.tts_audio_bytes ?? 0} B @${r.tts_sample_rates ?? "-"} Hz; Flux ${JSON.stringify(r.flux_events ?? {})}; REST synthesize() ${r.rest_tts_synthesize ?? "-"}${failures}`;
  },
};
const turn = (t) => t ? `heard "${t.heard}", ${t.audio_bytes ?? t.audio_deltas} ${t.audio_bytes ? "B" : "deltas"} audio, ${t.total_tokens} tokens` : "-";
line["openai-node"] = () => {
  const r = load("openai-node");
  if (!r) return "no summary";
  return [`conversation ${turn(r.conversation)}`,
    r.transcription ? `transcription "${r.transcription.transcript}" (${r.transcription.deltas} deltas)` : "transcription -",
    r.browser_form ? `browser form → ${r.browser_form.protocol}, ${turn(r.browser_form)}` : "browser form -",
    r.client_secret ? `client secret ${r.client_secret.expires_in}s → ${turn(r.client_secret)}`
      : "client secret FAILED",
    `wrong key → ${r.wrong_key ?? "-"}`].join("; ");
};
line["openai-python"] = () => {
  const r = load("openai-python");
  if (!r) return "no summary";
  return [`conversation ${turn(r.conversation)}`,
    r.transcription ? `transcription "${r.transcription.transcript}"` : "transcription -",
    `wrong key → ${r.wrong_key ?? "-"}`].join("; ");
};
line["openai-browser"] = () => {
  const r = load("openai-browser");
  if (!r) return "no summary";
  return `"${r.offered}" → ${r.protocol} (${r.status}); ${turn(r)}; ${r.events} events; close ${r.close_code}`;
};
line["node-tls"] = () => line.node("deepgram-node-tls");
line["python-tls"] = () => line.python("deepgram-python-tls");
const label = { node: "@deepgram/sdk 5 (Node)", browser: "@deepgram/sdk 5 (browser/Chromium)", python: "deepgram-sdk 7 (Python)", livekit: "livekit-plugins-deepgram", "node-tls": "@deepgram/sdk 5 (Node, wss://)", "python-tls": "deepgram-sdk 7 (Python, wss://)",
  "openai-node": "openai 7 (Node, wss://)", "openai-python": "openai 3 (Python, wss://)", "openai-browser": "OpenAI Realtime browser form" };
for (const c of clients) {
  console.log(`${label[c].padEnd(36)} ${(results[c] ?? "not run").padEnd(16)} ${line[c]()}`);
}
EOF

# Handshakes voxrelay refused during the run, both relays (expected: the Node test's wrong key →
# 401 unauthorized on listen, once per Node run (LiveKit's REST synthesize() is served: no refusal);
# the OpenAI Node and Python tests' wrong key → 401 on realtime, once each).
logs=("$WORK/voxrelay.log")
[ ! -f "$WORK/voxrelay-tls.log" ] || logs+=("$WORK/voxrelay-tls.log")
refused=$(cat "${logs[@]}" | grep '"message":"handshake refused"' \
    | sed -n 's/.*"reason":"\([^"]*\)","status":\([0-9]*\).*"route":"\([^"]*\)".*/\3 \2 \1/p' \
    | sort | uniq -c | awk '{printf "%s%s %s %s ×%s", sep, $2, $3, $4, $1; sep="; "}')
sessions=$(cat "${logs[@]}" | grep -c '"message":"session started"' || true)
echo "$(printf '%-36s' voxrelay) $([ $relay_alive = 1 ] && echo "up" || echo "DIED")  $sessions sessions; refused handshakes: ${refused:-none}"
say "done in $((SECONDS - started)) s"
exit "$failed"
