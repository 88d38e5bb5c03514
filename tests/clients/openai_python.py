"""The official `openai` Python SDK (`client.realtime.connect()`) against the simulator's OpenAI Realtime side.

Only the base URL changes: `base_url="http://HOST:PORT/v1"` makes the SDK dial `ws://HOST:PORT/v1/realtime`
(it maps http to ws, https to wss). Runs a conversation turn and a transcription session
(`extra_query={"intent": "transcription"}`). Not part of the CI scripts yet. Needs
`pip install "openai[realtime]==3.51.0"` and a built target/debug/voxrelay.

    python tests/clients/openai_python.py
"""

import base64
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

from openai import OpenAI

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-simulated-openai-key"
SECOND_OF_PCM = 48_000
MAX_EVENTS = 500


def start_simulator():
    """Starts `voxrelay simulate` on a free loopback port; returns (process, address)."""
    binary = os.environ.get("VOXRELAY_BIN", str(REPO / "target/debug/voxrelay"))
    env = {**os.environ, "OPENAI_SIM_KEY": KEY, "NO_COLOR": "1"}
    process = subprocess.Popen(
        [binary, "simulate", "--listen", "127.0.0.1:0", "--api-key-env", "OPENAI_SIM_KEY"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    found = {}
    ready = threading.Event()

    def read():
        for line in process.stdout:
            plain = re.sub(r"\x1b\[[0-9;]*m", "", line)
            match = re.search(r"simulator listening.*?addr\W+([0-9.]+:\d+)", plain)
            if match and not ready.is_set():
                found["addr"] = match.group(1)
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(20):
        process.kill()
        raise SystemExit("the simulator did not start listening in time")
    return process, found["addr"]


def pcm(seconds):
    """Base64 PCM16 at a constant amplitude."""
    sample = (1000).to_bytes(2, "little", signed=True)
    return base64.b64encode(sample * int(SECOND_OF_PCM * seconds / 2)).decode()


def until(connection, kind):
    """Events up to and including the first of type `kind`."""
    seen = []
    for _ in range(MAX_EVENTS):
        event = connection.recv()
        assert event.type != "error", event
        seen.append(event)
        if event.type == kind:
            return seen
    raise AssertionError(f"no {kind} within {MAX_EVENTS} events")


def conversation(client):
    with client.realtime.connect(model="gpt-realtime") as connection:
        created = until(connection, "session.created")[-1]
        assert created.session.model == "gpt-realtime", created
        connection.session.update(
            session={
                "type": "realtime",
                "audio": {"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}},
            }
        )
        until(connection, "session.updated")
        connection.input_audio_buffer.append(audio=pcm(2))
        connection.input_audio_buffer.commit()
        heard = until(connection, "conversation.item.input_audio_transcription.completed")[-1]
        assert heard.transcript, heard
        connection.response.create()
        events = until(connection, "response.done")
        audio = sum(
            len(base64.b64decode(e.delta)) for e in events if e.type == "response.output_audio.delta"
        )
        transcript = "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")
        usage = events[-1].response.usage
        assert audio > 0 and transcript, (audio, transcript)
        assert usage.input_token_details.audio_tokens == 20, usage
        assert usage.output_token_details.audio_tokens > 0, usage
        print(f"conversation: {len(events)} events, {audio} audio bytes, {transcript!r}, {usage.total_tokens} tokens")


def transcription(client):
    with client.realtime.connect(extra_query={"intent": "transcription"}) as connection:
        created = until(connection, "session.created")[-1]
        assert created.session.type == "transcription", created
        connection.session.update(
            session={
                "type": "transcription",
                "audio": {"input": {"turn_detection": None, "transcription": {"model": "gpt-4o-transcribe"}}},
            }
        )
        until(connection, "session.updated")
        connection.input_audio_buffer.append(audio=pcm(1))
        connection.input_audio_buffer.commit()
        completed = until(connection, "conversation.item.input_audio_transcription.completed")[-1]
        assert completed.transcript == "The quick", completed
        assert completed.usage.type == "tokens", completed
        print(f"transcription: {completed.transcript!r}, usage {completed.usage.total_tokens} tokens")


def main():
    process, addr = start_simulator()
    try:
        client = OpenAI(api_key=KEY, base_url=f"http://{addr}/v1", timeout=10)
        conversation(client)
        transcription(client)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
