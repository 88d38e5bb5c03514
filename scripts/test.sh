#!/usr/bin/env bash
# voxrelay's test command: what the tests need, formatting, lints on every workspace member, then
# every test (unit, property, integration, and Deepgram's official Python SDK through the relay).
# No test is skipped for a missing tool: the official-client test fails naming
# scripts/setup-test-deps.sh when its virtualenv is absent, and this script runs that first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --all-targets
