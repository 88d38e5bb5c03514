"""The official `openai` Python SDK (`client.realtime.connect()`) against voxrelay's `realtime` route.

Only the base URL changes: `base_url="https://RELAY/v1"` (the SDK maps https to wss; the test CA is trusted
through SSL_CERT_FILE) or `http://RELAY/v1` for plain ws, with the voxrelay client key as `api_key`. Through
voxrelay to the Realtime simulator it runs a conversation turn (transcript of the audio sent, output audio
deltas, response.done with usage) and a transcription session (`extra_query={"intent": "transcription"}`: the
SDK has no parameter of its own for it), then checks a wrong key is refused with 401. Everything received is
checked for the upstream key, and the upstream's recorded handshakes for the client key (see
tests/clients/support/upstream.mjs). Prints one JSON summary line; exits non-zero on any failure.

Run by scripts/test-clients.sh (`openai-python`).
"""

import argparse
import base64
import json
import math
import os
import struct
import sys

from openai import OpenAI

RATE = 24_000
BYTES_PER_SECOND = RATE * 2
SENTENCE = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"]
MAX_EVENTS = 500
UPSTREAM_KEY = os.environ.get("VOXRELAY_UPSTREAM_KEY", "")
HANDSHAKES = os.environ.get("VOXRELAY_UPSTREAM_HANDSHAKES", "")


def speech_pcm(seconds):
    """The voiced test signal of tests/clients/support/realtime_audio.mjs, as PCM16 LE at 24 kHz."""
    out = bytearray()
    for i in range(round(seconds * RATE)):
        t = i / RATE
        voiced = 0.0
        for h in range(1, 21):
            f = 140 * h
            gain = math.exp(-(((f - 700) / 150) ** 2)) + 0.6 * math.exp(-(((f - 1200) / 200) ** 2)) + 0.05
            voiced += gain / h * math.sin(2 * math.pi * f * t)
        syllable = 0.5 - 0.5 * math.cos(2 * math.pi * 4 * t)
        out += struct.pack("<h", max(-32768, min(32767, round(9000 * syllable * voiced))))
    return bytes(out)


def expected_transcript(seconds):
    """What the simulator transcribes for the first `seconds` (whole) of audio in a session."""
    words = []
    for i in range(max(1, int(seconds * 2))):
        position = i % len(SENTENCE)
        word = SENTENCE[position]
        if position == 0:
            word = word.capitalize()
        if position == len(SENTENCE) - 1:
            word += "."
        words.append(word)
    return " ".join(words)


class Session:
    """An SDK connection whose every received text is kept for the upstream-key check."""

    def __init__(self, connection, received):
        self.connection = connection
        self.received = received
        response = getattr(connection._connection, "response", None)
        if response is not None:
            received.append(json.dumps(dict(response.headers.raw_items())))

    def until(self, kind):
        """Events up to and including the first of type `kind`."""
        seen = []
        for _ in range(MAX_EVENTS):
            raw = self.connection.recv_bytes()
            self.received.append(raw.decode())
            event = self.connection.parse_event(raw)
            assert event.type != "error", event
            seen.append(event)
            if event.type == kind:
                return seen
        raise AssertionError(f"no {kind} within {MAX_EVENTS} events")

    def speak(self, seconds):
        """Appends `seconds` of the test signal in 100 ms events."""
        pcm = speech_pcm(seconds)
        step = BYTES_PER_SECOND // 10
        for at in range(0, len(pcm), step):
            self.connection.input_audio_buffer.append(audio=base64.b64encode(pcm[at : at + step]).decode())


def handshakes():
    """The upstream's recorded handshakes so far."""
    if not os.path.exists(HANDSHAKES):
        return []
    with open(HANDSHAKES, encoding="utf-8") as log:
        return [json.loads(line) for line in log if line.strip()]


def check_upstream(since, key):
    """The upstream handshakes after `since` carried only the upstream key, never the client's."""
    seen = handshakes()[since:]
    assert seen, "the upstream saw handshakes"
    for h in seen:
        assert h["request"].startswith("GET /v1/realtime?"), h["request"]
        authorization = [v for name, v in h["headers"] if name == "authorization"]
        assert authorization == [f"Bearer {UPSTREAM_KEY}"], f"upstream Authorization for {h['request']}"
        text = "\n".join([h["request"], *(f"{n}: {v}" for n, v in h["headers"])])
        assert key not in text, f"the client key reached the upstream ({h['request']})"
    return len(seen)


