// The official `openai` Node SDK against voxrelay's `realtime` route, changing only its base URL:
// `baseURL: "https://<relay>/v1"`, the voxrelay client key as `apiKey`, the test CA trusted through
// NODE_EXTRA_CA_CERTS (the SDK always dials wss:). Through voxrelay to the Realtime simulator:
//   - OpenAIRealtimeWS (`ws`, `Authorization: Bearer`): a conversation turn (transcript of the audio
//     sent, output audio deltas, response.done with usage) and an `intent=transcription` session;
//   - OpenAIRealtimeWebSocket (the browser-form class: subprotocols `realtime,
//     openai-insecure-api-key.<key>`): a session answered with `realtime`;
//   - a wrong key: the SDK reports the 401;
//   - `client.realtime.clientSecrets.create()` against voxrelay,
//     then a browser-form conversation with the returned `ek_` value.
// Every test also checks that nothing received carries the upstream key, and that the upstream's
// handshakes carried only that key, never a client credential.
//
// Run by scripts/test-clients.sh (`openai-node`), which provides the TLS relay (VOXRELAY_ADDR,
// NODE_EXTRA_CA_CERTS) and the recorded upstream (support/upstream.mjs).

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";

import OpenAI from "openai";
import { OpenAIRealtimeWebSocket } from "openai/realtime/websocket";
import { OpenAIRealtimeWS } from "openai/realtime/ws";
import { WebSocket as WsWebSocket } from "ws";

import { BYTES_PER_SECOND, base64, expectedTranscript, speechPcm } from "./support/realtime_audio.mjs";
import {
  assertNoUpstreamKey,
  assertUpstreamSawOnlyItsKey,
  requireUpstreamTap,
  upstreamHandshakes,
} from "./support/upstream.mjs";
import { KEY, within } from "./support/voxrelay.mjs";

requireUpstreamTap();
assert.ok(process.env.VOXRELAY_ADDR, "VOXRELAY_ADDR (a voxrelay with [server.tls]) is unset");
const BASE_URL = `https://${process.env.VOXRELAY_ADDR}/v1`;
// OpenAIRealtimeWebSocket uses the runtime's WebSocket (global from Node 22; `ws` before that).
globalThis.WebSocket ??= WsWebSocket;

const summary = {};
after(() => {
  const dir = process.env.VOXRELAY_SUMMARY_DIR;
  if (dir) writeFileSync(join(dir, "openai-node.json"), JSON.stringify(summary) + "\n");
});

/** Every event of `rt` as it comes, awaitable by type; raw texts kept for the upstream-key check. */
function collect(rt) {
  const events = [];
  const received = [];
  const errors = [];
  let wake = () => {};
  rt.on("event", (event) => {
    events.push(event);
    received.push(JSON.stringify(event));
    wake();
  });
  rt.on("error", (error) => {
    errors.push(error);
    wake();
  });
  let read = 0;
  /** Events from the last call's end up to and including the next of `type` (bounded). */
  const until = (type) =>
    within(
      15_000,
      type,
      (async () => {
        for (;;) {
          if (errors.length) throw new Error(`SDK error: ${errors.map(String).join("; ")}`);
          const at = events.findIndex((e, i) => i >= read && e.type === type);
          if (at >= 0) {
            const seen = events.slice(read, at + 1);
            read = at + 1;
            return seen;
          }
          await new Promise((resolve) => (wake = resolve));
        }
      })(),
    );
  return { until, received, errors };
}

/** Appends `seconds` of speech in 100 ms events. */
function sendSpeech(rt, seconds) {
  const pcm = speechPcm(seconds);
  const chunk = BYTES_PER_SECOND / 10;
  for (let at = 0; at < pcm.length; at += chunk) {
    rt.send({ type: "input_audio_buffer.append", audio: base64(pcm.subarray(at, at + chunk)) });
  }
}

/** A conversation turn: 2 s of speech, its transcript, then a response with audio and usage. */
async function conversationTurn(rt, { until }) {
  const created = (await until("session.created")).at(-1);
  assert.equal(created.session.model, "gpt-realtime");
  rt.send({
    type: "session.update",
    session: {
      type: "realtime",
      audio: { input: { turn_detection: null, transcription: { model: "gpt-4o-transcribe" } } },
    },
  });
  await until("session.updated");
  sendSpeech(rt, 2);
  rt.send({ type: "input_audio_buffer.commit" });
  const heard = (await until("conversation.item.input_audio_transcription.completed")).at(-1);
  assert.equal(heard.transcript, expectedTranscript(2));
  rt.send({ type: "response.create" });
  const events = await until("response.done");
  const deltas = events.filter((e) => e.type === "response.output_audio.delta");
  const audioBytes = deltas.reduce((n, e) => n + Buffer.from(e.delta, "base64").length, 0);
  const transcript = events
    .filter((e) => e.type === "response.output_audio_transcript.delta")
    .map((e) => e.delta)
    .join("");
  const { response } = events.at(-1);
  assert.equal(response.status, "completed");
  assert.ok(audioBytes > 0, "output audio deltas arrived");
  assert.ok(transcript.length > 0, "output transcript deltas arrived");
  assert.equal(response.output[0].content[0].transcript, transcript);
  assert.equal(response.usage.input_token_details.audio_tokens, 20, "2 s of input audio = 20 tokens");
  assert.ok(response.usage.output_token_details.audio_tokens > 0);
  assert.ok(response.usage.total_tokens > 0);
  return {
    heard: heard.transcript,
    audio_deltas: deltas.length,
    audio_bytes: audioBytes,
    total_tokens: response.usage.total_tokens,
  };
}

