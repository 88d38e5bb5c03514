// The `assemblyai` package's browser build (`assemblyai/streaming`, export condition "browser") in headless
// Chromium, with a temporary token as browsers must use (`?token=`, no headers). esbuild bundles it into a
// temporary directory at run time; nothing is committed. The SDK throws unless the URL is wss://, so this
// needs a TLS endpoint: Chromium is told to trust the test CA with
// `--ignore-certificate-errors-spki-list=<base64 sha256 of the CA's SubjectPublicKeyInfo>`. Given ws:// or
// http:// it prints why and exits 0 as skipped.
//
// Environment:
//   ASSEMBLYAI_BASE_URL    wss://HOST:PORT[/prefix] (https:// is mapped to wss://); /v3/ws is appended
//   ASSEMBLYAI_CREDENTIAL  the temporary token (default "simulated-token")
//   ASSEMBLYAI_CA_FILE     the CA certificate (PEM) whose key Chromium trusts; openssl computes the hash
//   ASSEMBLYAI_ANY_TRANSCRIPT=1  accept any non-empty transcript (default: the simulator's exact words)
//   CHROMIUM               the browser binary (default /usr/bin/chromium)
//
// Streams 3 s of 16 kHz PCM16 in 100 ms chunks at real-time pace with formatTurns, then close() (Terminate,
// wait for Termination, which the SDK hands to no listener, so the page wraps the SDK socket's onmessage).
// The handshake is read through the Chrome DevTools Protocol. Prints one JSON summary line; exits non-zero
// on any failed assertion. Run by scripts/clients/assemblyai.sh (`browser`).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";
import { chromium } from "playwright-core";

import { CHROMIUM, CHROMIUM_FLAGS } from "./support/chromium.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const SIMULATED = "The quick brown fox jumps over the.";
const PAGE = `<!doctype html><meta charset="utf-8"><title>assemblyai</title><script src="/sdk.js"></script>`;

function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function endpoint() {
  let raw = (process.env.ASSEMBLYAI_BASE_URL ?? "").replace(/\/+$/, "");
  if (!raw) throw new Error("ASSEMBLYAI_BASE_URL is unset");
  raw = raw.replace(/^https:\/\//, "wss://").replace(/^http:\/\//, "ws://");
  return raw.endsWith("/v3/ws") ? raw : `${raw}/v3/ws`;
}

/** base64 SHA-256 of the certificate's SubjectPublicKeyInfo, as Chromium's SPKI list wants it. */
function spkiHash(pemFile) {
  const key = execFileSync("openssl", ["x509", "-in", pemFile, "-noout", "-pubkey"]);
  const der = execFileSync("openssl", ["pkey", "-pubin", "-outform", "der"], { input: key });
  return execFileSync("openssl", ["dgst", "-sha256", "-binary"], { input: der }).toString("base64");
}

/** Runs in the page: one streaming session with the SDK's browser build. */
async function session({ url, token }) {
  const { StreamingTranscriber } = window.AssemblyAIStreaming;
  const transcriber = new StreamingTranscriber({
    websocketBaseUrl: url,
    token,
    sampleRate: 16000,
    speechModel: "universal-streaming-english",
    formatTurns: true,
    connectTimeout: 5000,
    maxConnectionRetries: 0,
  });
  const out = { turns: [], errors: [], termination: null, closed: null, sent: 0 };
  transcriber.on("turn", (turn) => out.turns.push(turn));
  transcriber.on("error", (error) => out.errors.push(String(error)));
  transcriber.on("close", (code, reason) => (out.closed = { code, reason }));
  out.begin = await transcriber.connect();
  // Seen before the SDK's own handler, which resolves close() on Termination.
  const socket = transcriber.socket;
  const sdkHandler = socket.onmessage;
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "Termination") out.termination = message;
    sdkHandler(event);
  };
  const start = performance.now();
  for (let chunk = 1; chunk <= 30; chunk++) {
    const pcm = new Int16Array(1600);
    for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(3000 * Math.sin((2 * Math.PI * 220 * i) / 16000));
    transcriber.sendAudio(pcm.buffer);
    out.sent += pcm.byteLength;
    const pause = start + chunk * 100 - performance.now();
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
  }
  await transcriber.close(true, 8000);
  return out;
}

