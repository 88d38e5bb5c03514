// ElevenLabs Scribe realtime with the official Node SDK (@elevenlabs/elevenlabs-js), against a
// relay or voxrelay's simulator.
//
// `client.speechToText.realtime.connect({ modelId, audioFormat, sampleRate, commitStrategy })`
// opens `ws(s)://<base>/v1/speech-to-text/realtime?model_id=…&commit_strategy=manual&audio_format=pcm_16000`
// (the `ws` package; http→ws, https→wss) with header `xi-api-key: <credential>`. The test streams
// 3 s of a 440 Hz tone as PCM16 16 kHz `input_audio_chunk` messages (100 ms each), commits, and
// asserts a committed transcript arrives. Prints one JSON summary line; exits non-zero on failure.
//
//   ELEVENLABS_BASE_URL    http(s)://host:port (https: NODE_EXTRA_CA_CERTS for a private CA)
//   ELEVENLABS_CREDENTIAL  the key (or relay-issued credential) sent as xi-api-key
//   ELEVENLABS_SIMULATED   1: the upstream is voxrelay's simulator, so the transcript is known

import assert from "node:assert/strict";

import { AudioFormat, CommitStrategy, ElevenLabsClient, RealtimeEvents } from "@elevenlabs/elevenlabs-js";

import { BYTES_PER_SECOND, RATE, base64, simulatedTranscript, tone, within } from "./support/elevenlabs_audio.mjs";

const STEP_MS = 15_000;

async function main() {
  const baseUrl = process.env.ELEVENLABS_BASE_URL;
  const apiKey = process.env.ELEVENLABS_CREDENTIAL;
  assert.ok(baseUrl && apiKey, "ELEVENLABS_BASE_URL and ELEVENLABS_CREDENTIAL are required");
  const client = new ElevenLabsClient({ apiKey, baseUrl });
  const connection = await client.speechToText.realtime.connect({
    modelId: "scribe_v2_realtime",
    audioFormat: AudioFormat.PCM_16000,
    sampleRate: RATE,
    commitStrategy: CommitStrategy.MANUAL,
  });
  // Every event, in order, so waits can look back (session_started may come before we ask).
  const seen = [];
  const waiters = [];
  const record = (type) => (data) => {
    seen.push({ type, data });
    for (const waiter of [...waiters]) waiter();
  };
  for (const type of [RealtimeEvents.SESSION_STARTED, RealtimeEvents.PARTIAL_TRANSCRIPT,
    RealtimeEvents.COMMITTED_TRANSCRIPT, RealtimeEvents.ERROR, RealtimeEvents.CLOSE]) {
    connection.on(type, record(type));
  }
  const next = (type) =>
    within(STEP_MS, type, new Promise((resolve, reject) => {
      const check = () => {
        const found = seen.find((e) => e.type === type);
        const bad = seen.find((e) => e.type === RealtimeEvents.ERROR || e.type === RealtimeEvents.CLOSE);
        if (found) resolve(found.data);
        else if (bad) reject(new Error(`${bad.type} while waiting for ${type}: ${describe(bad.data)}`));
        else return;
        waiters.splice(waiters.indexOf(check), 1);
      };
      waiters.push(check);
      check();
    }));

  const started = await next(RealtimeEvents.SESSION_STARTED);
  assert.ok(started.session_id, "session_started carries a session_id");
  const audio = tone(3);
  for (let at = 0; at < audio.length; at += BYTES_PER_SECOND / 10) {
    connection.send({ audioBase64: base64(audio.subarray(at, at + BYTES_PER_SECOND / 10)) });
  }
  connection.commit();
  const committed = await next(RealtimeEvents.COMMITTED_TRANSCRIPT);
  const partials = seen.filter((e) => e.type === RealtimeEvents.PARTIAL_TRANSCRIPT).length;
  const closed = within(STEP_MS, "close", new Promise((resolve) => connection.on(RealtimeEvents.CLOSE, resolve)));
  connection.close();
  await closed;

  const transcript = committed.text ?? "";
  console.log(JSON.stringify({
    client: "elevenlabs-node-scribe",
    sent_audio_bytes: audio.length,
    sent_chars: 0,
    received_audio_bytes: 0,
    transcript,
    partials,
  }));
  assert.ok(transcript.length > 0, "a non-empty committed transcript");
  if (process.env.ELEVENLABS_SIMULATED === "1") {
    assert.equal(transcript, simulatedTranscript(audio.length));
    assert.ok(partials > 0, "partial transcripts arrived");
  }
}

function describe(data) {
  if (data instanceof Error) return data.message;
  try {
    return JSON.stringify(data);
  } catch {
    return String(data);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`FAILED: ${error.stack ?? error}`);
    process.exit(1);
  },
);
