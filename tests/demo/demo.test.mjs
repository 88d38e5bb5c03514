// End-to-end test of the demo page (/demo/) in headless Chromium against voxrelay in local mode
// (the built-in simulator upstream): fake microphone → Nova and Flux transcripts, text → speech,
// OpenAI Realtime conversation and transcription sessions, and a check per provider panel
// (ElevenLabs, AssemblyAI, Cartesia, generic) whose kind has a route in config/local.toml.
//
//   node --test tests/demo/demo.test.mjs        (or scripts/test-demo.sh, which also installs and builds)
//
// Environment: VOXRELAY_BIN (default target/debug/voxrelay), CHROMIUM (default /usr/bin/chromium),
// DEMO_REPORT_DIR (default reports/demo). DEMO_TLS=1 runs it all over https:// and wss://: voxrelay
// gets [server.tls] with a throwaway CA's certificate (scripts/make-test-cert.sh), and Chromium
// trusts that CA through the NSS database of its own $HOME (certutil, Debian's libnss3-tools) —
// certificate verification stays on.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { CHROMIUM, CHROMIUM_FLAGS } from "../clients/support/chromium.mjs";
import { PROVIDER_KINDS, providerFallbackStep, providerSteps } from "./providers.mjs";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const BIN = process.env.VOXRELAY_BIN || path.join(ROOT, "target/debug/voxrelay");
const REPORT_DIR = process.env.DEMO_REPORT_DIR || path.join(ROOT, "reports/demo");
const TLS = process.env.DEMO_TLS === "1";
const SCHEME = TLS ? "https" : "http";

const START_TIMEOUT_MS = 15_000; // voxrelay up and listening
const RESULT_TIMEOUT_MS = 15_000; // a final transcript / TTS audio on the page
const STEP_TIMEOUT_MS = 45_000; // one test step as a whole
// the simulator's transcripts are made of these words
const SIMULATOR_WORDS = /\b(the|quick|brown|fox|jumps|over|lazy|dog)\b/i;

let scratch; // temp dir: WAV and Chromium profile
let relay; // { child, addr, log: string[] }
let tlsDir; // with DEMO_TLS: ca.pem, cert.pem, key.pem
let context;
let page;
const pageLog = [];
let failed = false;

/** Starts voxrelay in local mode on free ports; resolves once it logs its address. */
async function startRelay() {
  const child = spawn(BIN, ["--config", "config/local.toml"], {
    cwd: ROOT,
    env: {
      ...process.env,
      VOXRELAY_SERVER__LISTEN: "127.0.0.1:0",
      VOXRELAY_SIMULATOR__LISTEN: "127.0.0.1:0",
      VOXRELAY_LOG__FORMAT: "json",
      ...(TLS && {
        VOXRELAY_SERVER__TLS__CERT_FILE: path.join(tlsDir, "cert.pem"),
        VOXRELAY_SERVER__TLS__KEY_FILE: path.join(tlsDir, "key.pem"),
      }),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = [];
  const keep = (line) => {
    log.push(line);
    if (log.length > 200) log.shift();
  };
  createInterface({ input: child.stderr }).on("line", keep);
  const addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("voxrelay did not log its address in time")), START_TIMEOUT_MS);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`voxrelay exited early (${code ?? signal}):\n${log.join("\n")}`));
    });
    // keep reading stdout for the whole run so the pipe never fills
    createInterface({ input: child.stdout }).on("line", (line) => {
      keep(line);
      try {
        const entry = JSON.parse(line);
        if (entry.message === "voxrelay listening" && entry.addr) {
          clearTimeout(timer);
          resolve(entry.addr);
        }
      } catch {
        // not JSON: ignore
      }
    });
  });
  return { child, addr, log };
}

/** The page's origin: `http://addr`, or `https://addr` with DEMO_TLS. */
const origin = () => `${SCHEME}://${relay.addr}`;

/**
 * With DEMO_TLS: a test CA and server certificate in `tlsDir`, and a $HOME for Chromium whose NSS
 * database trusts that CA (what `certutil` does for a user on Linux). Returns the browser's env.
 */
function trustTestCa() {
  if (!TLS) return process.env;
  tlsDir = path.join(scratch, "tls");
  execFileSync(path.join(ROOT, "scripts/make-test-cert.sh"), [tlsDir]);
  const home = path.join(scratch, "home");
  const nssdb = path.join(home, ".pki/nssdb");
  mkdirSync(nssdb, { recursive: true });
  execFileSync("certutil", ["-N", "-d", `sql:${nssdb}`, "--empty-password"]);
  execFileSync("certutil", ["-A", "-d", `sql:${nssdb}`, "-t", "C,,", "-n", "voxrelay-test-ca", "-i", path.join(tlsDir, "ca.pem")]);
  return { ...process.env, HOME: home };
}

