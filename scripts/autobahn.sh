#!/usr/bin/env bash
# Autobahn WebSocket conformance for voxrelay, loopback only, via kosoku (PyPI `kosoku`).
#
#   1. relay (fuzzingclient): kosoku -> voxrelay (route "/", no auth) -> examples/autobahn_echo
#   2. upstream client leg (fuzzingserver): examples/autobahn_client (voxrelay's
#      UpstreamConnector) -> kosoku
#
# Needs .venv-clients with kosoku (scripts/setup-test-deps.sh installs it, or
# `.venv-clients/bin/pip install kosoku==0.1.0`). Reports: reports/autobahn/{relay,client}/.
# Permessage-deflate cases (12.*, 13.*) are excluded: voxrelay does not negotiate compression.
# Exits non-zero unless every selected case passes (OK, NON-STRICT or INFORMATIONAL) in both.
set -euo pipefail
cd "$(dirname "$0")/.."

KOSOKU=.venv-clients/bin/kosoku
EXCLUDE=(-x '12.*' -x '13.*')
REPORTS=reports/autobahn
BUILD_TIMEOUT=${AUTOBAHN_BUILD_TIMEOUT:-1200}   # seconds, each cargo build
SUITE_TIMEOUT=${AUTOBAHN_SUITE_TIMEOUT:-600}    # seconds, each suite run
READY_TIMEOUT=${AUTOBAHN_READY_TIMEOUT:-20}     # seconds, each process to report its address

if [[ ! -x $KOSOKU ]]; then
    echo "autobahn: $KOSOKU missing; run: .venv-clients/bin/pip install kosoku==0.1.0" >&2
    exit 2
fi

start=$SECONDS
tmp=$(mktemp -d "${TMPDIR:-/tmp}/voxrelay-autobahn.XXXXXX")
echo_pid=""
relay_pid=""
fuzz_pid=""
step_pid=""

