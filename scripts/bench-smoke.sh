#!/usr/bin/env bash
# Benchmark-harness smoke run (for CI): direct + voxrelay only (no nginx/HAProxy needed), 20
# sessions, 1 s warm-up + 2 s window, debug build. Proves the harness still works: it fails when a
# run has set-up errors, run errors, missing replies or no replies — never on timing.
# Knobs: BENCH_SMOKE_PROFILE=debug|release, BENCH_SMOKE_SESSIONS (20), BENCH_SMOKE_OUT (dir).
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${BENCH_SMOKE_PROFILE:-debug}"
sessions="${BENCH_SMOKE_SESSIONS:-20}"
case "$profile" in
  debug) cargo build -p voxrelay -p voxrelay-bench --bin voxrelay --bin voxbench ;;
  release) cargo build --release -p voxrelay -p voxrelay-bench --bin voxrelay --bin voxbench ;;
  *) echo "BENCH_SMOKE_PROFILE must be debug or release" >&2; exit 64 ;;
esac

out="${BENCH_SMOKE_OUT:-$(mktemp -d)}"
mkdir -p "$out"
# The harness stops every process it started (by pid) on exit, error, SIGTERM or SIGINT; the
# timeout only bounds a hung run.
timeout --signal=TERM --kill-after=10 120 \
  "target/$profile/voxbench" run \
    --targets direct,voxrelay --sessions "$sessions" --reps 1 \
    --warmup 1 --window 2 --drain 1 \
    --voxrelay-bin "target/$profile/voxrelay" \
    --out "$out/smoke.jsonl" --summary "$out/smoke.md" --setup-trace "$out/setup.tsv" \
    --check >/dev/null
# one set-up line per session and run
traced=$(wc -l <"$out/setup.tsv")
if ((traced != 2 * sessions)); then
  echo "bench smoke: set-up trace has $traced lines, expected $((2 * sessions))" >&2
  exit 1
fi
echo "bench smoke: ok ($(wc -l <"$out/smoke.jsonl") runs, $traced set-ups traced; results in $out)"
