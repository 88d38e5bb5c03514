"""The official `assemblyai` Python SDK (1.8.x, `assemblyai.streaming.v3.StreamingClient`) against an
AssemblyAI Universal Streaming v3 endpoint: voxrelay, or `voxrelay simulate` directly.

Environment:
  ASSEMBLYAI_BASE_URL    ws://HOST:PORT[/prefix] or wss://… (http/https are mapped to ws/wss); the SDK
                         appends /v3/ws itself (its `api_host`)
  ASSEMBLYAI_CREDENTIAL  the API key or temporary token (default: "simulated-key")
  ASSEMBLYAI_AUTH        "key" (StreamingClientOptions.api_key, default) or "token" (.token); the SDK sends
                         either one as the raw `Authorization` header, never as ?token=
  ASSEMBLYAI_CA_FILE     a CA certificate to trust for wss:// (set as SSL_CERT_FILE before the SDK loads)
  ASSEMBLYAI_ANY_TRANSCRIPT=1  accept any non-empty transcript (default: the simulator's exact words)

Streams 3 s of 16 kHz PCM16 in 100 ms chunks at real-time pace with format_turns=True, then
disconnect(terminate=True). Asserts Begin, formatted end-of-turn text and the Termination figures
(audio_duration_seconds == 3). Prints one JSON summary line; exits non-zero on any failure.

Run by scripts/clients/assemblyai.sh (`python`).
"""

import json
import math
import os
import struct
import sys
import threading
import time

RATE = 16_000
CHUNK_MS = 100
SECONDS = 3
SIMULATED = "The quick brown fox jumps over the."
WAIT = 15.0


def base_url():
    raw = os.environ.get("ASSEMBLYAI_BASE_URL", "").rstrip("/")
    if not raw:
        sys.exit("ASSEMBLYAI_BASE_URL is unset")
    for plain, ws in (("http://", "ws://"), ("https://", "wss://")):
        if raw.startswith(plain):
            raw = ws + raw[len(plain):]
    if raw.endswith("/v3/ws"):
        raw = raw[: -len("/v3/ws")]
    return raw


def tone(seconds):
    """A quiet 220 Hz tone as PCM16 LE mono."""
    samples = (round(3000 * math.sin(2 * math.pi * 220 * i / RATE)) for i in range(seconds * RATE))
    return b"".join(struct.pack("<h", s) for s in samples)


def main():
    ca = os.environ.get("ASSEMBLYAI_CA_FILE")
    if ca:
        os.environ["SSL_CERT_FILE"] = ca
    from assemblyai.streaming.v3 import (
        StreamingClient,
        StreamingClientOptions,
        StreamingEvents,
        StreamingParameters,
    )

    credential = os.environ.get("ASSEMBLYAI_CREDENTIAL", "simulated-key")
    auth = os.environ.get("ASSEMBLYAI_AUTH", "key")
    if auth not in ("key", "token"):
        sys.exit(f"ASSEMBLYAI_AUTH must be key or token, not {auth!r}")
    options = {"api_key": credential} if auth == "key" else {"token": credential}
    client = StreamingClient(StreamingClientOptions(api_host=base_url(), connect_timeout=5.0, **options))

    seen = {"begin": None, "turns": [], "termination": None, "errors": []}
    began = threading.Event()
    client.on(StreamingEvents.Begin, lambda _c, e: (seen.__setitem__("begin", e), began.set()))
    client.on(StreamingEvents.Turn, lambda _c, e: seen["turns"].append(e))
    client.on(StreamingEvents.Termination, lambda _c, e: seen.__setitem__("termination", e))
    client.on(StreamingEvents.Error, lambda _c, e: (seen["errors"].append(f"{e} (code={e.code})"), began.set()))

    client.connect(StreamingParameters(sample_rate=RATE, speech_model="universal-streaming-english", format_turns=True))
    assert began.wait(WAIT), "no Begin within 15 s"
    assert not seen["errors"], seen["errors"]
    audio = tone(SECONDS)
    step = RATE * 2 * CHUNK_MS // 1000
    start = time.monotonic()
    for index, offset in enumerate(range(0, len(audio), step)):
        client.stream(audio[offset : offset + step])
        pause = start + (index + 1) * CHUNK_MS / 1000 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    client.disconnect(terminate=True)

    termination = seen["termination"]
    finals = [t for t in seen["turns"] if t.end_of_turn and t.turn_is_formatted]
    transcript = " ".join(t.transcript for t in finals)
    print(
        json.dumps(
            {
                "client": "assemblyai-python",
                "sent_audio_bytes": len(audio),
                "audio_duration_seconds": termination and termination.audio_duration_seconds,
                "session_duration_seconds": termination and termination.session_duration_seconds,
                "transcript": transcript,
            }
        )
    )
    assert not seen["errors"], seen["errors"]
    assert seen["begin"].id, "Begin carries a session id"
    assert seen["turns"], "turns arrived"
    assert any(not t.end_of_turn for t in seen["turns"]), "partial turns arrived"
    assert finals and transcript, "a formatted end of turn with text"
    if os.environ.get("ASSEMBLYAI_ANY_TRANSCRIPT") != "1":
        assert transcript == SIMULATED, transcript
    assert termination is not None, "Termination arrived after Terminate"
    assert termination.audio_duration_seconds == SECONDS, termination
    assert termination.session_duration_seconds is not None and termination.session_duration_seconds >= SECONDS - 1


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"assemblyai-python: FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
