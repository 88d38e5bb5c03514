#!/usr/bin/env bash
# The full comparison (BENCHMARKS.md): direct, voxrelay, nginx and HAProxy alternated in one run,
# N = 100, 1,000 and 2,000 sessions of 3,200-byte frames at 10/s, 4 repetitions, 5 s warm-up +
# 20 s windows, then the idle-capacity run (9,000 sessions at 1 frame/s). The proxy under test is
# pinned to core 0, generator + echo upstream to core 1. Loopback only; the harness starts and
# stops (by pid) every process. Writes bench/results/<UTC timestamp>.jsonl (one JSON line per
# target × N × repetition) and .md (summary), and prints the summary.
#
# Knobs (environment): BENCH_TARGETS, BENCH_SESSIONS, BENCH_REPS, BENCH_RATE, BENCH_WARMUP,
# BENCH_WINDOW, BENCH_IDLE_SESSIONS (0 skips), BENCH_IDLE_RATE, BENCH_IDLE_REPS, BENCH_WAIT_QUIET
# (seconds to wait before each run for other processes to go quiet), BENCH_NOISE (cores),
# BENCH_NICE (e.g. -20 on a machine shared with builds; root), BENCH_TIMEOUT (hard bound, seconds),
# BENCH_BASELINE (a commit: its release build runs as the extra target `baseline`, same config,
# alternated with the others, for a before/after comparison of one change). Extra arguments go to `voxbench run`.
# Example quick run: BENCH_SESSIONS=100,1000 BENCH_REPS=2 BENCH_WINDOW=10 BENCH_IDLE_SESSIONS=0 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

targets="${BENCH_TARGETS:-direct,voxrelay,nginx,haproxy}"
sessions="${BENCH_SESSIONS:-100,1000,2000}"
reps="${BENCH_REPS:-4}"
rate="${BENCH_RATE:-10}"
warmup="${BENCH_WARMUP:-5}"
window="${BENCH_WINDOW:-20}"
idle_sessions="${BENCH_IDLE_SESSIONS:-9000}"
idle_rate="${BENCH_IDLE_RATE:-1}"
idle_reps="${BENCH_IDLE_REPS:-2}"
wait_quiet="${BENCH_WAIT_QUIET:-120}"
noise="${BENCH_NOISE:-0.1}"
nice="${BENCH_NICE:-}"

# Peers: Debian packages (nginx 1.22, HAProxy 2.6); installing never starts them.
missing=()
[[ ",$targets," == *",nginx,"* ]] && ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]] && missing+=(nginx)
[[ ",$targets," == *",haproxy,"* ]] && ! command -v haproxy >/dev/null && [[ ! -x /usr/sbin/haproxy ]] && missing+=(haproxy)
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cargo build --release -p voxrelay -p voxrelay-bench --bin voxrelay --bin voxbench
# Run copies, so a rebuild during the run cannot swap binaries between targets or repetitions.
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
cp target/release/voxrelay target/release/voxbench "$bin/"

baseline_args=()
if [[ -n "${BENCH_BASELINE:-}" ]]; then
  # The baseline's release build, from a detached worktree with its own target directory
  # (kept under target/, so a second run with the same commit rebuilds nothing).
  rev="$(git rev-parse --verify "${BENCH_BASELINE}^{commit}")"
  tree="$bin/baseline-src"
  git worktree add --detach --quiet "$tree" "$rev"
  trap 'git worktree remove --force "$tree" 2>/dev/null; rm -rf "$bin"' EXIT
  CARGO_TARGET_DIR="$PWD/target/baseline-${rev:0:12}" \
    cargo build --release --manifest-path "$tree/Cargo.toml" -p voxrelay --bin voxrelay
  cp "target/baseline-${rev:0:12}/release/voxrelay" "$bin/voxrelay-baseline"
  baseline_args=(--baseline-bin "$bin/voxrelay-baseline")
  [[ ",$targets," == *",baseline,"* ]] || targets="$targets,baseline"
  echo "bench: baseline is ${rev:0:12} ($(git log -1 --format=%s "$rev" | cut -c1-60))" >&2
fi

# Open files: the harness raises its soft limit to the hard one; the proxies inherit it.
ulimit -n "$(ulimit -Hn)"

# Rough duration: per run ~ set-up + warm-up + window + ~3 s.
ntargets=$(tr ',' '\n' <<<"$targets" | grep -c .)
nsizes=$(tr ',' '\n' <<<"$sessions" | grep -c .)
per_run=$(awk -v w="$warmup" -v win="$window" 'BEGIN { print int(w + win + 4) }')
estimate=$((ntargets * nsizes * reps * per_run))
((idle_sessions > 0)) && estimate=$((estimate + ntargets * idle_reps * (per_run + 15)))
timeout_s="${BENCH_TIMEOUT:-$((estimate * 2 + 600))}"
echo "bench: ~$((estimate / 60)) min expected (plus waits for a quiet machine); hard bound ${timeout_s} s" >&2

mkdir -p bench/results
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
timeout --signal=TERM --kill-after=15 "$timeout_s" \
  "$bin/voxbench" run \
    --targets "$targets" --sessions "$sessions" --reps "$reps" --rate "$rate" \
    --warmup "$warmup" --window "$window" \
    --idle-sessions "$idle_sessions" --idle-rate "$idle_rate" --idle-reps "$idle_reps" \
    --wait-quiet "$wait_quiet" --noise "$noise" \
    --voxrelay-bin "$bin/voxrelay" "${baseline_args[@]}" ${nice:+--nice "$nice"} \
    --out "bench/results/$stamp.jsonl" --summary "bench/results/$stamp.md" \
    "$@" | grep -v '^{'
echo "bench: results in bench/results/$stamp.jsonl and bench/results/$stamp.md" >&2
