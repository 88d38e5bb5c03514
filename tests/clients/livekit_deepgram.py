"""LiveKit Agents' Deepgram plugin (livekit-plugins-deepgram 1.8.x) against voxrelay, changing only
its base URLs.

Streams live STT (`deepgram.STT`, /v1/listen: 50 ms audio frames, KeepAlive every 5 s, Finalize on
flush, CloseStream at the end), TTS (`deepgram.TTS.stream()`, /v1/speak: Speak per word, Flush,
then Flush + Close when the connection pool closes) and Flux (`deepgram.STTv2`, /v2/listen)
through the relay, outside any LiveKit room or job (an explicit aiohttp session). The plugin
authenticates with `Authorization: Token <key>` and pings every 30 s (aiohttp heartbeat).

Prints one JSON line summarising what arrived; exits non-zero when anything expected is missing.

    .venv-clients/bin/python tests/clients/livekit_deepgram.py --relay 127.0.0.1:8080 --key voxrelay-demo-key
"""

import argparse
import asyncio
import json
import logging
import sys
import time

import aiohttp
from livekit import rtc
from livekit.agents import APIConnectOptions, stt as agents_stt
from livekit.plugins import deepgram

SAMPLE_RATE = 16000
# 100 ms of 16 kHz mono linear16 silence
SILENCE = rtc.AudioFrame(b"\x00\x00" * 1600, SAMPLE_RATE, 1, 1600)
# no retries: a refusal or an unexpected close must fail the run, not be papered over
CONN = APIConnectOptions(max_retry=0, timeout=10.0)
DEADLINE = 30.0


async def run_stt(addr, key, session, report):
    stt = deepgram.STT(
        api_key=key, base_url=f"http://{addr}/v1/listen", http_session=session
    )
    errors = []
    stt.on("error", lambda e: errors.append(repr(getattr(e, "error", e))))
    stream = stt.stream(conn_options=CONN)
    counts = {}
    texts = []
    try:
        for _ in range(20):  # 2 s
            stream.push_frame(SILENCE)
        stream.flush()  # → Finalize
        stream.end_input()  # → CloseStream
        async for event in stream:
            name = event.type.name
            counts[name] = counts.get(name, 0) + 1
            if event.type == agents_stt.SpeechEventType.FINAL_TRANSCRIPT:
                texts.append(event.alternatives[0].text)
    finally:
        await stream.aclose()
        await stt.aclose()
    report["stt_events"] = counts
    report["stt_final_transcripts"] = counts.get("FINAL_TRANSCRIPT", 0)
    report["stt_interim_transcripts"] = counts.get("INTERIM_TRANSCRIPT", 0)
    report["stt_text"] = " ".join(t for t in texts if t)
    if errors:
        report["stt_errors"] = errors


async def run_tts(addr, key, session, report):
    tts = deepgram.TTS(
        api_key=key, base_url=f"http://{addr}/v1/speak", http_session=session
    )
    errors = []
    tts.on("error", lambda e: errors.append(repr(getattr(e, "error", e))))
    frames = 0
    audio_bytes = 0
    sample_rates = set()
    finals = 0
    stream = tts.stream(conn_options=CONN)
    try:
        stream.push_text("Hello from voxrelay, through LiveKit's Deepgram plugin.")
        stream.flush()  # → Flush; the segment ends at Flushed
        stream.end_input()
        async for audio in stream:
            frames += 1
            audio_bytes += len(audio.frame.data.tobytes())
            sample_rates.add(audio.frame.sample_rate)
            finals += 1 if audio.is_final else 0
    finally:
        await stream.aclose()
        await tts.aclose()  # closes the pooled socket: Flush, Close, waits for the close
    report["tts_audio_frames"] = frames
    report["tts_audio_bytes"] = audio_bytes
    report["tts_sample_rates"] = sorted(sample_rates)
    report["tts_segment_ends"] = finals
    if errors:
        report["tts_errors"] = errors


async def run_flux(addr, key, session, report):
    stt = deepgram.STTv2(
        api_key=key, base_url=f"ws://{addr}/v2/listen", http_session=session
    )
    errors = []
    stt.on("error", lambda e: errors.append(repr(getattr(e, "error", e))))
    stream = stt.stream(conn_options=CONN)
    counts = {}
    try:
        for _ in range(20):  # 2 s
            stream.push_frame(SILENCE)
        stream.end_input()  # → CloseStream
        async for event in stream:
            name = event.type.name
            counts[name] = counts.get(name, 0) + 1
    finally:
        await stream.aclose()
        await stt.aclose()
    report["flux_events"] = counts
    if errors:
        report["flux_errors"] = errors


async def probe_rest_tts(addr, key, session, report):
    """`TTS.synthesize()` is Deepgram's REST TTS (POST /v1/speak): recorded here, not required
    (LiveKit agents use `stream()`, the TTS declares streaming capability);
    livekit_deepgram_rest.py requires it."""
    tts = deepgram.TTS(
        api_key=key, base_url=f"http://{addr}/v1/speak", http_session=session
    )
    try:
        audio = 0
        async with tts.synthesize("rest probe", conn_options=CONN) as chunked:
            async for ev in chunked:
                audio += len(ev.frame.data.tobytes())
        report["rest_tts_synthesize"] = f"ok: {audio} bytes"
    except Exception as exc:  # a relay without REST (or with it off on the route)
        status = getattr(exc, "status_code", None)
        report["rest_tts_synthesize"] = (
            f"unsupported: {type(exc).__name__}" + (f" {status}" if status else "")
        )
    finally:
        await tts.aclose()


async def step(name, coro, report):
    started = time.monotonic()
    try:
        await asyncio.wait_for(coro, DEADLINE)
    except Exception as exc:
        report.setdefault("failures", []).append(f"{name}: {type(exc).__name__}: {exc}")
    report.setdefault("seconds", {})[name] = round(time.monotonic() - started, 2)


async def main_async(args):
    report = {"client": "livekit-plugins-deepgram"}
    try:
        from importlib.metadata import version

        report["version"] = version("livekit-plugins-deepgram")
    except Exception:
        pass
    async with aiohttp.ClientSession() as session:
        await step("stt", run_stt(args.relay, args.key, session, report), report)
        await step("tts", run_tts(args.relay, args.key, session, report), report)
        await step("flux", run_flux(args.relay, args.key, session, report), report)
        await step("rest_tts", probe_rest_tts(args.relay, args.key, session, report), report)
    return report


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--relay", required=True, help="host:port of voxrelay")
    parser.add_argument("--key", required=True, help="voxrelay client key")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    report = asyncio.run(main_async(args))
    print(json.dumps(report))
    flux = report.get("flux_events", {})
    ok = (
        not report.get("failures")
        and not report.get("stt_errors")
        and not report.get("tts_errors")
        and not report.get("flux_errors")
        and report.get("stt_final_transcripts", 0) >= 1
        and report.get("stt_text", "").strip() != ""
        and report.get("tts_audio_bytes", 0) > 0
        and report.get("tts_segment_ends", 0) >= 1
        and flux.get("START_OF_SPEECH", 0) >= 1
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
