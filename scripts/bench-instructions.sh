#!/usr/bin/env bash
# Instructions per relayed message, voxrelay against an earlier commit, counted by callgrind:
# a measure that a busy or shared machine does not move (timing figures do; see BENCHMARKS.md).
#
#   scripts/bench-instructions.sh <baseline commit> [sessions] [short window s] [long window s]
#
# Builds both release binaries (the baseline as scripts/bench.sh does), then runs voxbench twice,
# with a short and a long measuring window, each binary under `valgrind --tool=callgrind`. The
# difference between the two runs' instruction totals, divided by the difference in frames
# relayed, is the cost of one client frame and its reply with start-up, set-up and warm-up
# cancelled out. Loopback only; bounded by `timeout`. Installs valgrind (apt) if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 1 ]] || { sed -n 2,11p "$0"; exit 64; }
sessions="${2:-20}" short="${3:-10}" long="${4:-30}"
if ! command -v valgrind >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi
cargo build --release -p voxrelay -p voxrelay-bench --bin voxrelay --bin voxbench
work="$(mktemp -d)"
trap 'git worktree remove --force "$work/src" 2>/dev/null; rm -rf "$work"' EXIT
rev="$(git rev-parse --verify "$1^{commit}")"
git worktree add --detach --quiet "$work/src" "$rev"
CARGO_TARGET_DIR="$PWD/target/baseline-${rev:0:12}" \
  cargo build --release --manifest-path "$work/src/Cargo.toml" -p voxrelay --bin voxrelay
cp target/release/voxrelay "$work/vox-voxrelay"
cp "target/baseline-${rev:0:12}/release/voxrelay" "$work/vox-baseline"
for t in voxrelay baseline; do
  printf '#!/bin/sh\nexec valgrind -q --tool=callgrind --callgrind-out-file=%s/%s.$$.cg %s/vox-%s "$@"\n' \
    "$work/out" "$t" "$work" "$t" >"$work/run-$t"
  chmod +x "$work/run-$t"
done
ulimit -n "$(ulimit -Hn)"
for window in "$short" "$long"; do
  mkdir -p "$work/out"
  timeout 900 target/release/voxbench run --targets voxrelay,baseline --sessions "$sessions" \
    --reps 1 --warmup 2 --window "$window" --idle-sessions 0 --no-pin --check \
    --voxrelay-bin "$work/run-voxrelay" --baseline-bin "$work/run-baseline" \
    --out "$work/w$window.jsonl" --summary /dev/null >/dev/null
  mv "$work/out" "$work/cg$window"
done
python3 - "$work" "$short" "$long" "${rev:0:12}" <<'PY'
import glob, json, sys
work, short, long, rev = sys.argv[1:]
def total(window, target):
    # the largest output is the server (the others are `--version` probes)
    return max(int(next(l.split()[1] for l in open(f) if l.startswith(("summary:", "totals:"))))
               for f in glob.glob(f"{work}/cg{window}/{target}.*.cg"))
def frames(window, target):
    return next(json.loads(l)["sent"] for l in open(f"{work}/w{window}.jsonl")
                if json.loads(l)["target"] == target)
per = {}
for t in ("voxrelay", "baseline"):
    per[t] = (total(long, t) - total(short, t)) / (frames(long, t) - frames(short, t))
    print(f"{t:9} {per[t]:10.0f} instructions per client frame and its reply")
print(f"voxrelay ÷ baseline ({rev}): {per['voxrelay'] / per['baseline']:.3f}")
PY
