"""ElevenLabs TTS input streaming with the official Python SDK (`elevenlabs`), against a relay over TLS.

`client.text_to_speech.convert_realtime(voice_id, text=iter([...]), model_id=…, output_format="pcm_16000")`
always opens `wss://<host>/v1/text-to-speech/<voice_id>/stream-input?model_id=…&output_format=pcm_16000`
(it replaces the base URL's scheme with wss) with the SDK's headers, `xi-api-key` among them; it sends
the BOS `{"text":" ","try_trigger_generation":true,"voice_settings":null,"generation_config":
{"chunk_length_schedule":[50]}}`, one `{"text":…,"try_trigger_generation":true}` per chunk of its
text_chunker, then `{"text":""}`, and yields audio until the server closes. The test asserts audio
arrived (with the simulator upstream: exactly 50 ms of pcm_16000 = 1600 bytes per character sent).
Prints one JSON summary line; exits non-zero on any failed check, 0 with a message when skipped.

Environment:
  ELEVENLABS_BASE_URL    https://host:port (an http:// URL skips the test: the SDK cannot do ws://)
  ELEVENLABS_CREDENTIAL  the key (or relay-issued credential) sent as xi-api-key
  SSL_CERT_FILE          the CA that signed the relay's certificate, if private
  ELEVENLABS_SIMULATED   1: the upstream is voxrelay's simulator, so the audio length is known
"""

import json
import os
import sys
import threading

from elevenlabs import ElevenLabs
from elevenlabs.realtime_tts import text_chunker

TEXT = ["Hello from voxrelay. ", "This sentence is streamed ", "in three parts."]
BYTES_PER_CHAR = 16_000 * 2 * 50 // 1000
DEADLINE = 60


def main() -> int:
    base_url = os.environ["ELEVENLABS_BASE_URL"]
    if not base_url.startswith("https://"):
        print(f"SKIPPED: convert_realtime always uses wss://, and {base_url} is not https", file=sys.stderr)
        print(json.dumps({"client": "elevenlabs-python-tts", "skipped": "needs https"}), flush=True)
        return 0
    client = ElevenLabs(api_key=os.environ["ELEVENLABS_CREDENTIAL"], base_url=base_url)
    sent_chars = sum(len(chunk) for chunk in text_chunker(iter(TEXT)))
    received = bytearray()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            for audio in client.text_to_speech.convert_realtime(
                "JBFqnCBsd6RMkjVDRZzb",
                text=iter(TEXT),
                model_id="eleven_flash_v2_5",
                output_format="pcm_16000",
            ):
                received.extend(audio)
        except BaseException as error:  # reported below
            failure.append(error)

    # The SDK's final receive loop has no timeout of its own: bound it from outside.
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(DEADLINE)
    summary = {
        "client": "elevenlabs-python-tts",
        "sent_audio_bytes": 0,
        "sent_chars": sent_chars,
        "received_audio_bytes": len(received),
        "transcript": "",
    }
    print(json.dumps(summary), flush=True)
    assert not worker.is_alive(), f"convert_realtime did not finish within {DEADLINE} s"
    assert not failure, f"convert_realtime failed: {failure[0]!r}"
    assert received, "audio arrived"
    if os.environ.get("ELEVENLABS_SIMULATED") == "1":
        want = sent_chars * BYTES_PER_CHAR
        assert len(received) == want, f"{len(received)} audio bytes != {want} (1600 per character)"
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
    except Exception as error:  # a refused handshake, a closed socket, a timeout
        print(f"FAILED: {error!r}", file=sys.stderr)
        sys.exit(1)
