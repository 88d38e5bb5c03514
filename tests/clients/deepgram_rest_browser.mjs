// Deepgram's REST calls from a real browser (headless Chromium via playwright-core) to voxrelay, with
// CORS. One small HTTP server here serves tests/clients/browser/rest.html; the page is opened twice:
//   - as http://127.0.0.1:<port> (an origin the relay's routes allow: `http://127.0.0.1:*`), where
//     `fetch(relay + "/v1/listen?model=nova-3", {method: "POST", headers: {Authorization: "Token <key>",
//     "Content-Type": "audio/wav"}, body: <wav>})` must answer the JSON transcript, and the same for
//     `/v1/speak?model=aura-2-thalia-en` with `{"text": "hello"}` must answer audio bytes. Both are
//     non-simple requests, so Chromium sends a CORS preflight (OPTIONS) first;
//   - as http://localhost:<port> (same server, an origin the relay does not allow), where both fetches
//     must reject with a TypeError (CORS refused) and no response reaches the page.
// Preflights, responses and CORS failures are read through the Chrome DevTools Protocol. Prints one
// JSON line summarising both runs; exits non-zero when anything expected is missing.
//
//   node tests/clients/deepgram_rest_browser.mjs --relay 127.0.0.1:8080 --key voxrelay-demo-key

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { chromium } from "playwright-core";

import { CHROMIUM, CHROMIUM_FLAGS } from "./support/chromium.mjs";
import { within } from "./support/voxrelay.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const PAGE = join(HERE, "browser/rest.html");

/** The page's server on 127.0.0.1:0 (reached as 127.0.0.1 and as localhost). */
async function serve() {
  const srv = createServer((req, res) => {
    if (new URL(req.url, "http://x").pathname !== "/") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/html", "cache-control": "no-store" });
    res.end(readFileSync(PAGE));
  });
  await new Promise((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", resolve);
  });
  return srv;
}

/** Opens `origin`/ in a new page, runs the page's fetches against `relay`, and records over CDP
 *  every request to the relay: method, path, status, CORS error. */
async function run(context, origin, relay, key) {
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  const cdp = await context.newCDPSession(page);
  const requests = new Map();
  cdp.on("Network.requestWillBeSent", (e) => {
    if (!e.request.url.startsWith(relay)) return;
    requests.set(e.requestId, {
      method: e.request.method,
      path: new URL(e.request.url).pathname,
      type: e.type,
      origin: e.request.headers.Origin ?? e.request.headers.origin,
    });
  });
  cdp.on("Network.responseReceived", (e) => {
    const r = requests.get(e.requestId);
    if (r) r.status = e.response.status;
  });
  cdp.on("Network.loadingFailed", (e) => {
    const r = requests.get(e.requestId);
    if (r) {
      r.failed = e.errorText;
      if (e.corsErrorStatus) r.cors_error = e.corsErrorStatus.corsError;
    }
  });
  await cdp.send("Network.enable");
  await page.goto(`${origin}/`, { timeout: 15_000 });
  await page.waitForFunction(() => window.voxrelayReady === true, null, { timeout: 15_000 });
  const out = await within(30_000, `the page's fetches from ${origin}`, page.evaluate((a) => window.voxrelayRest(a), { relay, key }));
  await page.close();
  return { ...out, requests: [...requests.values()], problems };
}

async function main() {
  const { values: args } = parseArgs({
    options: {
      relay: { type: "string" },
      key: { type: "string" },
    },
  });
  if (!args.relay || !args.key) throw new Error("--relay host:port and --key are required");
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (scripts/setup-test-deps.sh installs it)`);
  const relay = `http://${args.relay}`;
  const server = await serve();
  const port = server.address().port;
  const userDataDir = mkdtempSync(join(tmpdir(), "voxrelay-chromium-"));
  let context;
  const report = { client: "chromium fetch (REST, CORS)" };
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      timeout: 30_000,
    });
    report.user_agent = await context.pages()[0]?.evaluate(() => navigator.userAgent).catch(() => null);
    report.allowed = await run(context, `http://127.0.0.1:${port}`, relay, args.key);
    report.refused = await run(context, `http://localhost:${port}`, relay, args.key);
  } finally {
    await context?.close().catch(() => {});
    await new Promise((resolve) => server.close(resolve));
    rmSync(userDataDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(report));

  const { allowed, refused } = report;
  const preflighted = (run, path) =>
    run.requests.some((r) => r.method === "OPTIONS" && r.path === path && r.status >= 200 && r.status < 300);
  const ok =
    allowed.origin === `http://127.0.0.1:${port}` &&
    allowed.listen.status === 200 &&
    typeof allowed.listen.transcript === "string" &&
    allowed.listen.transcript.length > 0 &&
    Math.abs(allowed.listen.duration - 1.5) < 0.05 &&
    Boolean(allowed.listen.dg_request_id) && // exposed to the page (Access-Control-Expose-Headers)
    allowed.speak.status === 200 &&
    allowed.speak.audio_bytes > 0 &&
    preflighted(allowed, "/v1/listen") &&
    preflighted(allowed, "/v1/speak") &&
    allowed.problems.length === 0 &&
    refused.origin === `http://localhost:${port}` &&
    refused.listen.error_name === "TypeError" &&
    refused.speak.error_name === "TypeError" &&
    // the refusal came from the relay's CORS answer, not from an unreachable relay
    refused.requests.some((r) => r.cors_error);
  process.exitCode = ok ? 0 : 1;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
