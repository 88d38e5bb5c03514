# shellcheck shell=bash
# Shell functions shared by the client-test scripts (scripts/clients/*.sh, scripts/clients/relay-harness.sh,
# scripts/test-clients.sh), sourced from the repository root:
#
#   source scripts/clients/lib.sh
#   clients_init NAME            # WORK (a temporary directory), started and `say` ("[NAME  Ns] …"), and
#                                # EXIT/INT/TERM traps running clients_cleanup
#   clients_build                # BIN: $VOXRELAY_BIN, or target/debug/voxrelay after `cargo build`
#   start_simulator LOG [KEY]    # `$BIN simulate` on 127.0.0.1:0 (requiring KEY if given): SIM_PID, SIM_ADDR
#   start_tap LOG TARGET [ARG…]  # tests/clients/support/upstream_tap.mjs TARGET ARG…: TAP_PID, TAP_ADDR
#   wait_line NAME PID FILE SED  # the first value SED extracts from FILE while PID lives (≤ 20 s): LINE_VALUE
#   stop_pid PID [TENTHS]        # SIGTERM, SIGKILL after TENTHS/10 s (default 5 s), reaped
#
# Every process start_simulator and start_tap start is recorded in STOP_PIDS, which clients_cleanup stops
# (newest first) on exit; it also tears down the relay harness if that was sourced, shows the tail of
# $WORK/simulator.log on failure, and removes WORK.

STOP_PIDS=()

# stop_pid PID [TENTHS]: SIGTERM, then SIGKILL after TENTHS tenths of a second (default 50), reaped
stop_pid() {
    local pid=$1 tenths=${2:-50}
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq "$tenths"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# wait_line NAME PID FILE SED: the first line of FILE that SED (a sed -n script) turns into a value, while
# PID lives (≤ 20 s); sets LINE_VALUE, or fails with FILE's tail
wait_line() {
    local name=$1 pid=$2 file=$3 script=$4
    LINE_VALUE=
    for _ in $(seq 200); do
        LINE_VALUE=$(sed -n "$script" "$file" 2>/dev/null | head -n 1) || true
        [ -n "$LINE_VALUE" ] && return 0
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$file" >&2; echo "$name exited" >&2; return 1; }
        sleep 0.1
    done
    echo "$name did not report its address within 20 s" >&2
    return 1
}

# start_simulator LOG [KEY]: `$BIN simulate --listen 127.0.0.1:0`, requiring KEY if given, output in LOG;
# sets SIM_PID and SIM_ADDR once it logs its address
start_simulator() {
    local log=$1 key=${2:-}
    local args=(simulate --listen 127.0.0.1:0)
    [ -n "$key" ] && args+=(--api-key-env VOXRELAY_CLIENTS_SIMULATOR_KEY)
    [ -x "$BIN" ] || { echo "$BIN is missing: cargo build" >&2; return 1; }
    env NO_COLOR=1 VOXRELAY_CLIENTS_SIMULATOR_KEY="$key" "$BIN" "${args[@]}" >"$log" 2>&1 &
    SIM_PID=$!
    STOP_PIDS+=("$SIM_PID")
    wait_line "$(basename "$log" .log)" "$SIM_PID" "$log" \
        's/.*simulator listening.*addr[^0-9]*\([0-9.]*:[0-9]*\).*/\1/p' || return 1
    SIM_ADDR=$LINE_VALUE
}

# start_tap LOG TARGET [ARG…]: the pass-through upstream_tap.mjs TARGET ARG… (a handshake log, --tls
# CERT_DIR), output in LOG; sets TAP_PID and TAP_ADDR once it is listening
start_tap() {
    local log=$1
    shift
    node tests/clients/support/upstream_tap.mjs "$@" >"$log" 2>&1 &
    TAP_PID=$!
    STOP_PIDS+=("$TAP_PID")
    wait_line "$(basename "$log" .log)" "$TAP_PID" "$log" 's/^{"tap":"\([0-9.]*:[0-9]*\)"}$/\1/p' || return 1
    TAP_ADDR=$LINE_VALUE
}

# clients_build: BIN is $VOXRELAY_BIN when set, else target/debug/voxrelay, built first
clients_build() {
    if [ -n "${VOXRELAY_BIN:-}" ]; then
        BIN=$VOXRELAY_BIN
    else
        say "cargo build -p voxrelay"
        timeout 1800 cargo build -q -p voxrelay
        BIN=target/debug/voxrelay
    fi
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
clients_cleanup() {
    local rc=$? i
    for ((i = ${#STOP_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${STOP_PIDS[i]}"; done
    if declare -F harness_stop >/dev/null; then
        [ "$rc" = 0 ] || harness_dump
        harness_stop
        rm -rf "$HARNESS_WORK"
    fi
    if [ "$rc" != 0 ] && [ -s "$WORK/simulator.log" ]; then
        echo "--- simulator log (last 20 lines) ---" >&2
        tail -n 20 "$WORK/simulator.log" >&2
    fi
    rm -rf "$WORK"
    exit "$rc"
}

# clients_init NAME: WORK, say, and the traps
clients_init() {
    CLIENTS_NAME=$1
    started=$SECONDS
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/voxrelay-$1.XXXXXX")
    trap clients_cleanup EXIT
    trap 'exit 130' INT TERM
}

say() { printf '[%s %3ss] %s\n' "$CLIENTS_NAME" "$((SECONDS - started))" "$*"; }
