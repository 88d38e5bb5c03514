#!/usr/bin/env bash
# The demo page (/demo/) end to end in headless Chromium against voxrelay in local mode (simulator
# upstream): fake microphone → Nova and Flux transcripts, text → speech, OpenAI Realtime (an ek_ key
# from /v1/realtime/client_secrets, browser subprotocols, reply and transcript), the Providers panels
# whose kinds have a route in config/local.toml (ElevenLabs, AssemblyAI, Cartesia, generic), the
# key-paste path.
# Installs what is missing (Chromium and certutil from apt, playwright-core from
# tests/demo/package-lock.json; no browser downloads), builds voxrelay, runs tests/demo/demo.test.mjs
# twice: over http:// and ws://, then over https:// and wss:// (DEMO_TLS=1: [server.tls] with a
# throwaway CA that Chromium trusts through its NSS database, verification on). Screenshots:
# reports/demo/demo.png and reports/demo-https/demo.png (demo-failure.png and the logs on failure).
set -euo pipefail
cd "$(dirname "$0")/.."

export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

command -v node >/dev/null || { echo "test-demo: node (>= 20) is needed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "test-demo: python3 is needed (makes the test WAV)" >&2; exit 1; }

# Debian packages for what is missing: chromium, and certutil (libnss3-tools) and openssl for the
# https run
missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium)
command -v certutil >/dev/null || missing+=(libnss3-tools)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test-demo: missing; install with: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "test-demo: installing ${missing[*]}" >&2
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v openssl >/dev/null || { echo "test-demo: openssl is needed (test certificate)" >&2; exit 1; }

if ! (cd tests/demo && npm ls --silent >/dev/null 2>&1); then
  echo "test-demo: npm ci in tests/demo" >&2
  (cd tests/demo && timeout 300 npm ci --no-audit --no-fund --loglevel=error)
fi

timeout 900 cargo build -p voxrelay
timeout -k 10 300 node --test --test-reporter=spec tests/demo/demo.test.mjs
DEMO_TLS=1 DEMO_REPORT_DIR=reports/demo-https \
  timeout -k 10 300 node --test --test-reporter=spec tests/demo/demo.test.mjs
