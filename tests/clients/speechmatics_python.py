"""The official `speechmatics-rt` Python SDK (1.2.1, `AsyncClient`) against a Speechmatics-RT-shaped endpoint.

The target is the simulator (`voxrelay simulate`) directly, or voxrelay's generic upstream in front of it.
`AsyncClient(api_key=CREDENTIAL, url=URL)`: the SDK sends `Authorization: Bearer <credential>` and `X-Request-Id`
on the handshake and appends `sm-sdk=python-rt-sdk-v<version>` to the URL's query (keeping what is there); it has
no `?jwt=` mode of its own. `start_session()` sends `StartRecognition` (raw pcm_s16le, 16 kHz, partials on), 3 s
of PCM16 go out as 30 binary frames, `stop_session()` sends `EndOfStream` and waits for `EndOfTranscript`.

Env: SPEECHMATICS_URL (ws:// or wss://host:port/path, required), SPEECHMATICS_CREDENTIAL (the key to present),
SPEECHMATICS_EXPECT_TRANSCRIPT (the simulator's words by default), SSL_CERT_FILE for a test CA.
Prints one JSON summary line; exits non-zero on any failed assertion; every wait is bounded.
"""

import asyncio
import json
import math
import os
import struct
import sys

from speechmatics.rt import (
    AsyncClient,
    AudioEncoding,
    AudioFormat,
    ServerMessageType,
    TranscriptionConfig,
)

URL = os.environ.get("SPEECHMATICS_URL", "")
CREDENTIAL = os.environ.get("SPEECHMATICS_CREDENTIAL", "simulated-key")
EXPECTED = os.environ.get("SPEECHMATICS_EXPECT_TRANSCRIPT", "The quick brown fox jumps over the")
RATE = 16_000
FRAME_BYTES = 3_200  # 0.1 s of PCM16
FRAMES = 30  # 3 s
TIMEOUT_S = 10.0
OVERALL_S = 30.0


def pcm_frames() -> list[bytes]:
    """0.1 s frames of a quiet 440 Hz tone, PCM16 little-endian."""
    samples = FRAME_BYTES // 2
    frames = []
    for f in range(FRAMES):
        values = (
            round(3000 * math.sin(2 * math.pi * 440 * (f * samples + i) / RATE)) for i in range(samples)
        )
        frames.append(struct.pack(f"<{samples}h", *values))
    return frames


async def wait_for(predicate, what: str) -> None:
    """Polls `predicate` until it holds, or fails after TIMEOUT_S."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_S
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {TIMEOUT_S} s waiting for {what}")
        await asyncio.sleep(0.01)


async def run() -> dict:
    assert URL, "SPEECHMATICS_URL is unset"
    seen = {"acks": [], "finals": [], "partials": 0, "errors": [], "started": None, "eot": False}
    client = AsyncClient(api_key=CREDENTIAL, url=URL)

    def on_started(msg):
        seen["started"] = msg

    def on_ack(msg):
        seen["acks"].append(msg.get("seq_no"))

    def on_partial(_msg):
        seen["partials"] += 1

    def on_final(msg):
        for result in msg["results"]:
            assert result["type"] in ("word", "punctuation", "entity"), result
            assert result["end_time"] >= result["start_time"], result
            assert isinstance(result["alternatives"][0]["content"], str), result
        seen["finals"].append(msg["metadata"]["transcript"])

    def on_error(msg):
        seen["errors"].append(f"{msg.get('type')}: {msg.get('reason')}")

    def on_eot(_msg):
        seen["eot"] = True

    client.on(ServerMessageType.RECOGNITION_STARTED, on_started)
    client.on(ServerMessageType.AUDIO_ADDED, on_ack)
    client.on(ServerMessageType.ADD_PARTIAL_TRANSCRIPT, on_partial)
    client.on(ServerMessageType.ADD_TRANSCRIPT, on_final)
    client.on(ServerMessageType.ERROR, on_error)
    client.on(ServerMessageType.END_OF_TRANSCRIPT, on_eot)

    sent = 0
    try:
        await asyncio.wait_for(
            client.start_session(
                transcription_config=TranscriptionConfig(language="en", enable_partials=True, max_delay=1.0),
                audio_format=AudioFormat(encoding=AudioEncoding.PCM_S16LE, sample_rate=RATE, chunk_size=FRAME_BYTES),
            ),
            TIMEOUT_S,
        )
        assert seen["started"] is not None, "RecognitionStarted received"
        assert isinstance(seen["started"].get("id"), str), "RecognitionStarted carries an id"
        assert client.session_id == seen["started"]["id"]
        for frame in pcm_frames():
            await client.send_audio(frame)
            sent += len(frame)
        await wait_for(lambda: len(seen["acks"]) == FRAMES, f"{FRAMES} AudioAdded")
        assert seen["acks"] == list(range(1, FRAMES + 1)), f"AudioAdded seq_no in order: {seen['acks']}"
        await asyncio.wait_for(client.stop_session(), TIMEOUT_S)
    finally:
        await asyncio.wait_for(client.close(), TIMEOUT_S)

    assert seen["errors"] == [], f"no Error messages: {seen['errors']}"
    assert seen["eot"], "EndOfTranscript received"
    assert seen["partials"] > 0, "AddPartialTranscript received (enable_partials)"
    assert client.audio_bytes_sent == sent
    transcript = "".join(seen["finals"]).strip()
    assert transcript == EXPECTED, f"final transcript {transcript!r} != {EXPECTED!r}"
    return {"client": "speechmatics-python", "sent_audio_bytes": sent, "transcript": transcript}


def main() -> int:
    try:
        summary = asyncio.run(asyncio.wait_for(run(), OVERALL_S))
    except Exception as err:  # noqa: BLE001 - any failure is a failed run
        print(f"speechmatics-python failed: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
