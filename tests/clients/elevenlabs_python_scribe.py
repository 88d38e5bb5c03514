"""ElevenLabs Scribe realtime with the official Python SDK (`elevenlabs`), against a relay or the simulator.

`client.speech_to_text.realtime.connect({...})` opens
`ws(s)://<base>/v1/speech-to-text/realtime?model_id=…&audio_format=pcm_16000&commit_strategy=manual
&include_timestamps=false` with header `xi-api-key: <credential>`; the test streams 3 s of a 440 Hz
tone as PCM16 16 kHz `input_audio_chunk` messages (100 ms each), commits, and asserts a committed
transcript arrives. Prints one JSON summary line; exits non-zero on any failed check.

Environment:
  ELEVENLABS_BASE_URL    http(s)://host:port (https needs SSL_CERT_FILE for a private CA)
  ELEVENLABS_CREDENTIAL  the key (or relay-issued credential) sent as xi-api-key
  ELEVENLABS_SIMULATED   1: the upstream is voxrelay's simulator, so the transcript is known
                         (2.5 words a second of "the quick brown fox jumps over the lazy dog")
"""

import asyncio
import base64
import json
import math
import os
import struct
import sys

from elevenlabs import AsyncElevenLabs
from elevenlabs.realtime.connection import RealtimeEvents
from elevenlabs.realtime.scribe import AudioFormat, CommitStrategy

RATE = 16_000
SECONDS = 3
CHUNK_BYTES = RATE * 2 // 10
STEP_TIMEOUT = 15
SENTENCE = "the quick brown fox jumps over the lazy dog".split()


def tone(seconds: float) -> bytes:
    """A 440 Hz tone at a third of full scale, PCM16 little-endian mono."""
    samples = int(RATE * seconds)
    return b"".join(
        struct.pack("<h", int(10_000 * math.sin(2 * math.pi * 440 * i / RATE))) for i in range(samples)
    )


def simulated_transcript(audio_bytes: int, bytes_per_second: int) -> str:
    """What voxrelay's simulator says for one segment of this much audio from the session start."""
    words = [SENTENCE[i % len(SENTENCE)] for i in range(audio_bytes * 5 // (2 * bytes_per_second))]
    if words:
        words[0] = words[0].capitalize()
    return " ".join(words)


async def main() -> int:
    base_url = os.environ["ELEVENLABS_BASE_URL"]
    credential = os.environ["ELEVENLABS_CREDENTIAL"]
    client = AsyncElevenLabs(api_key=credential, base_url=base_url)
    events: dict[str, asyncio.Queue] = {}

    def queue(name: str) -> asyncio.Queue:
        return events.setdefault(name, asyncio.Queue())

    # Awaited directly (websockets' own 10 s open timeout bounds it): the SDK starts reading as
    # soon as connect() returns, so the handlers must be attached before anything else yields.
    connection = await client.speech_to_text.realtime.connect(
        {
            "model_id": "scribe_v2_realtime",
            "audio_format": AudioFormat.PCM_16000,
            "sample_rate": RATE,
            "commit_strategy": CommitStrategy.MANUAL,
        }
    )
    for name in (
        RealtimeEvents.SESSION_STARTED,
        RealtimeEvents.PARTIAL_TRANSCRIPT,
        RealtimeEvents.COMMITTED_TRANSCRIPT,
        RealtimeEvents.ERROR,
        RealtimeEvents.CLOSE,
    ):
        connection.on(name, lambda data=None, name=name: queue(name).put_nowait(data))

    async def next_event(name: str):
        """The next `name` event, failing fast on an error or close."""
        waiting = asyncio.ensure_future(queue(name).get())
        failed = asyncio.ensure_future(queue(RealtimeEvents.ERROR).get())
        closed = asyncio.ensure_future(queue(RealtimeEvents.CLOSE).get())
        done, pending = await asyncio.wait({waiting, failed, closed}, timeout=STEP_TIMEOUT,
                                           return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if waiting in done:
            return waiting.result()
        if failed in done:
            raise AssertionError(f"error while waiting for {name}: {failed.result()}")
        if closed in done:
            raise AssertionError(f"closed while waiting for {name}: {closed.result()}")
        raise AssertionError(f"timed out after {STEP_TIMEOUT} s waiting for {name}")

    started = await next_event(RealtimeEvents.SESSION_STARTED)
    assert started.get("session_id"), started
    audio = tone(SECONDS)
    for at in range(0, len(audio), CHUNK_BYTES):
        await connection.send({"audio_base_64": base64.b64encode(audio[at : at + CHUNK_BYTES]).decode()})
    await connection.commit()
    committed = await next_event(RealtimeEvents.COMMITTED_TRANSCRIPT)
    partials = queue(RealtimeEvents.PARTIAL_TRANSCRIPT).qsize()
    await asyncio.wait_for(connection.close(), STEP_TIMEOUT)

    transcript = committed.get("text", "")
    summary = {
        "client": "elevenlabs-python-scribe",
        "sent_audio_bytes": len(audio),
        "sent_chars": 0,
        "received_audio_bytes": 0,
        "transcript": transcript,
        "partials": partials,
    }
    print(json.dumps(summary), flush=True)
    assert isinstance(transcript, str) and transcript, "a non-empty committed transcript"
    if os.environ.get("ELEVENLABS_SIMULATED") == "1":
        want = simulated_transcript(len(audio), RATE * 2)
        assert transcript == want, f"simulated transcript {transcript!r} != {want!r}"
        assert partials > 0, "partial transcripts arrived"
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except AssertionError as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
    except Exception as error:  # a refused handshake, a closed socket, a timeout
        print(f"FAILED: {error!r}", file=sys.stderr)
        sys.exit(1)
