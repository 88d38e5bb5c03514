#!/usr/bin/env bash
# Installs what voxrelay's tests need beyond the Rust toolchain: a Python virtualenv
# (.venv-clients) holding the official Python SDKs the client tests use (tests/clients/requirements.txt:
# Deepgram, LiveKit's Deepgram plugin, OpenAI with its Realtime extra, ElevenLabs, AssemblyAI, Cartesia,
# Speechmatics), and redis-server (Debian's package; its service is not started) for the
# cluster-wide limit tests. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null 2>&1; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server
fi
if [ ! -x .venv-clients/bin/python ]; then
  python3 -m venv .venv-clients
fi
.venv-clients/bin/pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
