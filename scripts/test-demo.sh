#!/usr/bin/env bash
# The demo page (/demo/) end to end in headless Chromium against voxrelay in local mode (simulator
# upstream): fake microphone → Nova and Flux transcripts, text → speech, the key-paste path.
# Installs what is missing (Chromium from apt, playwright-core from tests/demo/package-lock.json;
# no browser downloads), builds voxrelay, runs tests/demo/demo.test.mjs. Screenshot:
# reports/demo/demo.png (reports/demo/demo-failure.png and the logs on failure).
set -euo pipefail
cd "$(dirname "$0")/.."

export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

command -v node >/dev/null || { echo "test-demo: node (>= 20) is needed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "test-demo: python3 is needed (makes the test WAV)" >&2; exit 1; }

if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test-demo: $CHROMIUM is missing; install it with: apt-get install -y chromium" >&2
    exit 1
  fi
  echo "test-demo: installing chromium" >&2
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq chromium >/dev/null
fi

if ! (cd tests/demo && npm ls --silent >/dev/null 2>&1); then
  echo "test-demo: npm ci in tests/demo" >&2
  (cd tests/demo && timeout 300 npm ci --no-audit --no-fund --loglevel=error)
fi

timeout 900 cargo build -p voxrelay
timeout -k 10 300 node --test --test-reporter=spec tests/demo/demo.test.mjs
