// Deepgram's official JS SDK browser build (@deepgram/sdk v5, dist/browser/index.global.js, global
// `Deepgram`) in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core) against
// voxrelay. The page is served from http://127.0.0.1:<port> by a tiny server here (voxrelay's
// local routes allow http://127.0.0.1:* origins), and runs live STT, TTS and Flux with the client
// key, then STT with an access token granted by this (backend) side. In a browser the SDK sends no
// headers: the credential travels as `Sec-WebSocket-Protocol: token, <key>, x-deepgram-session-id,
// <uuid>` (or `bearer, <token>, …`), and voxrelay must select `token` (`bearer`). The handshake
// headers are read through the Chrome DevTools Protocol.
//
//   node --test tests/clients/deepgram_browser.test.mjs   (VOXRELAY_ADDR=host:port to reuse a relay)

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { DeepgramClient } from "@deepgram/sdk";
import { chromium } from "playwright-core";

import { CHROMIUM, CHROMIUM_FLAGS } from "./support/chromium.mjs";

import { KEY, environment, startRelay, within, writeSummary } from "./support/voxrelay.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const SDK_DIR = dirname(dirname(dirname(require.resolve("@deepgram/sdk"))));
const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

const FILES = {
  "/": ["text/html", join(HERE, "browser/index.html")],
  "/sdk/index.global.js": ["text/javascript", join(SDK_DIR, "dist/browser/index.global.js")],
  "/support/sessions.mjs": ["text/javascript", join(HERE, "support/sessions.mjs")],
};

let relay;
let server;
let context;
let userDataDir;
const summary = { client: "@deepgram/sdk (browser build, chromium)" };

/** The page's origin: a loopback HTTP server serving the page, the SDK bundle and sessions.mjs. */
async function serve() {
  const srv = createServer((req, res) => {
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
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", resolve);
  });
  return srv;
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install -y chromium)`);
  relay = await startRelay();
  server = await serve();
  userDataDir = mkdtempSync(join(tmpdir(), "voxrelay-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    timeout: 30_000,
  });
});

after(async () => {
  writeSummary("deepgram-browser", summary);
  await context?.close().catch(() => {});
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  await relay?.stop();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

test("browser build: STT, TTS and Flux with `token, <key>, x-deepgram-session-id, <uuid>`; STT with `bearer`", async () => {
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console: ${msg.text()} (${msg.location()?.url ?? ""})`);
  });

  // Handshakes as Chromium sent and received them.
  const handshakes = new Map();
  const cdp = await context.newCDPSession(page);
  const entry = (id) => handshakes.get(id) ?? handshakes.set(id, {}).get(id);
  cdp.on("Network.webSocketCreated", (e) => (entry(e.requestId).url = e.url));
  cdp.on("Network.webSocketWillSendHandshakeRequest", (e) => {
    entry(e.requestId).request = lower(e.request.headers);
  });
  cdp.on("Network.webSocketHandshakeResponseReceived", (e) => {
    const h = entry(e.requestId);
    h.status = e.response.status;
    h.response = lower(e.response.headers);
  });
  await cdp.send("Network.enable");

  const origin = `http://127.0.0.1:${server.address().port}`;
  await page.goto(`${origin}/`, { timeout: 15_000 });
  await page.waitForFunction(() => window.voxrelayReady === true, null, { timeout: 15_000 });

  // The backend half of the token flow: trade the client key for a short-lived token.
  const grant = await new DeepgramClient({ apiKey: KEY, environment: environment(relay.addr) }).auth.v1.tokens.grant({
    ttl_seconds: 60,
  });

  const out = await within(
    60_000,
    "the page's sessions",
    page.evaluate((args) => window.voxrelayRun(args), {
      addr: relay.addr,
      key: KEY,
      accessToken: grant.access_token,
    }),
  );
  const shakes = [...handshakes.values()].filter((h) => h.url);
  Object.assign(summary, {
    user_agent: out.user_agent,
    origin: out.origin,
    stt: out.stt,
    tts: out.tts,
    flux: out.flux,
    bearer_stt: out.bearer_stt,
    handshakes: shakes.map((h) => ({
      path: new URL(h.url).pathname,
      status: h.status,
      offered: redact(h.request?.["sec-websocket-protocol"], grant.access_token),
      selected: h.response?.["sec-websocket-protocol"],
      origin: h.request?.origin,
    })),
    problems,
  });

  // What arrived.
  const { stt, tts, flux, bearer_stt: bearer } = out;
  assert.equal(out.origin, origin);
  for (const s of [stt, tts, flux, bearer]) {
    assert.equal(s.opened, true, `${s.kind} opened`);
    assert.deepEqual(s.errors, [], `${s.kind}: no socket errors`);
  }
  assert.ok(stt.finals >= 2 && stt.interim >= 1, `STT Results arrived (${stt.interim} interim, ${stt.finals} final)`);
  assert.ok(stt.text.join(" ").trim().length > 0, "STT transcripts carry text");
  assert.equal(stt.metadata, true, "STT Metadata after CloseStream");
  assert.equal(stt.close_code, 1000);
  assert.ok(tts.audio_bytes > 0, `TTS audio arrived (${tts.audio_bytes} bytes)`);
  assert.equal(tts.metadata, true);
  assert.equal(tts.flushed, true);
  assert.equal(tts.close_code, 1000);
  assert.equal(flux.connected, true, "Flux Connected");
  assert.ok(flux.turn_infos >= 1, `Flux TurnInfo arrived (${flux.turn_infos})`);
  assert.ok(bearer.finals >= 2, `STT with the access token: Results arrived (${bearer.finals} final)`);

  // The subprotocol round trip: the page's socket selected the non-secret value.
  assert.equal(stt.protocol, "token");
  assert.equal(tts.protocol, "token");
  assert.equal(flux.protocol, "token");
  assert.equal(bearer.protocol, "bearer");

  // And what went over the wire, as Chromium saw it.
  const byPath = (path) => shakes.filter((h) => new URL(h.url).pathname === path);
  assert.equal(byPath("/v1/listen").length, 2, "two STT handshakes");
  assert.equal(byPath("/v1/speak").length, 1, "one TTS handshake");
  assert.equal(byPath("/v2/listen").length, 1, "one Flux handshake");
  const keyForm = new RegExp(`^token, ${KEY}, x-deepgram-session-id, ${UUID}$`);
  const bearerForm = new RegExp(`^bearer, [A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+, x-deepgram-session-id, ${UUID}$`);
  for (const h of shakes) {
    assert.ok(h.request, `request headers seen for ${h.url}`);
    assert.equal(h.status, 101, `${h.url} upgraded`);
    assert.equal(h.request.origin, origin, "the page's origin was sent");
    assert.equal(h.request.authorization, undefined, "no Authorization header from a browser");
    const offered = h.request["sec-websocket-protocol"];
    if (offered.startsWith("bearer")) {
      assert.match(offered, bearerForm);
      assert.equal(h.response["sec-websocket-protocol"], "bearer");
    } else {
      assert.match(offered, keyForm);
      assert.equal(h.response["sec-websocket-protocol"], "token");
    }
    assert.ok(!new URL(h.url).search.includes(KEY), "the key is not in the URL");
  }
  assert.deepEqual(problems, [], "no page errors");
});

function lower(headers) {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

function redact(value, token) {
  return value?.replace(token, "<access token>");
}
