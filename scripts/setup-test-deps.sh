#!/usr/bin/env bash
# Installs what voxrelay's tests need beyond the Rust toolchain: a Python virtualenv
# (.venv-clients) holding the official Python SDKs the client tests use (tests/clients/requirements.txt:
# Deepgram, LiveKit's Deepgram plugin, OpenAI with its Realtime extra, ElevenLabs, AssemblyAI, Cartesia,
# Speechmatics), redis-server (Debian's package; its service is not started) for the
# cluster-wide limit tests, and for the REST client tests (tests/relay/rest_clients.rs) the npm
# packages in tests/clients (`npm ci`: Deepgram's JS SDK, playwright-core) and Debian's chromium.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null 2>&1; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server
fi
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
fi
# Node.js and npm for the JS SDK tests (this machine image has Node 20; Debian's packages otherwise)
if ! command -v npm >/dev/null 2>&1; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
fi
# npm ci when node_modules is missing or older than the lock file
if [ ! -f tests/clients/node_modules/.package-lock.json ] \
    || [ tests/clients/package-lock.json -nt tests/clients/node_modules/.package-lock.json ]; then
  (cd tests/clients && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -x .venv-clients/bin/python ]; then
  python3 -m venv .venv-clients
fi
.venv-clients/bin/pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