# Stops one process we started, by pid: TERM, a bounded wait, then KILL.
stop() {
    local pid=$1
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    stop "$step_pid"
    stop "$fuzz_pid"
    stop "$relay_pid"
    stop "$echo_pid"
    if [[ $rc -ne 0 ]]; then
        for f in "$tmp"/*.log; do
            [[ -s $f ]] || continue
            echo "---- last lines of $(basename "$f") ----" >&2
            tail -n 20 "$f" >&2
        done
    fi
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# `run_bounded LOG SECONDS CMD...`: runs `timeout SECONDS CMD...` in the background (output to
# LOG, or inherited when LOG is empty) and waits for it, so an INT/TERM to this script is handled
# at once (bash defers traps while a foreground command runs). Redirect inside, never around the
# call: a trap firing during the wait would inherit that redirection.
run_bounded() {
    local rc=0 log=$1
    shift
    if [[ -n $log ]]; then
        timeout "$@" >"$log" 2>&1 &
    else
        timeout "$@" &
    fi
    step_pid=$!
    wait "$step_pid" || rc=$?
    step_pid=""
    return "$rc"
}

# Polls FILE (bounded by READY_TIMEOUT) until the python expression EXTRACT, applied to each
# line as `line`, yields a non-empty string; prints it. Fails if PID dies first.
wait_for() {
    local what=$1 pid=$2 file=$3 extract=$4 found
    for _ in $(seq $((READY_TIMEOUT * 10))); do
        found=$(python3 - "$file" "$extract" <<'EOF'
import json, sys
path, expr = sys.argv[1], sys.argv[2]
try:
    lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
except FileNotFoundError:
    lines = []
for line in lines:
    try:
        value = eval(expr, {"json": json, "line": line})
    except Exception:
        value = None
    if value:
        print(value)
        break
EOF
)
        if [[ -n $found ]]; then
            echo "$found"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "autobahn: $what exited before reporting its address" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "autobahn: $what did not report its address within ${READY_TIMEOUT}s" >&2
    return 1
}

echo "autobahn: building (debug)"
run_bounded "" "$BUILD_TIMEOUT" cargo build --examples
run_bounded "" "$BUILD_TIMEOUT" cargo build

# Upstream stand-in for Deepgram.
target/debug/examples/autobahn_echo 127.0.0.1:0 >"$tmp/echo.log" 2>"$tmp/echo.err.log" &
echo_pid=$!
echo_addr=$(wait_for "autobahn_echo" "$echo_pid" "$tmp/echo.log" \
    'line.split(" ", 1)[1].strip() if line.startswith("listening ") else ""')
echo "autobahn: echo upstream on $echo_addr"

cat >"$tmp/voxrelay.toml" <<EOF
# Conformance run: one unauthenticated route on "/" relaying to the local echo upstream.
[server]
listen = "127.0.0.1:0"
max_message_bytes = 67108864

[log]
format = "json"
level = "warn,voxrelay=info"

[limits]
handshakes_per_second_per_ip = 1000
handshake_burst_per_ip = 1000

[upstreams.echo]
kind = "deepgram"
base_url = "ws://$echo_addr"

[[routes]]
name = "conformance"
path = "/"
kind = "listen"
upstreams = ["echo"]
default_model = "nova-3"
models = ["*"]
require_auth = false
allow_missing_origin = true
allowed_origins = ["*"]
EOF

# Only this run's settings: drop inherited VOXRELAY_* overrides and RUST_LOG.
clean_env=(-u RUST_LOG)
while IFS= read -r name; do
    clean_env+=(-u "$name")
done < <(compgen -e | grep '^VOXRELAY_' || true)
env "${clean_env[@]}" VOXRELAY_LOG__FORMAT=json \
    target/debug/voxrelay serve --config "$tmp/voxrelay.toml" \
    >"$tmp/voxrelay.log" 2>"$tmp/voxrelay.err.log" &
relay_pid=$!
relay_addr=$(wait_for "voxrelay" "$relay_pid" "$tmp/voxrelay.log" \
    '(lambda r: r.get("addr") if r.get("message") == "voxrelay listening" else "")(json.loads(line))')
echo "autobahn: voxrelay on $relay_addr"

echo "autobahn: relay (fuzzingclient) -> $REPORTS/relay"
rm -rf "$REPORTS/relay"
relay_rc=0
t0=$SECONDS
run_bounded "$tmp/fuzzingclient.log" "$SUITE_TIMEOUT" \
    "$KOSOKU" -m fuzzingclient -p 2 "${EXCLUDE[@]}" -o "$REPORTS/relay" "$relay_addr" ||
    relay_rc=$?
echo "autobahn: fuzzingclient exited $relay_rc after $((SECONDS - t0))s"
stop "$relay_pid"
relay_pid=""
stop "$echo_pid"
echo_pid=""

echo "autobahn: upstream client leg (fuzzingserver) -> $REPORTS/client"
rm -rf "$REPORTS/client"
# Port 0: kosoku binds a free port and names it on stderr (`... listening on ws://ADDR`).
"$KOSOKU" -m fuzzingserver "${EXCLUDE[@]}" -o "$REPORTS/client" 127.0.0.1:0 \
    >"$tmp/fuzzingserver.log" 2>&1 &
fuzz_pid=$!
fuzz_addr=$(wait_for "kosoku fuzzingserver" "$fuzz_pid" "$tmp/fuzzingserver.log" \
    'line.rsplit("ws://", 1)[1].strip() if "listening on ws://" in line else ""')
echo "autobahn: fuzzingserver on $fuzz_addr"
client_rc=0
t0=$SECONDS
run_bounded "$tmp/autobahn_client.log" "$SUITE_TIMEOUT" \
    target/debug/examples/autobahn_client "$fuzz_addr" || client_rc=$?
echo "autobahn: autobahn_client exited $client_rc after $((SECONDS - t0))s"
# kosoku writes the reports after answering updateReports (and then exits on its own in 0.1.0;
# older notes say it keeps serving): wait, bounded, for its "wrote reports" line or its exit.
for _ in $(seq $((READY_TIMEOUT * 10))); do
    grep -q '^wrote reports' "$tmp/fuzzingserver.log" && break
    kill -0 "$fuzz_pid" 2>/dev/null || break
    sleep 0.1
done
if ! grep -q '^wrote reports' "$tmp/fuzzingserver.log"; then
    echo "autobahn: kosoku fuzzingserver wrote no reports within ${READY_TIMEOUT}s" >&2
fi
stop "$fuzz_pid"
fuzz_pid=""

summary_rc=0
python3 - "$REPORTS/relay" "relay (fuzzingclient)" "$REPORTS/client" \
    "upstream client leg (fuzzingserver)" <<'EOF' || summary_rc=$?
import json, os, sys

PASS = {"OK", "NON-STRICT", "INFORMATIONAL"}

def case_key(case_id):
    return [int(p) if p.isdigit() else p for p in case_id.split(".")]

ok = True
args = sys.argv[1:]
for outdir, label in zip(args[0::2], args[1::2]):
    index = os.path.join(outdir, "index.json")
    try:
        with open(index, encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        print(f"autobahn {label}: no report ({index}: {e})")
        ok = False
        continue
    cases = {}
    for agent, agent_cases in report.items():
        for case_id, result in agent_cases.items():
            cases[(agent, case_id)] = result
    passed = sum(1 for r in cases.values() if r.get("behavior") in PASS)
    total = len(cases)
    print(f"autobahn {label}: {passed}/{total} passed")
    failing = sorted(
        (k for k, r in cases.items() if r.get("behavior") not in PASS),
        key=lambda k: (k[0], case_key(k[1])),
    )
    for agent, case_id in failing:
        r = cases[(agent, case_id)]
        print(
            f"  FAIL {case_id} [{agent}]: behavior={r.get('behavior')} "
            f"behaviorClose={r.get('behaviorClose')} remoteCloseCode={r.get('remoteCloseCode')} "
            f"report={os.path.join(outdir, r.get('reportfile') or '?')}"
        )
    if total == 0 or passed != total:
        ok = False
sys.exit(0 if ok else 1)
EOF

echo "autobahn: done in $((SECONDS - start))s"
if [[ $summary_rc -ne 0 || $relay_rc -ne 0 || $client_rc -ne 0 ]]; then
    exit 1
fi
