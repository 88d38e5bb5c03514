"""The official `cartesia` Python SDK (4.2.0) against a Cartesia-compatible base URL (voxrelay, or the simulator).

STT: `client.stt.manual_finalize.websocket(model, encoding, sample_rate)` streams 3 s of PCM16 16 kHz, sends
`finalize` and `close`, and checks the final transcript. The SDK keeps ws:// for an http:// base URL here.
TTS: `client.tts.websocket_connect()` with one context. The SDK builds the TTS URL as wss:// from `base_url`
whatever its scheme, unless the client is given `websocket_base_url` (taken as is, ws:// allowed), which this
script reads from CARTESIA_WEBSOCKET_BASE_URL; with neither https:// nor that, the TTS half is skipped with a
message. Note `websocket_base_url`, when set, is also used for STT.

Environment: CARTESIA_BASE_URL, CARTESIA_WEBSOCKET_BASE_URL (optional), CARTESIA_CREDENTIAL,
CARTESIA_CREDENTIAL_KIND (api_key | token), CARTESIA_EXPECT_TRANSCRIPT (see support/cartesia.mjs); the CA for
https/wss through SSL_CERT_FILE. Prints one JSON summary line; exits non-zero on any failure; the whole run is
bounded by an alarm.
"""

import json
import math
import os
import signal
import struct
import sys

from cartesia import Cartesia

BASE_URL = os.environ.get("CARTESIA_BASE_URL", "")
WS_BASE_URL = os.environ.get("CARTESIA_WEBSOCKET_BASE_URL") or None
CREDENTIAL = os.environ.get("CARTESIA_CREDENTIAL") or "voxrelay-test-credential"
KIND = "token" if os.environ.get("CARTESIA_CREDENTIAL_KIND") == "token" else "api_key"
EXPECT = os.environ.get("CARTESIA_EXPECT_TRANSCRIPT", "the quick brown fox jumps over the")
FRAME_BYTES = 3200
FRAMES = 30
TTS_TEXT = "Hello from the voxrelay Cartesia test."
VOICE = {"mode": "id", "id": "a0e99841-438c-4a64-b679-ae501e7d6091"}
OUTPUT = {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 16000}
MAX_EVENTS = 500
# generous: a loaded CI machine can take seconds to start a TLS handshake; still bounded
OPEN = {"open_timeout": 30, "close_timeout": 5}


def frame(index):
    """100 ms of a quiet 440 Hz tone, PCM16 LE 16 kHz (the simulator ignores content)."""
    n = FRAME_BYTES // 2
    return struct.pack(
        f"<{n}h", *(round(2000 * math.sin(2 * math.pi * 440 * (index * n + i) / 16000)) for i in range(n))
    )


def stt(client, summary):
    finals, interims = [], 0
    with client.stt.manual_finalize.websocket(
        model="ink-2", encoding="pcm_s16le", sample_rate=16000, websocket_connection_options=OPEN
    ) as conn:
        for i in range(FRAMES):
            conn.send_raw(frame(i))
            summary["sent_audio_bytes"] += FRAME_BYTES
        conn.send("finalize")
        for command, ack in (("finalize", "flush_done"), ("close", "done")):
            if command == "close":
                conn.send("close")
            for _ in range(MAX_EVENTS):
                event = conn.recv()
                if event.type == "error":
                    raise AssertionError(f"STT error: {event}")
                if event.type == "transcript":
                    if event.is_final:
                        finals.append(event)
                    else:
                        interims += 1
                if event.type == ack:
                    break
            else:
                raise AssertionError(f"no {ack} within {MAX_EVENTS} events")
    summary["transcript"] = "".join(f.text for f in finals)
    summary["stt_interims"] = interims
    assert finals, "a final transcript arrived"
    if EXPECT:
        assert summary["transcript"] == EXPECT, summary["transcript"]
    duration = sum(f.duration or 0 for f in finals)
    assert abs(duration - 3) < 0.05, f"final durations add up to 3 s, got {duration}"


def tts(client, summary):
    if WS_BASE_URL is None and not BASE_URL.startswith("https://"):
        summary["tts"] = "skipped"
        print(
            f"TTS skipped: the Python SDK dials wss:// for TTS from base_url {BASE_URL}; "
            "give an https:// base URL or CARTESIA_WEBSOCKET_BASE_URL",
            file=sys.stderr,
        )
        return
    last = None
    with client.tts.websocket_connect(websocket_connection_options=OPEN) as conn:
        ctx = conn.context(model_id="sonic-3", voice=VOICE, output_format=OUTPUT, timeout=15)
        ctx.push(TTS_TEXT)
        summary["sent_chars"] += len(TTS_TEXT)
        ctx.no_more_inputs()
        for count, event in enumerate(ctx.receive()):
            assert count < MAX_EVENTS, "too many TTS events"
            last = event.type
            if event.type == "error":
                raise AssertionError(f"TTS error: {event}")
            if event.type == "chunk":
                summary["received_audio_bytes"] += len(event.audio or b"")
    assert last == "done", f"the context ended with done, got {last}"
    assert summary["received_audio_bytes"] > 0, "TTS audio arrived"
    if EXPECT:
        assert summary["received_audio_bytes"] == len(TTS_TEXT) * 1600, summary["received_audio_bytes"]
    summary["tts"] = "ok"


def main():
    assert BASE_URL, "CARTESIA_BASE_URL is unset"
    signal.alarm(90)
    client = Cartesia(base_url=BASE_URL, websocket_base_url=WS_BASE_URL, max_retries=0, **{KIND: CREDENTIAL})
    summary = {
        "client": "cartesia-python",
        "sent_audio_bytes": 0,
        "sent_chars": 0,
        "received_audio_bytes": 0,
        "transcript": "",
    }
    failure = None
    try:
        stt(client, summary)
        tts(client, summary)
    except Exception as error:  # reported below, after the summary
        failure = error
    print(json.dumps(summary))
    if failure is not None:
        print(f"FAILED: {failure!r}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
