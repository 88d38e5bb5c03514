#!/usr/bin/env bash
# Fuzz smoke run: builds the cargo-fuzz crate in fuzz/ and runs every target for N seconds
# (default 10): scripts/fuzz-smoke.sh [seconds]
#
# Installs cargo-fuzz (pinned) if it is missing. cargo-fuzz passes nightly-only rustc flags
# (-Zsanitizer=address, sancov); RUSTC_BOOTSTRAP=1 makes a stable toolchain accept them and is
# harmless on nightly. Needs a C/C++ compiler for libFuzzer (libfuzzer-sys builds it).
#
# Exits non-zero if any target crashes; the reproducer is written to fuzz/artifacts/<target>/ and
# can be replayed with: RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>
# (from fuzz/). The growing corpus is kept in fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-10}"
cargo_fuzz_version="0.13.2"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz $cargo_fuzz_version"
  cargo install --locked "cargo-fuzz@$cargo_fuzz_version"
fi
echo "using $(cargo fuzz --version)"

export RUSTC_BOOTSTRAP=1
cd fuzz

start=$SECONDS
cargo fuzz build
echo "build: $((SECONDS - start))s"

failed=()
for target in $(cargo fuzz list); do
  args=("-max_total_time=$seconds" "-timeout=10")
  if [ -f "dicts/$target.dict" ]; then
    args+=("-dict=dicts/$target.dict")
  fi
  echo "== $target: ${seconds}s"
  start=$SECONDS
  if ! cargo fuzz run "$target" -- "${args[@]}"; then
    failed+=("$target")
  fi
  echo "== $target: done in $((SECONDS - start))s"
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashed: ${failed[*]} (see fuzz/artifacts/)" >&2
  exit 1
fi
echo "no crashes"
