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

HARNESS_WORK=$(mktemp -d "${TMPDIR:-/tmp}/voxrelay-harness.XXXXXX")
HARNESS_PIDS=()
RELAY_KEY=voxrelay-demo-key
BIN=${VOXRELAY_BIN:-target/debug/voxrelay}

harness_stop() {
    local pid
    for pid in "${HARNESS_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${HARNESS_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    HARNESS_PIDS=()
}

# harness_wait NAME PID FILE SED: the first value SED extracts from FILE while PID lives (≤ 20 s)
harness_wait() {
    local name=$1 pid=$2 file=$3 script=$4
    HARNESS_VALUE=
    for _ in $(seq 200); do
        HARNESS_VALUE=$(sed -n "$script" "$file" 2>/dev/null | head -n 1) || true
        [ -n "$HARNESS_VALUE" ] && return 0
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$file" >&2; echo "$name exited" >&2; return 1; }
        sleep 0.1
    done
    echo "$name did not report its address within 20 s" >&2
    return 1
}

# harness_relay NAME [VAR=value…]: one voxrelay in local mode; sets HARNESS_VALUE to its address
harness_relay() {
    local name=$1
    shift
    env VOXRELAY_SERVER__LISTEN=127.0.0.1:0 VOXRELAY_SIMULATOR__LISTEN=127.0.0.1:0 \
        VOXRELAY_LOG__FORMAT=json "$@" "$BIN" serve --config config/local.toml \
        >"$HARNESS_WORK/$name.log" 2>"$HARNESS_WORK/$name.err" &
    HARNESS_PIDS+=($!)
    harness_wait "$name" $! "$HARNESS_WORK/$name.log" \
        's/.*"message":"voxrelay listening".*"addr":"\(127\.0\.0\.1:[0-9]*\)".*/\1/p'
}

harness_start() {
    [ -x "$BIN" ] || { echo "$BIN is missing: cargo build first" >&2; return 1; }
    UPSTREAM_KEY="up-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    HANDSHAKES=$HARNESS_WORK/upstream-handshakes.jsonl
    env VOXRELAY_HARNESS_UPSTREAM_KEY="$UPSTREAM_KEY" NO_COLOR=1 "$BIN" simulate --listen 127.0.0.1:0 \
        --api-key-env VOXRELAY_HARNESS_UPSTREAM_KEY >"$HARNESS_WORK/simulator.log" 2>&1 &
    HARNESS_PIDS+=($!)
    harness_wait simulator $! "$HARNESS_WORK/simulator.log" \
        's/.*simulator listening.*addr[^0-9]*\([0-9.]*:[0-9]*\).*/\1/p' || return 1
    local sim=$HARNESS_VALUE
    node tests/clients/support/upstream_tap.mjs "$sim" "$HANDSHAKES" >"$HARNESS_WORK/tap.log" 2>&1 &
    HARNESS_PIDS+=($!)
    harness_wait tap $! "$HARNESS_WORK/tap.log" 's/^{"tap":"\([0-9.]*:[0-9]*\)"}$/\1/p' || return 1
    local tap=$HARNESS_VALUE name upper
    local env=(VOXRELAY_HARNESS_UPSTREAM_KEY="$UPSTREAM_KEY")
    for name in "$@"; do
        upper=$(echo "$name" | tr '[:lower:]-' '[:upper:]_')
        env+=("VOXRELAY_UPSTREAMS__${upper}__BASE_URL=ws://$tap"
            "VOXRELAY_UPSTREAMS__${upper}__KEY_ENV=VOXRELAY_HARNESS_UPSTREAM_KEY")
    done
    harness_relay voxrelay "${env[@]}" || return 1
    RELAY_URL=http://$HARNESS_VALUE
    scripts/make-test-cert.sh "$HARNESS_WORK/tls" >/dev/null
    RELAY_CA=$HARNESS_WORK/tls/ca.pem
    harness_relay voxrelay-tls "${env[@]}" \
        VOXRELAY_SERVER__TLS__CERT_FILE="$HARNESS_WORK/tls/cert.pem" \
        VOXRELAY_SERVER__TLS__KEY_FILE="$HARNESS_WORK/tls/key.pem" || return 1
    RELAY_TLS_URL=https://$HARNESS_VALUE
    RELAY_LOGS=("$HARNESS_WORK/voxrelay.log" "$HARNESS_WORK/voxrelay-tls.log")
    export RELAY_URL RELAY_TLS_URL RELAY_CA RELAY_KEY HANDSHAKES
}

# harness_check_upstream HEADER TEMPLATE: every recorded upstream handshake carried HEADER =
# TEMPLATE with {key} the upstream key, and the client key nowhere (request line or headers)
harness_check_upstream() {
    node tests/clients/support/relay_check.mjs upstream "$HANDSHAKES" "$1" "$2" \
        "$UPSTREAM_KEY" "$RELAY_KEY" "${HARNESS_EXTRA_CREDENTIALS:-}"
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
