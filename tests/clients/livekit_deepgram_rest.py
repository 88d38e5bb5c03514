"""LiveKit Agents' Deepgram plugin (livekit-plugins-deepgram 1.8.x) against voxrelay's REST
endpoints, changing only its base URLs, outside any LiveKit room or job (an explicit aiohttp
session):

- `deepgram.TTS(base_url="http://<relay>/v1/speak").synthesize(text)` (the plugin's
  `ChunkedStream`): POST /v1/speak?encoding=linear16&container=none&model=…&sample_rate=24000
  &mip_opt_out=false, `Content-Type: application/json`, `{"text": …}`; the body is raw PCM, emitted
  as audio frames;
- `deepgram.STT(base_url="http://<relay>/v1/listen").recognize(frames)`: POST /v1/listen?model=…,
  `Content-Type: audio/wav` (the frames as a WAV file), `Accept: application/json`; reads
  `metadata.request_id` and `results.channels[0].alternatives[…]` (transcript, confidence, words).

Both authenticate with `Authorization: Token <key>`. Prints one JSON line summarising what
arrived; exits non-zero when anything expected is missing.

    .venv-clients/bin/python tests/clients/livekit_deepgram_rest.py --relay 127.0.0.1:8080 --key voxrelay-demo-key
"""

import argparse
import asyncio
import json
import logging
import math
import struct
import sys

import aiohttp
from livekit import rtc
from livekit.agents import APIConnectOptions
from livekit.plugins import deepgram

RATE = 16000
SECONDS = 1.5
# no retries: a refusal must fail the run, not be papered over
CONN = APIConnectOptions(max_retry=0, timeout=10.0)
DEADLINE = 30.0


def tone_frames(seconds=SECONDS, rate=RATE):
    """`seconds` of a 440 Hz tone as 100 ms 16 kHz mono frames."""
    per_frame = rate // 10
    frames = []
    for start in range(0, int(seconds * rate), per_frame):
        pcm = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * (start + i) / rate)))
            for i in range(per_frame)
        )
        frames.append(rtc.AudioFrame(pcm, rate, 1, per_frame))
    return frames


async def synthesize(addr, key, session, report):
    tts = deepgram.TTS(
        api_key=key,
        base_url=f"http://{addr}/v1/speak",
        model="aura-2-thalia-en",
        http_session=session,
    )
    frames = 0
    samples = 0
    rates = set()
    try:
        async with tts.synthesize("Hello from voxrelay.", conn_options=CONN) as stream:
            async for audio in stream:
                frames += 1
                samples += audio.frame.samples_per_channel
                rates.add(audio.frame.sample_rate)
    finally:
        await tts.aclose()
    report["tts_frames"] = frames
    report["tts_samples"] = samples
    report["tts_sample_rates"] = sorted(rates)


async def recognize(addr, key, session, report):
    stt = deepgram.STT(
        api_key=key,
        base_url=f"http://{addr}/v1/listen",
        model="nova-3",
        http_session=session,
    )
    try:
        event = await stt.recognize(tone_frames(), conn_options=CONN)
    finally:
        await stt.aclose()
    report["stt_event"] = event.type.name
    report["stt_request_id"] = event.request_id
    report["stt_text"] = event.alternatives[0].text if event.alternatives else ""


async def step(name, coro, report):
    try:
        await asyncio.wait_for(coro, DEADLINE)
    except Exception as exc:
        report.setdefault("failures", []).append(f"{name}: {type(exc).__name__}: {exc}"[:500])


async def main_async(args):
    report = {"client": "livekit-plugins-deepgram (REST)"}
    async with aiohttp.ClientSession() as session:
        await step("synthesize", synthesize(args.relay, args.key, session, report), report)
        await step("recognize", recognize(args.relay, args.key, session, report), report)
    return report


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--relay", required=True, help="host:port of voxrelay")
    parser.add_argument("--key", required=True, help="voxrelay client key")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    report = asyncio.run(main_async(args))
    print(json.dumps(report))
    ok = (
        not report.get("failures")
        and report.get("tts_frames", 0) > 0
        and report.get("tts_samples", 0) > 0
        and report.get("stt_event") == "FINAL_TRANSCRIPT"
        and report.get("stt_text", "").strip() != ""
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
