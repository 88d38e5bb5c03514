// Deepgram's official JS SDK (@deepgram/sdk v5) in Node against voxrelay, changing only its base
// URLs: live STT (/v1/listen), TTS (/v1/speak), Flux (/v2/listen), and the token flow (grant via
// POST /v1/auth/grant, then STT with `Authorization: Bearer`). In Node the SDK authenticates with
// `Authorization: Token <key>` headers (the `ws` package), no subprotocols.
//
//   node --test tests/clients/deepgram_node.test.mjs      (VOXRELAY_ADDR=host:port to reuse a relay)

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { DeepgramClient } from "@deepgram/sdk";

import { listenV1, listenV2, speakV1 } from "./support/sessions.mjs";
import { KEY, environment, startRelay, writeSummary } from "./support/voxrelay.mjs";

let relay;
const summary = { client: "@deepgram/sdk (node)" };

before(async () => {
  relay = await startRelay();
});

after(async () => {
  writeSummary("deepgram-node", summary);
  await relay?.stop();
});

function client(options = { apiKey: KEY }) {
  return new DeepgramClient({ ...options, environment: environment(relay.addr) });
}

function assertListen(s) {
  assert.equal(s.opened, true, "listen socket opened");
  assert.deepEqual(s.errors, [], "no socket errors");
  assert.ok(s.interim >= 1, `interim Results arrived (${s.interim})`);
  assert.ok(s.finals >= 2, `final Results arrived (${s.finals})`);
  assert.ok(s.text.join(" ").trim().length > 0, "final transcripts carry text");
  assert.ok(s.from_finalize >= 1, "Finalize answered with from_finalize Results");
  assert.equal(s.metadata, true, "Metadata after CloseStream");
  assert.equal(s.close_code, 1000, "CloseStream ends with 1000");
}

test("live STT /v1/listen: Results with transcripts, Metadata, close 1000", async () => {
  const s = await listenV1(client());
  summary.stt = s;
  assertListen(s);
});

test("TTS /v1/speak: Metadata, audio, Flushed, close 1000", async () => {
  const s = await speakV1(client());
  summary.tts = s;
  assert.equal(s.opened, true);
  assert.deepEqual(s.errors, []);
  assert.equal(s.metadata, true, "Metadata first");
  assert.ok(s.audio_bytes > 0, `audio arrived (${s.audio_bytes} bytes)`);
  assert.equal(s.audio_bytes % 2, 0, "whole 16-bit samples");
  assert.equal(s.flushed, true, "Flushed after the audio");
  assert.equal(s.close_code, 1000, "Close ends with 1000");
});

test("Flux /v2/listen: Connected and TurnInfo", async () => {
  const s = await listenV2(client());
  summary.flux = s;
  assert.equal(s.opened, true);
  assert.deepEqual(s.errors, []);
  assert.equal(s.connected, true, "Connected first");
  assert.ok(s.turn_infos >= 1, `TurnInfo arrived (${s.turn_infos})`);
});

test("token flow: auth.v1.tokens.grant, then STT with the access token", async () => {
  const grant = await client().auth.v1.tokens.grant({ ttl_seconds: 60 });
  assert.equal(typeof grant.access_token, "string");
  assert.equal(grant.access_token.split(".").length, 3, "a JWT");
  assert.equal(grant.expires_in, 60);
  const s = await listenV1(client({ accessToken: grant.access_token }));
  summary.grant = { expires_in: grant.expires_in, stt_finals: s.finals, close_code: s.close_code };
  assertListen(s);
});

test("a wrong key is refused before the upgrade", async () => {
  const s = await listenV1(client({ apiKey: "not-a-voxrelay-key" }), { ms: 10_000 }).then(
    (r) => r,
    (error) => ({ rejected: String(error?.message ?? error) }),
  );
  summary.wrong_key = s.rejected ?? s.errors;
  assert.notEqual(s.opened, true, "no session with a wrong key");
  assert.match(JSON.stringify(summary.wrong_key), /401/, "refused with 401");
});
