// OpenAI Realtime in the browser form, in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core) against voxrelay's `realtime` route: the page (tests/clients/browser/realtime.html,
// served from http://127.0.0.1:<port>, an origin the local route allows) opens
// `new WebSocket("ws://<relay>/v1/realtime?model=gpt-realtime", ["realtime",
// "openai-insecure-api-key.<voxrelay client key>"])`, sends session.update, 2 s of speech as base64
// PCM16 24 kHz input_audio_buffer.append events, commit and response.create. The test asserts the
// socket settled on `realtime`, the transcript of that audio, output audio deltas and response.done
// with usage arrived, nothing received carried the upstream key, and the upstream's handshake
// carried only its own key. The handshake is read through the Chrome DevTools Protocol.
//
// Run by scripts/test-clients.sh (`openai-browser`), which provides VOXRELAY_ADDR and the
// recorded upstream (support/upstream.mjs).

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { CHROMIUM, CHROMIUM_FLAGS } from "./support/chromium.mjs";
import { expectedTranscript } from "./support/realtime_audio.mjs";
import {
  assertNoUpstreamKey,
  assertUpstreamSawOnlyItsKey,
  requireUpstreamTap,
  upstreamHandshakes,
} from "./support/upstream.mjs";
import { KEY, within } from "./support/voxrelay.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const FILES = {
  "/": ["text/html", join(HERE, "browser/realtime.html")],
  "/support/realtime_audio.mjs": ["text/javascript", join(HERE, "support/realtime_audio.mjs")],
};

let server;
let context;
let userDataDir;
const summary = {};

before(async () => {
  requireUpstreamTap();
  assert.ok(process.env.VOXRELAY_ADDR, "VOXRELAY_ADDR is unset");
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install -y chromium)`);
  server = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    const file = FILES[path];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": file[0], "cache-control": "no-store" });
    res.end(readFileSync(file[1]));
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  userDataDir = mkdtempSync(join(tmpdir(), "voxrelay-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    timeout: 30_000,
  });
});

after(async () => {
  const dir = process.env.VOXRELAY_SUMMARY_DIR;
  if (dir) writeFileSync(join(dir, "openai-browser.json"), JSON.stringify(summary) + "\n");
  await context?.close().catch(() => {});
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

test("a raw browser-form Realtime conversation through voxrelay", async () => {
  const since = upstreamHandshakes().length;
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("console", (msg) => msg.type() === "error" && problems.push(`console: ${msg.text()}`));
  const handshakes = [];
  const cdp = await context.newCDPSession(page);
  cdp.on("Network.webSocketHandshakeResponseReceived", (e) =>
    handshakes.push({ status: e.response.status, response: lower(e.response.headers) }),
  );
  cdp.on("Network.webSocketWillSendHandshakeRequest", (e) => handshakes.push({ sent: lower(e.request.headers) }));
  await cdp.send("Network.enable");

  const origin = `http://127.0.0.1:${server.address().port}`;
  await page.goto(`${origin}/`, { timeout: 15_000 });
  await page.waitForFunction(() => window.voxrelayReady === true, null, { timeout: 15_000 });
  const url = `ws://${process.env.VOXRELAY_ADDR}/v1/realtime?model=gpt-realtime`;
  const out = await within(
    60_000,
    "the page's Realtime session",
    page.evaluate((args) => window.voxrelayRealtime(args), { url, credential: KEY }),
  );

  const events = out.texts.map((text) => JSON.parse(text));
  const types = events.map((e) => e.type);
  const heard = events.find((e) => e.type === "conversation.item.input_audio_transcription.completed");
  const deltas = events.filter((e) => e.type === "response.output_audio.delta");
  const done = events.find((e) => e.type === "response.done");
  const sent = handshakes.find((h) => h.sent)?.sent ?? {};
  const answered = handshakes.find((h) => h.response) ?? {};
  Object.assign(summary, {
    protocol: out.protocol,
    offered: sent["sec-websocket-protocol"]?.replace(KEY, "<key>"),
    origin: sent.origin,
    status: answered.status,
    heard: heard?.transcript,
    audio_deltas: deltas.length,
    total_tokens: done?.response?.usage?.total_tokens,
    events: events.length,
    close_code: out.close_code,
  });

  assert.equal(out.protocol, "realtime", "the socket settled on `realtime`");
  assert.equal(sent["sec-websocket-protocol"], `realtime, openai-insecure-api-key.${KEY}`);
  assert.equal(sent.origin, origin);
  assert.equal(sent.authorization, undefined, "no Authorization header from a browser");
  assert.equal(answered.status, 101);
  assert.equal(answered.response["sec-websocket-protocol"], "realtime", "voxrelay answered `realtime` only");
  assert.equal(types[0], "session.created");
  assert.equal(events[0].session.model, "gpt-realtime");
  assert.ok(types.includes("session.updated"));
  assert.equal(heard?.transcript, expectedTranscript(2), "the transcript of the 2 s sent");
  assert.ok(deltas.length > 0, "output audio deltas arrived");
  assert.equal(done.response.status, "completed");
  assert.equal(done.response.usage.input_token_details.audio_tokens, 20, "2 s of input audio = 20 tokens");
  assert.ok(done.response.usage.output_token_details.audio_tokens > 0);
  assert.equal(out.close_code, 1000);
  assertNoUpstreamKey([...out.texts, JSON.stringify(answered.response)]);
  assertUpstreamSawOnlyItsKey(since, [KEY]);
  assert.deepEqual(problems, [], "no page errors");
});

function lower(headers) {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}
