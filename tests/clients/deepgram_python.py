"""Deepgram's official Python SDK (deepgram-sdk 7.x) against voxrelay, changing only the base URL.

Streams live STT (/v1/listen), TTS (/v1/speak) and Flux (/v2/listen) through the relay, then
trades the key for a grant (/v1/auth/grant) and streams with that token; prints
one JSON line summarising what arrived. Exits non-zero when anything expected is missing.
"""

import argparse
import json
import sys

from deepgram import DeepgramClient
from deepgram.environment import DeepgramClientEnvironment
from deepgram.speak.v1.types import SpeakV1Text

# 100 ms of 16 kHz linear16 silence
CHUNK = b"\x00\x00" * 1600


def field(message, name, default=None):
    """Reads a field from an SDK model or a plain dict."""
    if isinstance(message, dict):
        return message.get(name, default)
    return getattr(message, name, default)


def stt(client, report):
    with client.listen.v1.connect(
        model="nova-3", encoding="linear16", sample_rate=16000, interim_results=True
    ) as conn:
        for _ in range(25):
            conn.send_media(CHUNK)
        conn.send_keep_alive()
        conn.send_finalize()
        conn.send_close_stream()
        texts = []
        for message in conn:
            kind = field(message, "type")
            if kind == "Results" and field(message, "is_final"):
                alternatives = field(field(message, "channel"), "alternatives")
                texts.append(field(alternatives[0], "transcript"))
            elif kind == "Metadata":
                report["stt_metadata"] = True
        report["stt_final_transcripts"] = len(texts)
        report["stt_text"] = " ".join(t for t in texts if t)


def tts(client, report):
    with client.speak.v1.connect(
        model="aura-2-thalia-en", encoding="linear16", sample_rate=24000
    ) as conn:
        conn.send_text(SpeakV1Text(type="Speak", text="Hello from voxrelay."))
        conn.send_flush()
        for message in conn:
            if isinstance(message, bytes):
                report["tts_audio_bytes"] += len(message)
            elif field(message, "type") == "Flushed":
                report["tts_flushed"] = True
                conn.send_close()


def flux(client, report):
    with client.listen.v2.connect(
        model="flux-general-en", encoding="linear16", sample_rate="16000"
    ) as conn:
        for _ in range(10):
            conn.send_media(CHUNK)
        conn.send_close_stream()
        try:
            for message in conn:
                if field(message, "type") == "TurnInfo":
                    report["flux_turn_infos"] += 1
        except Exception as exc:  # Flux ends without a close status, as Deepgram does
            report["flux_end"] = type(exc).__name__


def grant_then_stt(client, env, report):
    """The browser flow's backend half: trade the client key for a short-lived token, then
    stream with the token (the SDK sends `Authorization: bearer <token>`)."""
    grant = client.auth.v1.tokens.grant(ttl_seconds=60)
    report["grant_expires_in"] = grant.expires_in
    with_token = DeepgramClient(access_token=grant.access_token, environment=env)
    inner = {"stt_final_transcripts": 0, "stt_text": "", "stt_metadata": False}
    stt(with_token, inner)
    report["grant_stt_final_transcripts"] = inner["stt_final_transcripts"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--relay", required=True, help="host:port of voxrelay")
    parser.add_argument("--key", required=True, help="voxrelay client key")
    parser.add_argument(
        "--tls",
        action="store_true",
        help="https:// and wss:// (trust the relay's CA with SSL_CERT_FILE)",
    )
    args = parser.parse_args()
    http, ws = ("https", "wss") if args.tls else ("http", "ws")
    env = DeepgramClientEnvironment(
        base=f"{http}://{args.relay}",
        production=f"{ws}://{args.relay}",
        agent=f"{ws}://{args.relay}",
        agent_rest=f"{http}://{args.relay}",
    )
    client = DeepgramClient(api_key=args.key, environment=env)
    report = {
        "stt_final_transcripts": 0,
        "stt_text": "",
        "stt_metadata": False,
        "tts_audio_bytes": 0,
        "tts_flushed": False,
        "flux_turn_infos": 0,
    }
    stt(client, report)
    tts(client, report)
    flux(client, report)
    grant_then_stt(client, env, report)
    print(json.dumps(report))
    ok = (
        report["stt_final_transcripts"] >= 1
        and report["stt_metadata"]
        and report["tts_audio_bytes"] > 0
        and report["tts_flushed"]
        and report["flux_turn_infos"] >= 1
        and report.get("grant_expires_in") == 60
        and report.get("grant_stt_final_transcripts", 0) >= 1
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
