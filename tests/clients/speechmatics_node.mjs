// The official `@speechmatics/real-time-client` (8.5.1, Node build) against a Speechmatics-RT-shaped endpoint:
// the simulator (`voxrelay simulate`) directly, or voxrelay's generic upstream in front of it.
//
// `new RealtimeClient({ url })` with the full endpoint; `start(jwt, config)` appends `?jwt=<credential>` to that
// URL and sends `StartRecognition` (raw pcm_s16le, 16 kHz, partials on); 3 s of PCM16 go out as 30 binary frames
// through `sendAudio`; `stopRecognition()` sends `EndOfStream` and waits for `EndOfTranscript`.
// The Node build dials with the `ws` package itself (its `require("ws")`), so Node 20, which has no global
// WebSocket, needs no polyfill.
//
// Env: SPEECHMATICS_URL (ws:// or wss://host:port/path, required), SPEECHMATICS_CREDENTIAL (the jwt to present),
// SPEECHMATICS_EXPECT_TRANSCRIPT (the simulator's words by default), NODE_EXTRA_CA_CERTS for a test CA.
// Prints one JSON summary line; exits non-zero on any failed assertion; every wait is bounded.

import assert from "node:assert/strict";

import { RealtimeClient } from "@speechmatics/real-time-client";

const URL_ = process.env.SPEECHMATICS_URL;
const CREDENTIAL = process.env.SPEECHMATICS_CREDENTIAL ?? "simulated-temporary-key";
const EXPECTED = process.env.SPEECHMATICS_EXPECT_TRANSCRIPT ?? "The quick brown fox jumps over the";
const RATE = 16_000;
const FRAME_BYTES = 3_200; // 0.1 s of PCM16
const FRAMES = 30; // 3 s
const TIMEOUT_MS = 10_000;
const OVERALL_MS = 30_000;

/** 0.1 s frames of a quiet 440 Hz tone, PCM16 little-endian. */
function pcmFrames() {
  const frames = [];
  for (let f = 0; f < FRAMES; f += 1) {
    const frame = Buffer.alloc(FRAME_BYTES);
    for (let i = 0; i < FRAME_BYTES / 2; i += 1) {
      const t = (f * (FRAME_BYTES / 2) + i) / RATE;
      frame.writeInt16LE(Math.round(3000 * Math.sin(2 * Math.PI * 440 * t)), i * 2);
    }
    frames.push(frame);
  }
  return frames;
}

/** Resolves when `predicate()` holds, polling the event loop; rejects after `ms`. */
function waitFor(predicate, ms, what) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (predicate()) return resolve();
      if (Date.now() - started > ms) return reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

async function main() {
  assert.ok(URL_, "SPEECHMATICS_URL is unset");
  const client = new RealtimeClient({ url: URL_, connectionTimeout: TIMEOUT_MS });
  const seen = { acks: [], finals: [], partials: 0, errors: [], endOfTranscript: false, closed: false };
  client.addEventListener("receiveMessage", ({ data }) => {
    switch (data.message) {
      case "AudioAdded":
        seen.acks.push(data.seq_no);
        break;
      case "AddPartialTranscript":
        seen.partials += 1;
        break;
      case "AddTranscript":
        assert.equal(typeof data.metadata.transcript, "string");
        for (const result of data.results) {
          assert.ok(["word", "punctuation", "entity"].includes(result.type), `result type ${result.type}`);
          assert.ok(result.end_time >= result.start_time, "result times are ordered");
          assert.equal(typeof result.alternatives[0].content, "string");
        }
        seen.finals.push(data.metadata.transcript);
        break;
      case "EndOfTranscript":
        seen.endOfTranscript = true;
        break;
      case "Error":
        seen.errors.push(`${data.type}: ${data.reason}`);
        break;
      default:
        break;
    }
  });
  client.addEventListener("socketStateChange", ({ socketState }) => {
    if (socketState === "closed") seen.closed = true;
  });

  const started = await client.start(CREDENTIAL, {
    audio_format: { type: "raw", encoding: "pcm_s16le", sample_rate: RATE },
    transcription_config: { language: "en", enable_partials: true, max_delay: 1.0 },
  });
  assert.equal(started.message, "RecognitionStarted");
  assert.equal(typeof started.id, "string");

  let sent = 0;
  for (const frame of pcmFrames()) {
    client.sendAudio(frame);
    sent += frame.length;
  }
  // stopRecognition() sends the last *acknowledged* seq_no, so wait for every ack first.
  await waitFor(() => seen.acks.length === FRAMES, TIMEOUT_MS, `${FRAMES} AudioAdded`);
  assert.deepEqual(seen.acks, Array.from({ length: FRAMES }, (_, i) => i + 1), "AudioAdded seq_no 1..N in order");
  await client.stopRecognition();
  await waitFor(() => seen.closed, TIMEOUT_MS, "the socket to close");

  assert.deepEqual(seen.errors, [], "no Error messages");
  assert.ok(seen.endOfTranscript, "EndOfTranscript received");
  assert.ok(seen.partials > 0, "AddPartialTranscript received (enable_partials)");
  const transcript = seen.finals.join("").trim();
  assert.equal(transcript, EXPECTED, "final transcript");
  console.log(JSON.stringify({ client: "speechmatics-node", sent_audio_bytes: sent, transcript }));
}

const overall = setTimeout(() => {
  console.error(`speechmatics-node: no result within ${OVERALL_MS} ms`);
  process.exit(1);
}, OVERALL_MS);
overall.unref();

main().then(
  () => process.exit(0),
  (err) => {
    // A failed dial rejects with the socket's error event, not an Error.
    const detail = err instanceof Error ? err.stack : (err?.message ?? err?.error?.message ?? String(err));
    console.error(`speechmatics-node failed: ${detail}`);
    process.exit(1);
  },
);