/** Resolves when `rt`'s socket closed (either class). */
function closed(rt) {
  return within(10_000, "socket close", new Promise((resolve) => rt.socket.addEventListener("close", resolve)));
}

test("OpenAIRealtimeWS: a conversation turn through voxrelay over wss", async () => {
  const since = upstreamHandshakes().length;
  const client = new OpenAI({ apiKey: KEY, baseURL: BASE_URL });
  const rt = new OpenAIRealtimeWS({ model: "gpt-realtime" }, client);
  const c = collect(rt);
  rt.socket.on("upgrade", (res) => c.received.push(JSON.stringify(res.headers)));
  assert.equal(rt.url.href, `wss://${process.env.VOXRELAY_ADDR}/v1/realtime?model=gpt-realtime`);
  summary.conversation = await conversationTurn(rt, c);
  rt.close();
  await closed(rt);
  assert.deepEqual(c.errors, []);
  assertNoUpstreamKey(c.received);
  assertUpstreamSawOnlyItsKey(since, [KEY]);
});

test("OpenAIRealtimeWS: an intent=transcription session through voxrelay over wss", async () => {
  const since = upstreamHandshakes().length;
  const client = new OpenAI({ apiKey: KEY, baseURL: BASE_URL });
  const rt = new OpenAIRealtimeWS({ intent: "transcription" }, client);
  const c = collect(rt);
  assert.equal(rt.url.searchParams.get("intent"), "transcription");
  const created = (await c.until("session.created")).at(-1);
  assert.equal(created.session.type, "transcription");
  rt.send({
    type: "session.update",
    session: {
      type: "transcription",
      audio: { input: { turn_detection: null, transcription: { model: "gpt-4o-transcribe" } } },
    },
  });
  await c.until("session.updated");
  sendSpeech(rt, 1);
  rt.send({ type: "input_audio_buffer.commit" });
  const events = await c.until("conversation.item.input_audio_transcription.completed");
  const completed = events.at(-1);
  const deltas = events.filter((e) => e.type === "conversation.item.input_audio_transcription.delta");
  assert.equal(completed.transcript, expectedTranscript(1));
  assert.equal(deltas.map((e) => e.delta).join(""), completed.transcript);
  assert.equal(completed.usage.type, "tokens");
  assert.equal(completed.usage.input_token_details.audio_tokens, 10, "1 s of input audio = 10 tokens");
  summary.transcription = { transcript: completed.transcript, deltas: deltas.length, tokens: completed.usage.total_tokens };
  rt.close();
  await closed(rt);
  assertNoUpstreamKey(c.received);
  assertUpstreamSawOnlyItsKey(since, [KEY]);
});

test("OpenAIRealtimeWebSocket: the browser-form credential is answered with `realtime`", async () => {
  const since = upstreamHandshakes().length;
  const rt = new OpenAIRealtimeWebSocket({ model: "gpt-realtime" }, new OpenAI({ apiKey: KEY, baseURL: BASE_URL }));
  const c = collect(rt);
  await within(10_000, "open", new Promise((resolve) => rt.socket.addEventListener("open", resolve)));
  assert.equal(rt.socket.protocol, "realtime");
  summary.browser_form = { protocol: rt.socket.protocol, ...(await conversationTurn(rt, c)) };
  rt.close();
  assertNoUpstreamKey(c.received);
  assertUpstreamSawOnlyItsKey(since, [KEY]);
});

test("a wrong key is refused before the upgrade and the SDK reports the 401", async () => {
  const since = upstreamHandshakes().length;
  const rt = new OpenAIRealtimeWS({ model: "gpt-realtime" }, new OpenAI({ apiKey: "sk-wrong", baseURL: BASE_URL }));
  const c = collect(rt);
  await closed(rt);
  assert.ok(c.errors.some((e) => /401/.test(e.message)), c.errors.map(String).join("; "));
  assert.equal(upstreamHandshakes().length, since, "nothing reached the upstream");
  summary.wrong_key = c.errors.map((e) => e.message).join("; ");
});

test(
  "client secrets: clientSecrets.create() with the client key, then the ek_ value in the browser form",
  async () => {
    const since = upstreamHandshakes().length;
    const minted = await new OpenAI({ apiKey: KEY, baseURL: BASE_URL }).realtime.clientSecrets.create({
      session: { type: "realtime", model: "gpt-realtime" },
    });
    assert.match(minted.value, /^ek_/);
    assert.ok(minted.expires_at > Date.now() / 1000, `expires_at ${minted.expires_at} is in the future`);
    assert.equal(minted.session.model, "gpt-realtime");
    assertNoUpstreamKey([JSON.stringify(minted)]);
    const rt = new OpenAIRealtimeWebSocket(
      { model: "gpt-realtime" },
      new OpenAI({ apiKey: minted.value, baseURL: BASE_URL }),
    );
    const c = collect(rt);
    await within(10_000, "open", new Promise((resolve) => rt.socket.addEventListener("open", resolve)));
    assert.equal(rt.socket.protocol, "realtime");
    summary.client_secret = { expires_in: Math.round(minted.expires_at - Date.now() / 1000), ...(await conversationTurn(rt, c)) };
    rt.close();
    assertNoUpstreamKey(c.received);
    assertUpstreamSawOnlyItsKey(since, [KEY, minted.value]);
  },
);
