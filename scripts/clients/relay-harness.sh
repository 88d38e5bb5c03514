# shellcheck shell=bash
# The set-up every provider's client run through voxrelay needs, sourced by scripts/clients/*.sh:
#
#   source scripts/clients/relay-harness.sh
#   harness_start elevenlabs [assemblyai …]   # upstream names in config/local.toml
#   … run the clients against $RELAY_URL (http://) or $RELAY_TLS_URL (https://, CA $RELAY_CA) with
#     the client key $RELAY_KEY …
#   harness_check_upstream '<header>' '<value template with {key}>'   # e.g. xi-api-key '{key}'
#   harness_check_usage FIELD EXPECTED [ROUTE]   # a usage record within 1 % of EXPECTED
#
# harness_start runs, on ephemeral loopback ports and stopped by pid on exit:
#   - `voxrelay simulate --api-key-env` requiring a generated upstream key ($UPSTREAM_KEY);
#   - the recording pass-through tests/clients/support/upstream_tap.mjs in front of it, which logs
#     every upstream handshake to $HANDSHAKES;
#   - voxrelay in local mode (config/local.toml) twice, plain and with TLS (scripts/make-test-cert.sh),
#     with each named upstream pointed at the pass-through and given the upstream key; JSON logs
#     (usage records included) in $RELAY_LOGS.
# It never prints a key. Requires: a built target/debug/voxrelay (or VOXRELAY_BIN), node, openssl.
# The simulator and the pass-through are started with scripts/clients/lib.sh (so they are in STOP_PIDS too).

# shellcheck source=scripts/clients/lib.sh
declare -p STOP_PIDS >/dev/null 2>&1 || source scripts/clients/lib.sh
HARNESS_WORK=$(mktemp -d "${TMPDIR:-/tmp}/voxrelay-harness.XXXXXX")
HARNESS_PIDS=()
RELAY_KEY=voxrelay-demo-key
BIN=${VOXRELAY_BIN:-target/debug/voxrelay}

harness_stop() {
    local pid
    for pid in "${HARNESS_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${HARNESS_PIDS[@]}"; do stop_pid "$pid"; done
    HARNESS_PIDS=()
}

# harness_relay NAME [VAR=value…]: one voxrelay in local mode; sets LINE_VALUE to its address
harness_relay() {
    local name=$1
    shift
    env VOXRELAY_SERVER__LISTEN=127.0.0.1:0 VOXRELAY_SIMULATOR__LISTEN=127.0.0.1:0 \
        VOXRELAY_LOG__FORMAT=json "$@" "$BIN" serve --config config/local.toml \
        >"$HARNESS_WORK/$name.log" 2>"$HARNESS_WORK/$name.err" &
    HARNESS_PIDS+=($!)
    wait_line "$name" $! "$HARNESS_WORK/$name.log" \
        's/.*"message":"voxrelay listening".*"addr":"\(127\.0\.0\.1:[0-9]*\)".*/\1/p'
}

harness_start() {
    [ -x "$BIN" ] || { echo "$BIN is missing: cargo build first" >&2; return 1; }
    UPSTREAM_KEY="up-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    HANDSHAKES=$HARNESS_WORK/upstream-handshakes.jsonl
    start_simulator "$HARNESS_WORK/simulator.log" "$UPSTREAM_KEY" || return 1
    HARNESS_PIDS+=("$SIM_PID")
    start_tap "$HARNESS_WORK/tap.log" "$SIM_ADDR" "$HANDSHAKES" || return 1
    HARNESS_PIDS+=("$TAP_PID")
    local tap=$TAP_ADDR name upper
    local env=(VOXRELAY_HARNESS_UPSTREAM_KEY="$UPSTREAM_KEY")
    for name in "$@"; do
        upper=$(echo "$name" | tr '[:lower:]-' '[:upper:]_')
        env+=("VOXRELAY_UPSTREAMS__${upper}__BASE_URL=ws://$tap"
            "VOXRELAY_UPSTREAMS__${upper}__KEY_ENV=VOXRELAY_HARNESS_UPSTREAM_KEY")
    done
    harness_relay voxrelay "${env[@]}" || return 1
    RELAY_URL=http://$LINE_VALUE
    scripts/make-test-cert.sh "$HARNESS_WORK/tls" >/dev/null
    RELAY_CA=$HARNESS_WORK/tls/ca.pem
    harness_relay voxrelay-tls "${env[@]}" \
        VOXRELAY_SERVER__TLS__CERT_FILE="$HARNESS_WORK/tls/cert.pem" \
        VOXRELAY_SERVER__TLS__KEY_FILE="$HARNESS_WORK/tls/key.pem" || return 1
    RELAY_TLS_URL=https://$LINE_VALUE
    RELAY_LOGS=("$HARNESS_WORK/voxrelay.log" "$HARNESS_WORK/voxrelay-tls.log")
    export RELAY_URL RELAY_TLS_URL RELAY_CA RELAY_KEY HANDSHAKES
}

# harness_check_upstream HEADER TEMPLATE: every recorded upstream handshake carried HEADER =
# TEMPLATE with {key} the upstream key, and the client key nowhere (request line or headers);
# and the upstream key is nowhere in voxrelay's logs
harness_check_upstream() {
    node tests/clients/support/relay_check.mjs upstream "$HANDSHAKES" "$1" "$2" \
        "$UPSTREAM_KEY" "$RELAY_KEY" "${HARNESS_EXTRA_CREDENTIALS:-}" "${RELAY_LOGS[@]}"
}

# harness_check_usage FIELD EXPECTED [ROUTE]: some usage record (on ROUTE) has FIELD within 1 % of
# EXPECTED; prints the record's figures
harness_check_usage() {
    node tests/clients/support/relay_check.mjs usage "$1" "$2" "${3:-}" "${RELAY_LOGS[@]}"
}

# harness_dump: the logs' tails, for a failed run
harness_dump() {
    local f
    for f in "$HARNESS_WORK"/*.log "$HARNESS_WORK"/*.err; do
        [ -s "$f" ] || continue
        echo "--- $(basename "$f") (last 15 lines) ---" >&2
        tail -n 15 "$f" >&2
    done
}
