// @cartesia/cartesia-js 4.2.0's browser build in headless Chromium (playwright-core), with `token`
// as a browser app must: the SDK then puts `access_token`, `cartesia_version` and `cartesia_client`
// in the query of a native WebSocket. The page script (support/cartesia_page.mjs) is bundled with
// esbuild into a temporary directory at run time and served from http://127.0.0.1:<port>.
//   STT: CARTESIA_BASE_URL may be http:// (the SDK keeps ws:// for STT).
//   TTS: the SDK always dials wss://, so it runs only with an https:// base URL — CARTESIA_BASE_URL
//        itself or CARTESIA_TLS_BASE_URL — and CARTESIA_CERT_FILE, the server's certificate
//        (scripts/make-test-cert.sh cert.pem), which Chromium is told to trust through
//        --ignore-certificate-errors-spki-list=<base64 sha256 of its SPKI>; otherwise skipped with a message.
// Handshakes are read through the Chrome DevTools Protocol and checked for the query credential.
// Prints one JSON summary line; exits non-zero on any failed assertion. Every wait is bounded.

import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";
import { chromium } from "playwright-core";

import * as c from "./support/cartesia.mjs";
import { CHROMIUM, CHROMIUM_FLAGS } from "./support/chromium.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const TLS_BASE_URL = c.BASE_URL?.startsWith("https://") ? c.BASE_URL : process.env.CARTESIA_TLS_BASE_URL;
const CERT_FILE = process.env.CARTESIA_CERT_FILE;
const summary = { client: "cartesia-browser", sent_audio_bytes: 0, sent_chars: 0, received_audio_bytes: 0, transcript: "" };

/** base64 sha256 of a PEM certificate's SubjectPublicKeyInfo, for --ignore-certificate-errors-spki-list. */
function spkiHash(pemFile) {
  const spki = new X509Certificate(readFileSync(pemFile)).publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(spki).digest("base64");
}

/** Query parameter names of a URL, with the credential's value replaced. */
function queryShape(url) {
  const u = new URL(url);
  return [...u.searchParams.keys()].map((k) => (k === "access_token" || k === "api_key" ? `${k}=<credential>` : `${k}=${u.searchParams.get(k)}`));
}

const dir = mkdtempSync(join(tmpdir(), "voxrelay-cartesia-browser-"));
let server;
let context;
let failure;
try {
  assert.ok(c.BASE_URL, "CARTESIA_BASE_URL is unset");
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install -y chromium)`);
  await build({
    entryPoints: [join(HERE, "support/cartesia_page.mjs")],
    bundle: true,
    format: "esm",
    platform: "browser",
    outfile: join(dir, "page.js"),
    logLevel: "error",
  });
  const page_js = readFileSync(join(dir, "page.js"));
  const html = '<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>';
  server = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/") res.writeHead(200, { "content-type": "text/html" }).end(html);
    else if (path === "/page.js") res.writeHead(200, { "content-type": "text/javascript" }).end(page_js);
    else res.writeHead(404).end();
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const args = [...CHROMIUM_FLAGS];
  if (TLS_BASE_URL && CERT_FILE) args.push(`--ignore-certificate-errors-spki-list=${spkiHash(CERT_FILE)}`);
  context = await chromium.launchPersistentContext(join(dir, "profile"), { executablePath: CHROMIUM, headless: true, args, timeout: 30_000 });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  const handshakes = [];
  const cdp = await context.newCDPSession(page);
  cdp.on("Network.webSocketCreated", (e) => handshakes.push({ url: e.url }));
  cdp.on("Network.webSocketWillSendHandshakeRequest", (e) => Object.assign(handshakes.at(-1) ?? {}, { headers: e.request.headers }));
  await cdp.send("Network.enable");
  await page.goto(`http://127.0.0.1:${server.address().port}/`, { timeout: 15_000 });
  await page.waitForFunction(() => window.cartesiaReady === true, null, { timeout: 15_000 });

  const stt = await c.within(45_000, "the page's STT session", page.evaluate((a) => window.cartesiaStt(a), { baseURL: c.BASE_URL, token: c.CREDENTIAL }));
  summary.sent_audio_bytes = stt.sent_audio_bytes;
  summary.transcript = stt.finals.map((f) => f.text).join("");
  assert.deepEqual(stt.errors, [], "no STT errors");
  assert.equal(stt.close_code, 1000);
  if (c.EXPECT_TRANSCRIPT !== "") assert.equal(summary.transcript, c.EXPECT_TRANSCRIPT);
  const sttShake = handshakes.find((h) => h.url.includes("/stt/websocket"));
  assert.ok(sttShake, "Chromium opened the STT socket");
  summary.stt_query = queryShape(sttShake.url);
  assert.ok(new URL(sttShake.url).searchParams.get("cartesia_version"), "version in the query");
  assert.equal(new URL(sttShake.url).searchParams.get("access_token"), c.CREDENTIAL, "token in the query");
  assert.equal(Object.keys(sttShake.headers ?? {}).find((h) => h.toLowerCase() === "authorization"), undefined);

  if (TLS_BASE_URL && CERT_FILE) {
    const tts = await c.within(45_000, "the page's TTS context", page.evaluate((a) => window.cartesiaTts(a), { baseURL: TLS_BASE_URL, token: c.CREDENTIAL, text: c.TTS_TEXT }));
    summary.sent_chars = c.TTS_TEXT.length;
    summary.received_audio_bytes = tts.audio_bytes;
    const ttsShake = handshakes.find((h) => h.url.includes("/tts/websocket"));
    assert.ok(ttsShake, "Chromium opened the TTS socket");
    summary.tts_query = queryShape(ttsShake.url);
    assert.equal(new URL(ttsShake.url).searchParams.get("access_token"), c.CREDENTIAL, "token in the query");
    assert.deepEqual(tts.errors, [], "no TTS errors");
    assert.equal(tts.events.at(-1), "done");
    assert.ok(tts.audio_bytes > 0, "TTS audio arrived");
    if (c.EXPECT_TRANSCRIPT !== "") assert.equal(tts.audio_bytes, c.SIMULATED_TTS_BYTES);
    summary.tts = "ok";
  } else {
    summary.tts = "skipped";
    console.error("TTS skipped: cartesia-js dials wss:// for TTS; set CARTESIA_TLS_BASE_URL (https://) and CARTESIA_CERT_FILE");
  }
  assert.deepEqual(problems, [], "no page errors");
} catch (error) {
  failure = error;
} finally {
  await context?.close().catch(() => {});
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(summary));
if (failure) {
  console.error(failure);
  process.exit(1);
}