async function main() {
  const url = endpoint();
  if (!url.startsWith("wss://")) {
    console.log(JSON.stringify({ client: "assemblyai-browser", skipped: `the SDK refuses non-wss URLs (${url})` }));
    return;
  }
  const ca = process.env.ASSEMBLYAI_CA_FILE;
  assert.ok(ca && existsSync(ca), "ASSEMBLYAI_CA_FILE must name the CA certificate");
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install -y chromium)`);
  const token = process.env.ASSEMBLYAI_CREDENTIAL || "simulated-token";
  const dir = mkdtempSync(join(tmpdir(), "voxrelay-assemblyai-browser-"));
  let server;
  let context;
  try {
    await build({
      stdin: { contents: `export { StreamingTranscriber } from "assemblyai/streaming";`, resolveDir: HERE },
      bundle: true,
      format: "iife",
      globalName: "AssemblyAIStreaming",
      platform: "browser",
      outfile: join(dir, "sdk.js"),
      logLevel: "error",
    });
    server = createServer((req, res) => {
      const path = new URL(req.url, "http://x").pathname;
      if (path === "/") res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
      else if (path === "/sdk.js") res.writeHead(200, { "content-type": "text/javascript" }).end(readFileSync(join(dir, "sdk.js")));
      else res.writeHead(404).end();
    });
    await new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    context = await chromium.launchPersistentContext(join(dir, "profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_FLAGS, `--ignore-certificate-errors-spki-list=${spkiHash(ca)}`],
      timeout: 30_000,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const problems = [];
    page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
    const handshake = {};
    const cdp = await context.newCDPSession(page);
    cdp.on("Network.webSocketCreated", (e) => (handshake.url = e.url));
    cdp.on("Network.webSocketWillSendHandshakeRequest", (e) => (handshake.request = lower(e.request.headers)));
    cdp.on("Network.webSocketHandshakeResponseReceived", (e) => (handshake.status = e.response.status));
    await cdp.send("Network.enable");
    await page.goto(`http://127.0.0.1:${server.address().port}/`, { timeout: 15_000 });
    const out = await within(30_000, "the page's streaming session", page.evaluate(session, { url, token }));

    const finals = out.turns.filter((t) => t.end_of_turn && t.turn_is_formatted);
    const transcript = finals.map((t) => t.transcript).join(" ");
    console.log(
      JSON.stringify({
        client: "assemblyai-browser",
        sent_audio_bytes: out.sent,
        audio_duration_seconds: out.termination?.audio_duration_seconds ?? null,
        session_duration_seconds: out.termination?.session_duration_seconds ?? null,
        transcript,
        handshake_url: handshake.url?.replace(encodeURIComponent(token), "<token>"),
      }),
    );
    assert.deepEqual(problems, [], "no page errors");
    assert.deepEqual(out.errors, [], "no SDK errors");
    assert.equal(handshake.status, 101);
    assert.ok(new URL(handshake.url).searchParams.get("token") === token, "the token travels as ?token=");
    assert.equal(handshake.request?.authorization, undefined, "no Authorization header from a browser");
    assert.ok(out.begin?.id, "Begin carries a session id");
    assert.ok(out.turns.some((t) => !t.end_of_turn), "partial turns arrived");
    assert.ok(transcript, "a formatted end of turn with text");
    if (process.env.ASSEMBLYAI_ANY_TRANSCRIPT !== "1") assert.equal(transcript, SIMULATED);
    assert.ok(out.termination, "Termination arrived after Terminate");
    assert.equal(out.termination.audio_duration_seconds, 3);
    assert.ok(out.termination.session_duration_seconds >= 2);
  } finally {
    await context?.close().catch(() => {});
    await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
}

function lower(headers) {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

main().catch((error) => {
  console.error(`assemblyai-browser: FAILED: ${error?.stack ?? error}`);
  process.exit(1);
});
