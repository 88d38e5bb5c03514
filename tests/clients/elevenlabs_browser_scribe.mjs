// ElevenLabs Scribe realtime with the official browser client (@elevenlabs/client), in headless
// Chromium (playwright-core driving /usr/bin/chromium), against a relay or voxrelay's simulator.
//
// The package is bundled with esbuild into a temporary directory at test time (never committed) and
// served with a small page from http://127.0.0.1:<port>. The page calls `Scribe.connect({ token,
// modelId, baseUri, audioFormat, sampleRate, commitStrategy })`, which opens
// `<baseUri>/v1/speech-to-text/realtime?model_id=…&token=<credential>&commit_strategy=manual&audio_format=pcm_16000`
// with no subprotocol and no credential header (a browser cannot set one); it streams 3 s of a
// 440 Hz tone as PCM16 16 kHz `input_audio_chunk` messages, commits, and the test asserts a
// committed transcript arrives. Prints one JSON summary line; exits non-zero on failure.
//
//   ELEVENLABS_BASE_URL    http(s)://host:port (used as ws(s)://host:port)
//   ELEVENLABS_CREDENTIAL  the token the page presents (`token` query parameter)
//   ELEVENLABS_SIMULATED   1: the upstream is voxrelay's simulator, so the transcript is known
//   CHROMIUM               the browser binary (default /usr/bin/chromium)

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";
import { chromium } from "playwright-core";

import { CHROMIUM, CHROMIUM_FLAGS } from "./support/chromium.mjs";
import { simulatedTranscript, within } from "./support/elevenlabs_audio.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const SECONDS = 3;

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>voxrelay: ElevenLabs Scribe</title>
<script type="module">
  import { Scribe, AudioFormat, CommitStrategy, RealtimeEvents } from "/elevenlabs-client.js";
  import { BYTES_PER_SECOND, RATE, base64, tone } from "/support/elevenlabs_audio.mjs";
  window.scribeRun = ({ baseUri, token, seconds }) => new Promise((resolve, reject) => {
    const out = { partials: 0, errors: [] };
    const connection = Scribe.connect({
      token, modelId: "scribe_v2_realtime", baseUri,
      audioFormat: AudioFormat.PCM_16000, sampleRate: RATE, commitStrategy: CommitStrategy.MANUAL,
    });
    connection.on(RealtimeEvents.ERROR, (e) => { out.errors.push(e); reject(new Error(JSON.stringify(e))); });
    connection.on(RealtimeEvents.PARTIAL_TRANSCRIPT, () => { out.partials += 1; });
    connection.on(RealtimeEvents.CLOSE, (e) => { out.close_code = e.code; resolve(out); });
    connection.on(RealtimeEvents.SESSION_STARTED, (started) => {
      out.session_id = started.session_id;
      const audio = tone(seconds);
      out.sent_audio_bytes = audio.length;
      for (let at = 0; at < audio.length; at += BYTES_PER_SECOND / 10) {
        connection.send({ audioBase64: base64(audio.subarray(at, at + BYTES_PER_SECOND / 10)) });
      }
      connection.commit();
    });
    connection.on(RealtimeEvents.COMMITTED_TRANSCRIPT, (committed) => {
      out.transcript = committed.text;
      connection.close();
    });
  });
  window.voxrelayReady = true;
</script></head><body></body></html>`;

async function main() {
  const baseUrl = process.env.ELEVENLABS_BASE_URL;
  const token = process.env.ELEVENLABS_CREDENTIAL;
  assert.ok(baseUrl && token, "ELEVENLABS_BASE_URL and ELEVENLABS_CREDENTIAL are required");
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install -y chromium)`);
  const baseUri = baseUrl.replace(/^http/i, "ws").replace(/\/+$/, "");
  const dir = mkdtempSync(join(tmpdir(), "voxrelay-elevenlabs-browser-"));
  let server;
  let browser;
  try {
    const bundle = join(dir, "elevenlabs-client.js");
    await within(60_000, "esbuild bundle of @elevenlabs/client", build({
      stdin: {
        contents: 'export { Scribe, AudioFormat, CommitStrategy, RealtimeEvents } from "@elevenlabs/client";',
        resolveDir: HERE,
        loader: "js",
      },
      bundle: true,
      format: "esm",
      platform: "browser",
      outfile: bundle,
      logLevel: "error",
    }));
    const files = {
      "/": ["text/html", () => PAGE],
      "/elevenlabs-client.js": ["text/javascript", () => readFileSync(bundle)],
      "/support/elevenlabs_audio.mjs": ["text/javascript", () => readFileSync(join(HERE, "support/elevenlabs_audio.mjs"))],
    };
    server = createServer((req, res) => {
      const path = new URL(req.url, "http://x").pathname;
      if (path === "/favicon.ico") return res.writeHead(204).end();
      const file = files[path];
      if (!file) return res.writeHead(404).end();
      res.writeHead(200, { "content-type": file[0], "cache-control": "no-store" }).end(file[1]());
    });
    await new Promise((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 30_000 });
    const page = await browser.newPage();
    const problems = [];
    page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
    page.on("console", (msg) => msg.type() === "error" && problems.push(`console: ${msg.text()}`));
    const sockets = [];
    const cdp = await page.context().newCDPSession(page);
    cdp.on("Network.webSocketCreated", (e) => sockets.push(e.url));
    await cdp.send("Network.enable");
    await page.goto(`http://127.0.0.1:${server.address().port}/`, { timeout: 15_000 });
    await page.waitForFunction(() => window.voxrelayReady === true, null, { timeout: 15_000 });
    const out = await within(60_000, "the page's Scribe session",
      page.evaluate((args) => window.scribeRun(args), { baseUri, token, seconds: SECONDS }));

    const transcript = out.transcript ?? "";
    console.log(JSON.stringify({
      client: "elevenlabs-browser-scribe",
      sent_audio_bytes: out.sent_audio_bytes,
      sent_chars: 0,
      received_audio_bytes: 0,
      transcript,
      partials: out.partials,
      url: redacted(sockets[0]),
    }));
    assert.ok(out.session_id, "session_started arrived");
    assert.ok(transcript.length > 0, "a non-empty committed transcript");
    assert.equal(out.close_code, 1000);
    const url = new URL(sockets[0]);
    assert.equal(url.pathname.replace(/.*(?=\/v1\/)/, ""), "/v1/speech-to-text/realtime");
    assert.equal(url.searchParams.get("token"), token, "the token travels in the query");
    if (process.env.ELEVENLABS_SIMULATED === "1") {
      assert.equal(transcript, simulatedTranscript(out.sent_audio_bytes));
      assert.ok(out.partials > 0, "partial transcripts arrived");
    }
    assert.deepEqual(problems, [], "no page errors");
  } finally {
    await browser?.close().catch(() => {});
    await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `url` with its `token` value replaced, for the summary. */
function redacted(url) {
  if (!url) return undefined;
  const parsed = new URL(url);
  if (parsed.searchParams.has("token")) parsed.searchParams.set("token", "<token>");
  return parsed.toString();
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`FAILED: ${error.stack ?? error}`);
    process.exit(1);
  },
);
