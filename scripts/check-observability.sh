#!/usr/bin/env bash
# Observability check: runs the real relay in local mode (built-in simulator, demo key) on
# loopback, drives real sessions through it with Deepgram's Python SDK plus two refused
# handshakes, then lints what it exports and what deploy/ builds on it:
#   promtool check metrics  on the live /metrics exposition (any complaint fails)
#   promtool check rules    on every dashboard query (as recording rules) and on alerts.yml
#   promtool test rules     on alerts.test.yml, when present
# Needs promtool (exit 2 with install hints when missing) and .venv-clients
# (scripts/setup-test-deps.sh). Every step is time-bounded; the relay is stopped by pid.
set -euo pipefail
cd "$(dirname "$0")/.."

PROMTOOL=${PROMTOOL:-promtool}
PY=.venv-clients/bin/python
DASHBOARD=deploy/grafana/voxrelay-dashboard.json
ALERTS=deploy/prometheus/alerts.yml
ALERT_TESTS=deploy/prometheus/alerts.test.yml
READY_TIMEOUT=30 # seconds for the relay to log its address
STOP_TIMEOUT=10  # seconds for the relay to exit after SIGTERM
started=$SECONDS

say() { echo "check-observability: $*" >&2; }
die() {
  say "FAILED: $*"
  exit 1
}

if ! command -v "$PROMTOOL" >/dev/null 2>&1; then
  say "promtool not found (set PROMTOOL=/path/to/promtool, or install it):"
  say "  Debian/Ubuntu: apt-get install -y --no-install-recommends prometheus   # /usr/bin/promtool"
  say "  elsewhere:     https://prometheus.io/download/ (promtool ships in the prometheus archive)"
  exit 2
fi
if [ ! -x "$PY" ]; then
  say "$PY not found; run scripts/setup-test-deps.sh first"
  exit 2
fi
command -v timeout >/dev/null 2>&1 || die "coreutils 'timeout' not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/voxrelay-observability.XXXXXX")
relay_pid=""

# Stops the relay (SIGTERM, then SIGKILL after STOP_TIMEOUT); its exit status in relay_status.
# Call it in this shell, never in $(...): only this shell can wait for the relay.
relay_status=""
stop_relay() {
  local pid=$relay_pid deadline=$((SECONDS + STOP_TIMEOUT))
  relay_pid=""
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "voxrelay (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  relay_status=0
  wait "$pid" 2>/dev/null || relay_status=$?
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_relay
  if [ "$rc" -ne 0 ] && [ -s "$tmp/relay.err" ]; then
    say "voxrelay stderr (last 20 lines):"
    tail -n 20 "$tmp/relay.err" >&2
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- build and start
timeout 1200 cargo build --quiet || die "cargo build"

env -u RUST_LOG \
  VOXRELAY_SERVER__LISTEN=127.0.0.1:0 \
  VOXRELAY_SIMULATOR__LISTEN=127.0.0.1:0 \
  VOXRELAY_LOG__FORMAT=json \
  "${CARGO_TARGET_DIR:-target}/debug/voxrelay" serve --config config/local.toml >"$tmp/relay.out" 2>"$tmp/relay.err" &
relay_pid=$!

# The relay logs {"message":"voxrelay listening","addr":"127.0.0.1:PORT",...} once it accepts.
deadline=$((SECONDS + READY_TIMEOUT))
line=""
until line=$(grep -m1 '"voxrelay listening"' "$tmp/relay.out" 2>/dev/null); do
  kill -0 "$relay_pid" 2>/dev/null || die "voxrelay exited before listening"
  [ "$SECONDS" -lt "$deadline" ] || die "voxrelay did not log its address within ${READY_TIMEOUT}s"
  sleep 0.05
done
addr=$(printf '%s' "$line" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["addr"])') ||
  die "could not read the address from: $line"
case $addr in
  127.0.0.1:*) ;;
  *) die "voxrelay listens on $addr, not loopback" ;;
esac

# ---------------------------------------------------------------- traffic
# STT, TTS, Flux and a grant-then-STT session through Deepgram's own SDK.
client=$(timeout 120 "$PY" tests/clients/deepgram_python.py --relay "$addr" --key voxrelay-demo-key 2>&1) ||
  die "the Deepgram SDK sessions failed: $client"

# Two refused handshakes (bad key, unknown path) so the rejection counter has series, then the
# exposition itself.
timeout 60 "$PY" - "$addr" "$tmp/metrics.txt" <<'PY' || die "refused handshakes or GET /metrics"
import http.client
import sys
import urllib.request

addr, out = sys.argv[1], sys.argv[2]
host, port = addr.rsplit(":", 1)


def handshake(path, key):
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", path, headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Authorization": f"Token {key}",
    })
    status = conn.getresponse().status
    conn.close()
    return status


