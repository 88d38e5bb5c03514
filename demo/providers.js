// voxrelay demo page: the "Providers" section — one panel per provider route kind in
// /demo/config.json (ElevenLabs, AssemblyAI, Cartesia, generic). Each panel picks a route of its
// kind and runs one session on one click: speech-to-text kinds stream the microphone for a few
// seconds and show the transcript, text-to-speech kinds send a sentence and show (and play) the
// audio received. The credential is a grant narrowed to that route, placed where the provider's
// browser SDK places it (provider-kinds.js). Plain JS, no build step.

import { playPcm16, startCapture } from "./audio.js";
import { KINDS, RATE } from "./provider-kinds.js";

const GRANT_TTL_SECONDS = 60; // the token only has to be valid when the socket opens
const STREAM_MS = 3000; // how long speech-to-text panels stream the microphone
const START_WAIT_MS = 5000; // how long a session that must be started waits for the server
const FINISH_WAIT_MS = 8000; // how long a finished session waits for the server to close

const SENTENCE = "Hello from voxrelay. This audio came through the relay.";

let page; // what app.js shares: config, status, credential
let playback = null; // AudioContext for speech, created on the first click

// ---- credential ---------------------------------------------------------------------------

async function postGrant(key, body) {
  return fetch("/v1/auth/grant", {
    method: "POST",
    headers: { Authorization: `Token ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

// A token for `route` only: a pasted access token as is, else the client key traded for a grant
// narrowed to the route (and its model). A relay that refuses the narrowing (400) is asked for a
// plain grant; one that does not know it ignores the extra fields.
async function grant(route) {
  const { key, isToken } = page.credential();
  if (!key) throw new Error("paste a client key or access token first");
  if (isToken) return key;
  page.setStatus(`requesting a token for ${route.name}…`);
  const narrowed = { ttl_seconds: GRANT_TTL_SECONDS, routes: [route.name] };
  if (route.model) narrowed.models = [route.model];
  let resp = await postGrant(key, narrowed);
  if (resp.status === 400) resp = await postGrant(key, { ttl_seconds: GRANT_TTL_SECONDS });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const why = body.err_msg || (body.error && body.error.message) || resp.statusText;
    throw new Error(`grant refused (${resp.status}): ${why}`);
  }
  return body.access_token;
}

// ---- one session --------------------------------------------------------------------------

// The route's path with its captures (`{voice_id}`) filled.
function fillPath(path, voice) {
  return path.replace(/\{[^/{}]+\}/g, (m) => encodeURIComponent(m === "{voice_id}" ? voice || "demo" : "demo"));
}

async function open(route, kind, token, voice) {
  const query = new URLSearchParams({ ...kind.query(route), [kind.tokenParam]: token });
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}${fillPath(route.path, voice)}?${query}`);
  ws.binaryType = "arraybuffer";
  page.setStatus(`connecting to ${route.path}…`);
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("close", (e) => reject(new Error(`${route.path} ${page.describeClose(e)}`)), { once: true });
  });
  return ws;
}

function fromBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Runs one session in `panel` for the kind `kind`; resolves once it has closed.
async function run(panel, kind) {
  const el = (name) => panel.querySelector(`.pv-${name}`);
  const route = page.config.routes[Number(el("route").value)];
  const voice = kind.tts ? el("voice").value.trim() : "";
  const text = kind.tts ? el("text").value.trim() : "";
  if (kind.tts && !text) return page.fail(new Error("type some text to speak"));
  el("run").disabled = true;
  el("final").textContent = "";
  el("interim").textContent = "";
  el("bytes").textContent = "0";
  el("state").textContent = "starting";
  if (kind.tts) {
    // created inside the click so autoplay rules let it sound
    playback = playback || new AudioContext();
    playback.resume().catch(() => {});
  }
  let stream = null;
  let s = null;
  try {
    if (!kind.tts) {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        throw new Error("the microphone needs a secure context (https:// or http://localhost)");
      }
      page.setStatus("asking for the microphone…");
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
      });
    }
    const ws = await open(route, kind, await grant(route), voice);
    let started;
    s = { ws, sent: 0, finishing: false, chunks: [], bytes: 0, error: "", capture: null };
    s.started = new Promise((resolve) => (started = resolve));
    s.closed = new Promise((resolve) => ws.addEventListener("close", resolve, { once: true }));
    ws.onmessage = (e) => {
      if (typeof e.data !== "string") return;
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      const out = kind.read(msg, s);
      if (out.started) started();
      if (out.partial !== undefined) el("interim").textContent = out.partial || "";
      if (out.final) {
        const prev = el("final").textContent;
        el("final").textContent = prev ? `${prev} ${out.final.trim()}` : out.final.trim();
        el("interim").textContent = "";
      }
      if (out.audio) {
        const bytes = fromBase64(out.audio);
        s.chunks.push(bytes);
        s.bytes += bytes.byteLength;
        el("bytes").textContent = String(s.bytes);
        el("state").textContent = `receiving (${s.chunks.length} chunks)`;
      }
      if (out.done) el("state").textContent = "done, closing";
      if (out.error) {
        s.error = out.error;
        page.setStatus(`server error: ${out.error}`, true);
      }
    };
    if (kind.tts) {
      kind.speak(ws, text, route, voice);
      el("state").textContent = "waiting for audio";
      page.setStatus(`speaking through ${route.path}…`);
    } else {
      if (kind.start) {
        kind.start(ws, route);
        const ok = await Promise.race([s.started.then(() => true), s.closed.then(() => false), wait(START_WAIT_MS)]);
        if (ok === undefined) throw new Error(`${route.path}: the session did not start in time`);
      }
      if (ws.readyState === WebSocket.OPEN) {
        s.capture = await startCapture(stream, RATE, (frame) => {
          if (ws.readyState !== WebSocket.OPEN) return;
          kind.audio(ws, frame);
          s.sent += 1;
        });
        stream = null;
        el("state").textContent = `streaming (${s.capture.description})`;
        page.setStatus(`streaming the microphone to ${route.path} for ${STREAM_MS / 1000} s…`);
        await Promise.race([wait(STREAM_MS), s.closed]);
        await s.capture.stop();
      }
      if (stream) stream.getTracks().forEach((t) => t.stop()); // closed before streaming
      stream = null;
      if (ws.readyState === WebSocket.OPEN) {
        s.finishing = true;
        kind.finish(ws, s);
        el("state").textContent = "finishing";
        page.setStatus("waiting for the last results…");
      }
    }
    const timer = setTimeout(() => ws.close(1000), FINISH_WAIT_MS);
    const e = await s.closed;
    clearTimeout(timer);
    let played = "";
    if (kind.tts && s.bytes > 0) {
      const seconds = playPcm16(playback, concat(s.chunks), RATE);
      played = `played ${seconds.toFixed(2)} s, `;
    }
    el("state").textContent = `${played}${page.describeClose(e)}`;
    const clean = [1000, 1005].includes(e.code) && !s.error;
    if (!clean) {
      page.setStatus(`${route.path} ${page.describeClose(e)}${s.error ? ` after “${s.error}”` : ""}`, true);
    } else if (kind.tts) {
      page.setStatus(`spoke ${s.bytes} bytes of audio from ${route.path}`);
    } else {
      page.setStatus(`transcribed ${s.sent} frames through ${route.path}`);
    }
  } catch (err) {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    if (s && s.capture) await s.capture.stop();
    if (s && s.ws.readyState === WebSocket.OPEN) s.ws.close(1000);
    page.fail(err);
    el("state").textContent = "idle";
  } finally {
    el("run").disabled = false;
  }
}

// ---- panels -------------------------------------------------------------------------------

function panel(name, kind) {
  const div = document.createElement("div");
  div.className = "pv-panel";
  div.dataset.kind = name;
  div.innerHTML = `
    <h3></h3>
    <div class="row"><label>Route <select class="pv-route"></select></label>
      <label class="pv-tts">Voice <input class="pv-voice" size="24" autocomplete="off"></label></div>
    <div class="row pv-tts"><textarea class="pv-text" rows="2"></textarea></div>
    <div class="row"><button class="pv-run"></button>
      <span class="muted">Session: <span class="pv-state">idle</span><span class="pv-tts">
        · Audio received: <span class="pv-bytes">0</span> bytes</span></span></div>
    <div class="pv-transcript" aria-live="polite"><span class="pv-final"></span> <span class="pv-interim"></span></div>`;
  div.querySelector("h3").textContent = `${kind.title} — ${name}`;
  div.querySelector(".pv-run").textContent = kind.tts ? "Speak" : `Transcribe ${STREAM_MS / 1000} s of microphone`;
  div.querySelectorAll(kind.tts ? ".pv-transcript" : ".pv-tts").forEach((e) => (e.hidden = true));
  if (kind.tts) {
    div.querySelector(".pv-voice").value = kind.voice;
    div.querySelector(".pv-text").value = SENTENCE;
  }
  const select = div.querySelector(".pv-route");
  page.config.routes.forEach((r, i) => {
    if (r.kind !== name) return;
    select.add(new Option(`${r.path} — ${r.name}${r.model ? `, ${r.model}` : ""}`, String(i)));
  });
  div.querySelector(".pv-run").addEventListener("click", () => run(div, kind));
  return div;
}

// Builds a panel for every provider kind with a route in the config; hides the section when
// there is none. Returns the kinds shown.
export function setupProviders(shared) {
  page = shared;
  const present = Object.keys(KINDS).filter((name) => page.config.routes.some((r) => r.kind === name));
  const section = document.getElementById("providers");
  for (const name of present) section.append(panel(name, KINDS[name]));
  section.hidden = present.length === 0;
  return present;
}
