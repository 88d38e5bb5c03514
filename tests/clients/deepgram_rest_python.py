"""Deepgram's official Python SDK (deepgram-sdk 7.x) against voxrelay's REST endpoints, changing
only the base URL (`DeepgramClientEnvironment(base="http://<relay>", …)`).

- `client.listen.v1.media.transcribe_file(request=<wav bytes>, model="nova-3")`:
  POST /v1/listen, `Content-Type: application/octet-stream`, the bytes as the body;
  the same with an iterator of chunks (sent `Transfer-Encoding: chunked`, no length);
- `client.listen.v1.media.transcribe_url(url=…, model="nova-3")`: POST /v1/listen,
  `Content-Type: application/json`, `{"url": …}` (with `--url-refused`, for routes whose upstreams
  take no URLs, such as Workers AI, the SDK must raise a 403 `ApiError` instead);
- `client.speak.v1.audio.generate(text=…, model="aura-2-thalia-en")`: POST /v1/speak,
  `{"text": …}`, the audio streamed back (and once more through `with_raw_response` for the
  `dg-*` response headers);
- `transcribe_file` again with a token from the relay's grant endpoint (`access_token=`, sent as
  `Authorization: bearer <token>`);
- refusals the SDK raises as `ApiError`: a URL on a host the route does not list, a wrong key.

Every other request carries `Authorization: Token <key>` (the SDK's own header). Prints one JSON line
summarising what arrived; exits non-zero when anything expected is missing.

    .venv-clients/bin/python tests/clients/deepgram_rest_python.py --relay 127.0.0.1:8080 \
        --key voxrelay-demo-key --url-host media.example.com
"""

import argparse
import io
import json
import math
import struct
import sys
import wave

from deepgram import DeepgramClient
from deepgram.core.api_error import ApiError
from deepgram.environment import DeepgramClientEnvironment
from deepgram.types.listen_v1response import ListenV1Response

SECONDS = 1.5
RATE = 16000