for path, key, want in [("/v1/listen", "not-the-demo-key", 401), ("/v9/nowhere", "voxrelay-demo-key", 404)]:
    got = handshake(path, key)
    if got != want:
        sys.exit(f"handshake to {path}: HTTP {got}, expected {want}")
with urllib.request.urlopen(f"http://{addr}/metrics", timeout=10) as resp:
    open(out, "wb").write(resp.read())
PY

# ---------------------------------------------------------------- the exposition
lint=$(timeout 60 "$PROMTOOL" check metrics <"$tmp/metrics.txt" 2>&1) && lint_rc=0 || lint_rc=$?
if [ "$lint_rc" -ne 0 ] || [ -n "$lint" ]; then
  die "promtool check metrics (exit $lint_rc) on /metrics:
$lint"
fi

# Series the dashboard and alerts rely on must exist after those sessions; families referenced by
# deploy/ but without series in this run (e.g. fallbacks, which need a failing upstream) are listed.
exposition=$(
  timeout 60 "$PY" - "$tmp/metrics.txt" "$DASHBOARD" "$ALERTS" <<'PY'
import re
import sys

metrics, deploy = sys.argv[1], sys.argv[2:]
series = [l.split("{")[0].split(" ")[0] for l in open(metrics) if l.strip() and not l.startswith("#")]
names = set(series)
families = {re.sub(r"_(bucket|sum|count)$", "", n) if n.endswith(("_bucket", "_sum", "_count")) and
            any(s == n[: n.rfind("_")] + "_bucket" for s in names) else n for n in names}
need = [
    "voxrelay_sessions_active", "voxrelay_sessions_limit", "voxrelay_sessions_total",
    "voxrelay_client_sessions_total", "voxrelay_client_sessions_active",
    "voxrelay_handshake_rejections_total", "voxrelay_upstream_attempts_total",
    "voxrelay_upstream_circuit_open", "voxrelay_upstream_connect_duration_seconds_bucket",
    "voxrelay_first_response_seconds_bucket", "voxrelay_session_duration_seconds_bucket",
    "voxrelay_messages_total", "voxrelay_message_bytes_total", "voxrelay_audio_seconds_total",
    "voxrelay_tts_characters_total", "voxrelay_estimated_cost_usd_total", "voxrelay_grants_total",
]
missing = [n for n in need if n not in names]
if missing:
    sys.exit(f"no series for {missing}")
referenced = set()
for path in deploy:
    for token in re.findall(r"(?<![A-Za-z0-9_:])voxrelay_[a-z0-9_]+", open(path).read()):
        referenced.add(re.sub(r"_(bucket|sum|count)$", "", token))
quiet = sorted(referenced - families)
if quiet:
    print(f"note: referenced by deploy/ but no series in this run: {', '.join(quiet)}", file=sys.stderr)
print(f"{len(series)} series in {len(families)} families")
PY
) || die "the /metrics exposition lacks expected series"

# ---------------------------------------------------------------- dashboard and rules
# Every dashboard query, with Grafana's variables filled in, must parse as PromQL.
timeout 60 "$PY" - "$DASHBOARD" "$tmp/dashboard-rules.yml" <<'PY' || die "could not read $DASHBOARD"
import json
import sys

exprs = []


def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "expr" and isinstance(x, str):
                exprs.append(x)
            else:
                walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)


walk(json.load(open(sys.argv[1])))
fill = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$route": ".*", "$client": ".*"}
with open(sys.argv[2], "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, e in enumerate(exprs):
        for k, v in fill.items():
            e = e.replace(k, v)
        out.write(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(e)}\n")
PY
queries=$(grep -c 'record:' "$tmp/dashboard-rules.yml")
out=$(timeout 60 "$PROMTOOL" check rules "$tmp/dashboard-rules.yml" 2>&1) ||
  die "a dashboard query does not parse:
$out"

out=$(timeout 60 "$PROMTOOL" check rules "$ALERTS" 2>&1) || die "promtool check rules $ALERTS:
$out"
rules=$(printf '%s\n' "$out" | sed -n 's/.*SUCCESS: \([0-9]*\) rules found.*/\1/p')

rule_tests="absent"
if [ -f "$ALERT_TESTS" ]; then
  out=$(timeout 120 "$PROMTOOL" test rules "$ALERT_TESTS" 2>&1) || die "promtool test rules $ALERT_TESTS:
$out"
  rule_tests="passed"
fi

stop_relay
[ "$relay_status" = 0 ] || die "voxrelay exited with status $relay_status after SIGTERM"

echo "check-observability: ok in $((SECONDS - started))s: /metrics $exposition, promtool check metrics clean;" \
  "$queries dashboard queries parse; $ALERTS $rules rules ok; $ALERT_TESTS $rule_tests"
