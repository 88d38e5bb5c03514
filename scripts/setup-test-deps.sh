#!/usr/bin/env bash
# Installs what voxrelay's tests need beyond the Rust toolchain: a Python virtualenv
# (.venv-clients) holding the official Python SDKs the client tests use (tests/clients/requirements.txt:
# Deepgram, LiveKit's Deepgram plugin, OpenAI with its Realtime extra, ElevenLabs, AssemblyAI, Cartesia,
# Speechmatics). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-clients/bin/python ]; then
  python3 -m venv .venv-clients
fi
.venv-clients/bin/pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