/**
 * GETs `url` from Node and parses the JSON body; with DEMO_TLS trusting only the test CA (Node
 * does not read the browser's NSS database, so Playwright's own `route.fetch()` would refuse it).
 */
function getJson(url) {
  const client = TLS ? https : http;
  const options = TLS ? { ca: readFileSync(path.join(tlsDir, "ca.pem")) } : {};
  return new Promise((resolve, reject) => {
    client
      .get(url, options, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => {
          try {
            resolve(JSON.parse(body));
          } catch (error) {
            reject(error);
          }
        });
      })
      .on("error", reject);
  });
}

/** Stops voxrelay by its pid: SIGTERM (graceful drain), then SIGKILL if it lingers. */
async function stopRelay() {
  const { child } = relay;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 8_000);
  await exited;
  clearTimeout(timer);
}

/** Records what `p` logs, throws and fails to load, for the checks and a failure report. */
function watch(p) {
  p.on("console", (m) => pageLog.push(`console.${m.type()}: ${m.text()}`));
  p.on("pageerror", (e) => pageLog.push(`pageerror: ${e.message}`));
  p.on("response", (r) => r.status() >= 400 && pageLog.push(`http ${r.status()} ${r.url()}`));
  p.on("websocket", (ws) => {
    const url = ws.url().replace(/\?.*/, "");
    pageLog.push(`websocket ${url}`);
    ws.on("close", () => pageLog.push(`websocket closed ${url}`));
  });
  return p;
}

/** Opens the demo page in a new tab of the browser; resolves once it is ready. */
async function openDemo() {
  const p = watch(await context.newPage());
  await p.goto(`${origin()}/demo/`);
  await p.waitForFunction(() => document.getElementById("status").textContent.startsWith("ready"), null, {
    timeout: RESULT_TIMEOUT_MS,
  });
  return p;
}

/** Picks the option of `select` whose label contains `path`. */
async function chooseRoute(page, select, routePath) {
  const value = await page.$eval(
    select,
    (el, p) => [...el.options].find((o) => o.textContent.includes(p))?.value,
    routePath,
  );
  assert.ok(value !== undefined, `${select} offers ${routePath}`);
  await page.selectOption(select, value);
}

/** Streams the fake microphone to `routePath` until a final transcript shows, then stops. */
async function transcribe(page, routePath) {
  await chooseRoute(page, "#stt-route", routePath);
  // note any interim text shown along the way (it is replaced quickly)
  await page.evaluate(() => {
    window.__interimSeen = "";
    const el = document.getElementById("interim");
    new MutationObserver(() => {
      if (el.textContent) window.__interimSeen = el.textContent;
    }).observe(el, { childList: true, characterData: true, subtree: true });
  });
  await page.click("#mic-start");
  await page.waitForFunction(
    (re) => new RegExp(re, "i").test(document.getElementById("final").textContent),
    SIMULATOR_WORDS.source,
    { timeout: RESULT_TIMEOUT_MS },
  );
  const streaming = await page.textContent("#stt-state");
  await page.click("#mic-stop");
  await page.waitForFunction(() => document.getElementById("stt-state").textContent.startsWith("closed"), null, {
    timeout: RESULT_TIMEOUT_MS,
  });
  return {
    streaming,
    final: await page.textContent("#final"),
    interimSeen: await page.evaluate(() => window.__interimSeen),
    state: await page.textContent("#stt-state"),
    status: await page.textContent("#status"),
    statusIsError: await page.$eval("#status", (el) => el.classList.contains("error")),
  };
}

/**
 * Runs an OpenAI Realtime session of `mode` ("realtime" or "transcription") on the fake microphone:
 * an `ek_` key minted at /v1/realtime/client_secrets, speech heard by the simulator, Stop, closed.
 */
async function realtime(page, mode) {
  await chooseRoute(page, "#rt-route", "/v1/realtime");
  await page.selectOption("#rt-mode", mode);
  const minted = page.waitForResponse((r) => r.url().endsWith("/v1/realtime/client_secrets"), {
    timeout: RESULT_TIMEOUT_MS,
  });
  await page.click("#rt-start");
  const secret = await (await minted).json();
  await page.waitForFunction(() => /speech heard/.test(document.getElementById("rt-state").textContent), null, {
    timeout: RESULT_TIMEOUT_MS,
  });
  const streaming = await page.textContent("#rt-state");
  await page.click("#rt-stop");
  await page.waitForFunction(() => document.getElementById("rt-state").textContent.startsWith("closed"), null, {
    timeout: RESULT_TIMEOUT_MS,
  });
  const said = (who) => page.$$eval(`#rt-log .rt-${who} span`, (els) => els.map((e) => e.textContent).join(" "));
  return {
    secret,
    streaming,
    you: await said("you"),
    assistant: await said("assistant"),
    bytes: Number(await page.textContent("#rt-bytes")),
    state: await page.textContent("#rt-state"),
    status: await page.textContent("#status"),
    statusIsError: await page.$eval("#status", (el) => el.classList.contains("error")),
  };
}

