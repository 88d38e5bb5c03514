#!/usr/bin/env bash
# voxrelay's test command: formatting, lints, then every test (unit, integration, official client).
# Official-client tests need the virtualenv made by scripts/setup-test-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets
