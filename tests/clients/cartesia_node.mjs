// @cartesia/cartesia-js 4.2.0 in Node against a Cartesia-compatible base URL (voxrelay, or the
// simulator directly): STT over client.stt.manualFinalize.websocket() (the SDK keeps ws:// for an
// http:// base URL) streaming 3 s of PCM16 16 kHz, `finalize`, `close`; STT with turn detection over
// client.stt.autoFinalize.websocket() (speech, silence, `turn.end`, `close`); then TTS over
// client.tts.websocket(), which the SDK always dials as wss:// — so with an http:// base URL the
// TTS half is skipped with a message, and with https:// the CA comes from NODE_EXTRA_CA_CERTS.
//
//   CARTESIA_BASE_URL=http://127.0.0.1:PORT node tests/clients/cartesia_node.mjs
//
// Prints one JSON summary line; exits non-zero on any failed assertion. Every wait is bounded.
// Environment: see support/cartesia.mjs. Loads the SDK's CommonJS build (see below).

import assert from "node:assert/strict";
import { createRequire } from "node:module";

import * as c from "./support/cartesia.mjs";

// The SDK's ESM build loads `ws` with a bare `require("ws")`, which ESM lacks: on Node 20 it then finds
// no WebSocket at all, and on Node >= 22 it takes the global WebSocket and the browser form (credential
// and version in the query). The CommonJS build loads `ws` and sends headers, as a Node server would.
const { Cartesia } = createRequire(import.meta.url)("@cartesia/cartesia-js");

assert.ok(c.BASE_URL, "CARTESIA_BASE_URL is unset");
const client = new Cartesia({ [c.KIND]: c.CREDENTIAL, baseURL: c.BASE_URL, maxRetries: 0 });
const summary = { client: "cartesia-node", sent_audio_bytes: 0, sent_chars: 0, received_audio_bytes: 0, transcript: "" };

async function stt() {
  const ws = client.stt.manualFinalize.websocket(c.STT_PARAMS);
  const finals = [];
  let interims = 0;
  const errors = [];
  ws.on("error", (error) => errors.push(error.message));
  ws.on("transcript", (event) => (event.is_final ? finals.push(event) : interims++));
  const flushed = new Promise((resolve) => ws.on("flush_done", resolve));
  const done = new Promise((resolve) => ws.on("done", resolve));
  const closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
  // A refused or dropped socket ends the wait at once instead of at the timeout.
  const early = closed.then((code) => {
    throw new Error(`socket closed (${code}) before flush_done: ${errors.join("; ")}`);
  });
  early.catch(() => {});
  // Frames sent before the socket opens are queued by the SDK and flushed on open.
  for (let i = 0; i < c.FRAMES; i++) {
    ws.sendRaw(c.frame(i));
    summary.sent_audio_bytes += c.FRAME_BYTES;
  }
  ws.send("finalize");
  await c.within(15_000, "flush_done after finalize", Promise.race([flushed, early]));
  ws.send("close");
  await c.within(15_000, "done after close", done);
  const code = await c.within(15_000, "the server's close", closed);
  summary.transcript = finals.map((f) => f.text).join("");
  summary.stt_interims = interims;
  summary.stt_close_code = code;
  assert.deepEqual(errors, [], "no STT errors");
  assert.equal(code, 1000);
  assert.ok(finals.length >= 1, "a final transcript arrived");
  if (c.EXPECT_TRANSCRIPT !== "") assert.equal(summary.transcript, c.EXPECT_TRANSCRIPT);
  const duration = finals.reduce((sum, f) => sum + (f.duration ?? 0), 0);
  assert.ok(Math.abs(duration - 3) < 0.05, `final durations add up to 3 s, got ${duration}`);
}

// STT with turn detection: 2 s of tone then 1.2 s of silence (the simulator ends a turn after 1 s of it).
async function turns() {
  const ws = client.stt.autoFinalize.websocket({ ...c.STT_PARAMS, turn_end_timeout_ms: 1000 });
  const events = [];
  const errors = [];
  ws.on("error", (error) => errors.push(error.message));
  ws.on("event", (event) => events.push(event));
  const ended = new Promise((resolve) => ws.on("turn.end", resolve));
  const closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
  const silence = new Uint8Array(c.FRAME_BYTES);
  for (let i = 0; i < 32; i++) {
    ws.sendRaw(i < 20 ? c.frame(i) : silence);
    summary.sent_audio_bytes += c.FRAME_BYTES;
  }
  const end = await c.within(15_000, "turn.end", ended);
  ws.send({ type: "close" });
  const code = await c.within(15_000, "the server's close", closed);
  summary.turns = events.map((e) => e.type).join(",");
  summary.turn_transcript = end.transcript;
  assert.deepEqual(errors, [], "no turn errors");
  assert.equal(code, 1000);
  assert.equal(events[0]?.type, "connected");
  assert.ok(events.some((e) => e.type === "turn.start"), "turn.start arrived");
  if (c.EXPECT_TRANSCRIPT !== "") assert.equal(end.transcript, "the quick brown fox jumps");
}

async function tts() {
  if (new URL(c.BASE_URL).protocol !== "https:") {
    summary.tts = "skipped";
    console.error(`TTS skipped: cartesia-js dials wss:// for TTS whatever the base URL (${c.BASE_URL}); give an https:// base URL and NODE_EXTRA_CA_CERTS`);
    return;
  }
  const ws = await c.within(15_000, "the TTS socket opening", client.tts.websocket());
  const errors = [];
  ws.on("error", (error) => errors.push(error.message));
  try {
    const ctx = ws.context({ ...c.TTS_OPTIONS, timeout: 15_000 });
    await ctx.push({ transcript: c.TTS_TEXT });
    summary.sent_chars += c.TTS_TEXT.length;
    await ctx.no_more_inputs();
    let last;
    for await (const event of ctx.receive()) {
      last = event.type;
      if (event.type === "chunk") summary.received_audio_bytes += event.audio.byteLength;
    }
    assert.equal(last, "done", "the context ended with done");
  } finally {
    ws.close();
  }
  assert.deepEqual(errors, [], "no TTS errors");
  assert.ok(summary.received_audio_bytes > 0, "TTS audio arrived");
  if (c.EXPECT_TRANSCRIPT !== "") assert.equal(summary.received_audio_bytes, c.SIMULATED_TTS_BYTES);
  summary.tts = "ok";
}

let failure;
try {
  await stt();
  await turns();
  await tts();
} catch (error) {
  failure = error;
}
console.log(JSON.stringify(summary));
if (failure) {
  console.error(failure);
  process.exit(1);
}
process.exit(0);