describe("demo page in headless Chromium", { timeout: 180_000 }, () => {
  before(async () => {
    rmSync(path.join(REPORT_DIR, "demo-failure.png"), { force: true });
    scratch = mkdtempSync(path.join(tmpdir(), "voxrelay-demo-"));
    const wav = path.join(scratch, "tone.wav");
    execFileSync("python3", [path.join(HERE, "make_wav.py"), wav, "--rate", "48000", "--seconds", "4"]);
    const browserEnv = trustTestCa();
    relay = await startRelay();
    context = await chromium.launchPersistentContext(path.join(scratch, "profile"), {
      executablePath: CHROMIUM,
      env: browserEnv,
      headless: true,
      args: [
        ...CHROMIUM_FLAGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        `--use-file-for-fake-audio-capture=${wav}`,
      ],
      viewport: { width: 900, height: 820 },
    });
    page = watch(context.pages()[0] || (await context.newPage()));
  });

  after(async () => {
    try {
      if (failed && page) {
        mkdirSync(REPORT_DIR, { recursive: true });
        await page.screenshot({ path: path.join(REPORT_DIR, "demo-failure.png"), fullPage: true }).catch(() => {});
        console.error(`--- page log ---\n${pageLog.join("\n")}\n--- voxrelay log (tail) ---\n${relay?.log.slice(-40).join("\n")}`);
      }
      await context?.close();
    } finally {
      if (relay) await stopRelay();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    }
  });

  // what the Providers panel checks (providers.mjs) use
  const shared = {
    page: () => page,
    openDemo,
    config: () => getJson(`${origin()}/demo/config.json`),
    words: SIMULATOR_WORDS,
  };

  // every step below depends on the ones before it
  const step = (name, fn) =>
    it(name, { timeout: STEP_TIMEOUT_MS }, async (t) => {
      if (failed) return t.skip("an earlier step failed");
      try {
        await fn(t);
      } catch (err) {
        failed = true;
        throw err;
      }
    });

  step("loads the page and its config from voxrelay", async () => {
    await page.goto(`${origin()}/demo/`);
    await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("ready"), null, {
      timeout: RESULT_TIMEOUT_MS,
    });
    assert.equal(await page.isHidden("#auth"), true, "the public demo key is used, no paste box");
    assert.equal(await page.isEnabled("#mic-start"), true);
    assert.equal(await page.isEnabled("#speak"), true);
    assert.equal(await page.isVisible("#realtime"), true, "local mode offers OpenAI Realtime");
    assert.equal(await page.isEnabled("#rt-start"), true);
    const kinds = (await getJson(`${origin()}/demo/config.json`)).routes.map((r) => r.kind);
    const panels = await page.$$eval("#providers .pv-panel", (els) => els.map((e) => e.dataset.kind));
    assert.deepEqual(panels, Object.keys(PROVIDER_KINDS).filter((k) => kinds.includes(k)), "a panel per provider kind present");
    assert.equal(await page.isVisible("#providers"), panels.length > 0);
    assert.equal(await page.evaluate(() => location.protocol), `${SCHEME}:`);
  });

  step("Flux (/v2/listen): microphone → end-of-turn transcript, CloseStream closes", async () => {
    const r = await transcribe(page, "/v2/listen");
    assert.match(r.streaming, /^streaming \(AudioWorklet, \d+ Hz → 16000 Hz\)/);
    assert.match(r.final, SIMULATOR_WORDS);
    assert.match(r.state, /^closed 1005/, "Flux closes without a status after CloseStream");
    assert.equal(r.statusIsError, false, r.status);
  });

  step("Nova (/v1/listen): microphone → interim and final transcripts, CloseStream closes 1000", async () => {
    const r = await transcribe(page, "/v1/listen");
    assert.match(r.final, SIMULATOR_WORDS);
    assert.match(r.interimSeen, SIMULATOR_WORDS, "interim results were shown");
    assert.match(r.state, /^closed 1000/);
    assert.equal(r.statusIsError, false, r.status);
  });

  step("TTS (/v1/speak): text → audio received and played, Close closes 1000", async () => {
    await chooseRoute(page, "#tts-route", "/v1/speak");
    await page.fill("#tts-text", "Hello from the voxrelay demo test.");
    await page.click("#speak");
    await page.waitForFunction(() => Number(document.getElementById("tts-bytes").textContent) > 0, null, {
      timeout: RESULT_TIMEOUT_MS,
    });
    await page.waitForFunction(() => /closed/.test(document.getElementById("tts-state").textContent), null, {
      timeout: RESULT_TIMEOUT_MS,
    });
    const bytes = Number(await page.textContent("#tts-bytes"));
    assert.ok(bytes > 0 && bytes % 2 === 0, `whole 16-bit samples: ${bytes}`);
    assert.match(await page.textContent("#tts-state"), /^playing [\d.]+ s, closed 1000/);
    assert.equal(await page.$eval("#status", (el) => el.classList.contains("error")), false);
  });

  step("OpenAI Realtime (/v1/realtime): ek_ key, browser subprotocols, microphone → reply text and audio", async () => {
    const r = await realtime(page, "realtime");
    assert.match(r.secret.value, /^ek_/);
    assert.deepEqual(r.secret.session, { type: "realtime", model: "gpt-realtime" });
    assert.match(r.streaming, /^streaming \(AudioWorklet, \d+ Hz → 24000 Hz\)/);
    assert.match(r.assistant, SIMULATOR_WORDS, "the reply's transcript is shown");
    assert.ok(r.bytes > 0 && r.bytes % 2 === 0, `reply audio in whole 16-bit samples: ${r.bytes}`);
    assert.match(r.state, /^closed 1000/);
    assert.equal(r.statusIsError, false, r.status);
  });

  step("OpenAI Realtime transcription session: microphone → transcript of what was heard", async () => {
    const r = await realtime(page, "transcription");
    assert.equal(r.secret.session.type, "transcription");
    assert.match(r.you, SIMULATOR_WORDS, "the input transcript is shown");
    assert.equal(r.assistant, "");
    assert.match(r.state, /^closed 1000/);
    assert.equal(r.statusIsError, false, r.status);
  });

  providerSteps(step, shared);

  step("has no page errors; screenshot", async () => {
    const errors = pageLog.filter((l) => l.startsWith("pageerror") || l.startsWith("console.error"));
    assert.deepEqual(errors, []);
    const sockets = pageLog.filter((l) => l.startsWith("websocket ws"));
    assert.ok(sockets.length >= 3, `the page opened its WebSockets: ${sockets}`);
    const scheme = TLS ? "wss://" : "ws://";
    assert.ok(sockets.every((l) => l.startsWith(`websocket ${scheme}`)), `all over ${scheme}: ${sockets}`);
    mkdirSync(REPORT_DIR, { recursive: true });
    await page.screenshot({ path: path.join(REPORT_DIR, "demo.png"), fullPage: true });
  });

  step("falls back to ScriptProcessor without AudioWorklet", async () => {
    await context.addInitScript(() => {
      if (new URLSearchParams(location.search).has("no-worklet")) delete window.AudioWorkletNode;
    });
    const p = watch(await context.newPage());
    await p.goto(`${origin()}/demo/?no-worklet`);
    await p.waitForFunction(() => document.getElementById("status").textContent.startsWith("ready"));
    const r = await transcribe(p, "/v1/listen");
    assert.match(r.streaming, /^streaming \(ScriptProcessor, \d+ Hz → 16000 Hz\)/);
    assert.match(r.final, SIMULATOR_WORDS);
    assert.match(r.state, /^closed 1000/);
    await p.close();
  });

  step("without a public key: asks for one; a pasted key or access token works", async () => {
    const p = watch(await context.newPage());
    // the same relay, but its config.json as if [demo] public_key were unset
    await p.route("**/demo/config.json", async (route) => {
      const config = await getJson(route.request().url());
      await route.fulfill({ json: { ...config, key: null } });
    });
    await p.goto(`${origin()}/demo/`);
    await p.waitForFunction(() => document.getElementById("status").textContent.startsWith("ready"));
    assert.equal(await p.isVisible("#credential"), true);
    const speak = async () => {
      await p.click("#speak");
      await p.waitForFunction(
        () => /closed|idle/.test(document.getElementById("tts-state").textContent) &&
          !document.getElementById("speak").disabled,
        null,
        { timeout: RESULT_TIMEOUT_MS },
      );
      return { bytes: Number(await p.textContent("#tts-bytes")), status: await p.textContent("#status") };
    };
    assert.match((await speak()).status, /paste a client key or access token/);
    await p.fill("#credential", "not-a-key");
    assert.match((await speak()).status, /grant refused \(401\)/);
    await p.fill("#credential", "voxrelay-demo-key");
    assert.ok((await speak()).bytes > 0, "a pasted client key is traded for a token");
    const token = await p.evaluate(async () => {
      const r = await fetch("/v1/auth/grant", {
        method: "POST",
        headers: { Authorization: "Token voxrelay-demo-key", "Content-Type": "application/json" },
        body: JSON.stringify({ ttl_seconds: 30 }),
      });
      return (await r.json()).access_token;
    });
    await p.fill("#credential", token);
    assert.ok((await speak()).bytes > 0, "a pasted access token is used as is");
    await p.close();
  });

  providerFallbackStep(step, shared);
});