def wav_bytes(seconds=SECONDS, rate=RATE):
    """`seconds` of a 440 Hz tone, 16 kHz mono 16-bit PCM in a WAV container."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


def summary(response):
    """Transcript, duration and request id of a prerecorded response (an SDK model)."""
    out = {"type": type(response).__name__}
    metadata = getattr(response, "metadata", None)
    results = getattr(response, "results", None)
    out["duration"] = getattr(metadata, "duration", None)
    out["request_id"] = getattr(metadata, "request_id", None)
    try:
        out["transcript"] = results.channels[0].alternatives[0].transcript
    except (AttributeError, IndexError, TypeError):
        out["transcript"] = None
    return out


def status_of(call):
    """The HTTP status of the `ApiError` `call` raises; what came back instead when it does not."""
    try:
        result = call()
    except ApiError as e:
        return e.status_code
    return f"no error: {type(result).__name__}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--relay", required=True, help="host:port of voxrelay")
    parser.add_argument("--key", required=True, help="voxrelay client key")
    parser.add_argument(
        "--url-host",
        default="media.example.com",
        help="a host the route's rest.url_hosts lists (the relay never fetches it)",
    )
    parser.add_argument(
        "--url-refused",
        action="store_true",
        help="the route's upstreams take no URLs (Workers AI): transcribe_url must get 403",
    )
    parser.add_argument(
        "--tls", action="store_true", help="https:// (trust the relay's CA with SSL_CERT_FILE)"
    )
    args = parser.parse_args()
    http, ws = ("https", "wss") if args.tls else ("http", "ws")
    env = DeepgramClientEnvironment(
        base=f"{http}://{args.relay}",
        production=f"{ws}://{args.relay}",
        agent=f"{ws}://{args.relay}",
        agent_rest=f"{http}://{args.relay}",
    )
    # no retries: a refusal or a 5xx must show, not be retried away
    client = DeepgramClient(api_key=args.key, environment=env, max_retries=0, timeout=30)
    report = {"client": "deepgram-sdk (python)", "wav_bytes": 0}
    failures = []

    def step(name, fn):
        try:
            fn()
        except Exception as e:  # recorded, and the run fails
            failures.append(f"{name}: {type(e).__name__}: {e}"[:500])

    audio = wav_bytes()
    report["wav_bytes"] = len(audio)

    def transcribe_file():
        response = client.listen.v1.media.transcribe_file(
            request=audio, model="nova-3", smart_format=True
        )
        report["file"] = summary(response)

    def transcribe_file_chunked():
        # an iterator body: httpx sends it with `Transfer-Encoding: chunked`, no Content-Length
        chunks = (audio[i : i + 8192] for i in range(0, len(audio), 8192))
        response = client.listen.v1.media.transcribe_file(request=chunks, model="nova-3")
        report["file_chunked"] = summary(response)

    def transcribe_url():
        def call():
            return client.listen.v1.media.transcribe_url(
                url=f"https://{args.url_host}/audio/hello.wav", model="nova-3"
            )

        if args.url_refused:
            report["url_status"] = status_of(call)
        else:
            report["url"] = summary(call())

    def speak():
        audio_bytes = 0
        for chunk in client.speak.v1.audio.generate(
            text="Hello from voxrelay.", model="aura-2-thalia-en"
        ):
            audio_bytes += len(chunk)
        report["speak_audio_bytes"] = audio_bytes
        # the same call, raw: its response headers
        with client.speak.v1.audio.with_raw_response.generate(
            text="Hello again.", model="aura-2-thalia-en", encoding="linear16", sample_rate=24000
        ) as raw:
            body = b"".join(raw.data)
            headers = {k.lower(): v for k, v in raw.headers.items()}
        report["speak_raw"] = {
            "status": raw.status_code,
            "audio_bytes": len(body),
            "content_type": headers.get("content-type"),
            "dg_model_name": headers.get("dg-model-name"),
            "dg_request_id": headers.get("dg-request-id"),
            "dg_char_count": headers.get("dg-char-count"),
        }

    def with_grant():
        # a short-lived token from the relay's grant endpoint (POST /v1/auth/grant), then the
        # upload with it: the SDK sends `Authorization: bearer <token>`
        grant = client.auth.v1.tokens.grant(ttl_seconds=60)
        with_token = DeepgramClient(
            access_token=grant.access_token, environment=env, max_retries=0, timeout=30
        )
        response = with_token.listen.v1.media.transcribe_file(request=audio, model="nova-3")
        report["bearer_file"] = summary(response)

    def refusals():
        report["url_other_host_status"] = status_of(
            lambda: client.listen.v1.media.transcribe_url(
                url="https://not-listed.invalid/audio.wav", model="nova-3"
            )
        )
        wrong = DeepgramClient(api_key="not-a-voxrelay-key", environment=env, max_retries=0)
        report["wrong_key_status"] = status_of(
            lambda: wrong.listen.v1.media.transcribe_file(request=audio, model="nova-3")
        )

    step("transcribe_file", transcribe_file)
    step("transcribe_file_chunked", transcribe_file_chunked)
    step("transcribe_url", transcribe_url)
    step("speak", speak)
    step("with_grant", with_grant)
    step("refusals", refusals)
    if failures:
        report["failures"] = failures
    print(json.dumps(report))

    def prerecorded_ok(r, duration):
        return (
            r is not None
            and r["type"] == ListenV1Response.__name__
            and bool(r["transcript"])
            and isinstance(r["duration"], (int, float))
            and (duration is None or abs(r["duration"] - duration) < 0.05)
        )

    ok = (
        not failures
        and prerecorded_ok(report.get("file"), SECONDS)
        and prerecorded_ok(report.get("file_chunked"), SECONDS)
        and (
            report.get("url_status") == 403
            if args.url_refused
            else prerecorded_ok(report.get("url"), None)
        )
        and prerecorded_ok(report.get("bearer_file"), SECONDS)
        and report.get("speak_audio_bytes", 0) > 0
        and report["speak_raw"]["audio_bytes"] > 0
        and report["speak_raw"]["dg_model_name"]
        and report.get("url_other_host_status") == 403
        and report.get("wrong_key_status") == 401
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