def conversation(client, key, report):
    since, received = len(handshakes()), []
    with client.realtime.connect(model="gpt-realtime") as connection:
        s = Session(connection, received)
        created = s.until("session.created")[-1]
        assert created.session.model == "gpt-realtime", created
        connection.session.update(
            session={
                "type": "realtime",
                "audio": {"input": {"turn_detection": None, "transcription": {"model": "gpt-4o-transcribe"}}},
            }
        )
        s.until("session.updated")
        s.speak(2)
        connection.input_audio_buffer.commit()
        heard = s.until("conversation.item.input_audio_transcription.completed")[-1]
        assert heard.transcript == expected_transcript(2), heard.transcript
        connection.response.create()
        events = s.until("response.done")
        audio = sum(len(base64.b64decode(e.delta)) for e in events if e.type == "response.output_audio.delta")
        transcript = "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")
        response = events[-1].response
        assert response.status == "completed", response.status
        assert audio > 0 and transcript, (audio, transcript)
        assert response.usage.input_token_details.audio_tokens == 20, response.usage
        assert response.usage.output_token_details.audio_tokens > 0, response.usage
    assert received and not any(UPSTREAM_KEY in text for text in received), "the upstream key reached the client"
    report["conversation"] = {
        "heard": heard.transcript,
        "audio_bytes": audio,
        "total_tokens": response.usage.total_tokens,
        "upstream_handshakes": check_upstream(since, key),
    }


def transcription(client, key, report):
    since, received = len(handshakes()), []
    with client.realtime.connect(extra_query={"intent": "transcription"}) as connection:
        s = Session(connection, received)
        created = s.until("session.created")[-1]
        assert created.session.type == "transcription", created
        connection.session.update(
            session={
                "type": "transcription",
                "audio": {"input": {"turn_detection": None, "transcription": {"model": "gpt-4o-transcribe"}}},
            }
        )
        s.until("session.updated")
        s.speak(1)
        connection.input_audio_buffer.commit()
        events = s.until("conversation.item.input_audio_transcription.completed")
        completed = events[-1]
        deltas = "".join(e.delta for e in events if e.type == "conversation.item.input_audio_transcription.delta")
        assert completed.transcript == expected_transcript(1), completed.transcript
        assert deltas == completed.transcript, deltas
        assert completed.usage.type == "tokens", completed.usage
        assert completed.usage.input_token_details.audio_tokens == 10, completed.usage
    assert received and not any(UPSTREAM_KEY in text for text in received), "the upstream key reached the client"
    report["transcription"] = {
        "transcript": completed.transcript,
        "total_tokens": completed.usage.total_tokens,
        "upstream_handshakes": check_upstream(since, key),
    }


def wrong_key(base_url, report):
    since = len(handshakes())
    client = OpenAI(api_key="sk-wrong", base_url=base_url, timeout=10)
    try:
        with client.realtime.connect(model="gpt-realtime", max_retries=0) as connection:
            connection.recv()
    except Exception as error:  # the SDK surfaces websockets' InvalidStatus
        status = getattr(getattr(error, "response", None), "status_code", None)
        assert status == 401 or "401" in str(error), repr(error)
        assert UPSTREAM_KEY not in str(error)
        report["wrong_key"] = f"{type(error).__name__} {status or str(error)}"
    else:
        raise AssertionError("a wrong key was accepted")
    assert len(handshakes()) == since, "a refused client reached the upstream"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="https://HOST:PORT/v1 (or http://… for plain ws)")
    parser.add_argument("--key", required=True, help="the voxrelay client key")
    args = parser.parse_args()
    assert UPSTREAM_KEY and HANDSHAKES, "VOXRELAY_UPSTREAM_KEY / VOXRELAY_UPSTREAM_HANDSHAKES unset: use scripts/test-clients.sh"
    client = OpenAI(api_key=args.key, base_url=args.base_url, timeout=10)
    report = {"base_url": args.base_url}
    conversation(client, args.key, report)
    transcription(client, args.key, report)
    wrong_key(args.base_url, report)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
