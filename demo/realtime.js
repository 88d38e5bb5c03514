// voxrelay demo page: an OpenAI Realtime session through the relay, opened as OpenAI's browser
// clients open one: an ephemeral `ek_` key minted at `<route>/client_secrets` (OpenAI's endpoint
// shape), the subprotocols `realtime, openai-insecure-api-key.<key>`, microphone audio as base64
// 16-bit PCM at 24 kHz in `input_audio_buffer.append`; transcripts and response text shown,
// output audio played. Plain JS, no build step.

import { playPcm16, startCapture } from "./audio.js";

const RATE = 24000; // `audio/pcm`, the only PCM rate the Realtime API takes
const SECRET_SECONDS = 60; // the key only has to be valid when the socket opens
const FINISH_WAIT_MS = 8000; // how long Stop waits for the reply or transcript before closing

const $ = (id) => document.getElementById(id);

let page; // what app.js shares: config, status, credential
let session = null; // the running session
let playback = null; // AudioContext for the reply, created on the first click

function base64(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

function fromBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

// The key the browser presents: a pasted access token or `ek_` key as is, else an ephemeral key
// minted with the client key the way a backend would with OpenAI's SDK.
async function ephemeralKey(route, type) {
  const { key, isToken } = page.credential();
  if (!key) throw new Error("paste a client key or access token first");
  if (isToken || key.startsWith("ek_")) return key;
  page.setStatus("minting an ephemeral key…");
  const resp = await fetch(`${route.path}/client_secrets`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      expires_after: { anchor: "created_at", seconds: SECRET_SECONDS },
      session: { type, model: route.model },
    }),
  });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const why = (body.error && body.error.message) || resp.statusText;
    throw new Error(`client secret refused (${resp.status}): ${why}`);
  }
  return body.value;
}

// The transcript line for `id` (created on first use), labelled `who`.
function line(id, who) {
  let el = document.querySelector(`#rt-log [data-id="${CSS.escape(id)}"]`);
  if (!el) {
    el = document.createElement("div");
    el.dataset.id = id;
    el.className = `rt-${who}`;
    el.append(Object.assign(document.createElement("b"), { textContent: `${who}: ` }), document.createElement("span"));
    $("rt-log").append(el);
  }
  return el.lastChild;
}

function onEvent(s, data) {
  let e;
  try {
    e = JSON.parse(data);
  } catch {
    return;
  }
  const finish = () => s.finishing && s.ws.close(1000);
  switch (e.type) {
    case "input_audio_buffer.speech_started":
      if (!s.heard) $("rt-state").textContent += " · speech heard";
      s.heard = true;
      break;
    case "conversation.item.input_audio_transcription.delta":
      line(`in-${e.item_id}`, "you").textContent += e.delta || "";
      break;
    case "conversation.item.input_audio_transcription.completed":
      line(`in-${e.item_id}`, "you").textContent = e.transcript || "";
      if (s.type === "transcription") finish();
      break;
    case "response.output_audio_transcript.delta":
    case "response.output_text.delta":
      line(`out-${e.response_id || e.item_id}`, "assistant").textContent += e.delta || "";
      break;
    case "response.output_audio.delta": {
      const bytes = fromBase64(e.delta || "");
      s.playAt = Math.max(playback.currentTime, s.playAt);
      s.playAt += playPcm16(playback, bytes, RATE, s.playAt);
      s.audioBytes += bytes.byteLength;
      $("rt-bytes").textContent = String(s.audioBytes);
      break;
    }
    case "response.done":
      if (s.type === "realtime") finish();
      break;
    case "error":
      page.setStatus(`server error: ${(e.error && e.error.message) || data}`, true);
      break;
    default:
  }
}

function buttons(running) {
  $("rt-start").disabled = running;
  $("rt-stop").disabled = !running;
  $("rt-route").disabled = running;
  $("rt-mode").disabled = running;
}

async function start() {
  const route = page.config.routes[Number($("rt-route").value)];
  const type = $("rt-mode").value; // "realtime" (a conversation) or "transcription"
  buttons(true);
  $("rt-log").textContent = "";
  $("rt-bytes").textContent = "0";
  $("rt-state").textContent = "starting";
  // created inside the click so autoplay rules let it sound
  playback = playback || new AudioContext();
  playback.resume().catch(() => {});
  let stream = null;
  try {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("the microphone needs a secure context (https:// or http://localhost)");
    }
    page.setStatus("asking for the microphone…");
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
    });
    const key = await ephemeralKey(route, type);
    const query = type === "transcription" ? "intent=transcription" : `model=${encodeURIComponent(route.model)}`;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}${route.path}?${query}`;
    const ws = new WebSocket(url, ["realtime", `openai-insecure-api-key.${key}`]);
    page.setStatus(`connecting to ${route.path}…`);
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve, { once: true });
      ws.addEventListener("close", (e) => reject(new Error(`${route.path} ${page.describeClose(e)}`)), { once: true });
    });
    const s = { ws, type, capture: null, finishing: false, heard: false, timer: 0, playAt: 0, audioBytes: 0 };
    session = s;
    ws.onmessage = (e) => onEvent(s, e.data);
    ws.onclose = async (e) => {
      clearTimeout(s.timer);
      if (s.capture) await s.capture.stop();
      if (session === s) session = null;
      $("rt-state").textContent = page.describeClose(e);
      page.setStatus(`${route.path} ${page.describeClose(e)}`, ![1000, 1005].includes(e.code));
      buttons(false);
    };
    s.capture = await startCapture(stream, RATE, (frame) => {
      if (ws.readyState === WebSocket.OPEN) {
        ws.send(JSON.stringify({ type: "input_audio_buffer.append", audio: base64(frame) }));
      }
    });
    stream = null;
    if (ws.readyState !== WebSocket.OPEN) return s.capture.stop(); // closed meanwhile
    $("rt-state").textContent = `streaming (${s.capture.description})`;
    const then = type === "transcription" ? "for the transcript" : "for the reply";
    page.setStatus(`talking to ${route.path} (${type}) — speak, then Stop ${then}`);
  } catch (err) {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    if (session) {
      session.ws.onclose = null; // keep the error on screen
      session.ws.close(1000);
      session = null;
    }
    page.fail(err);
    $("rt-state").textContent = "idle";
    buttons(false);
  }
}

// Stops the microphone, commits what was said and (in a conversation) asks for a reply; closes
// once it (or the transcript) has arrived.
async function stop() {
  const s = session;
  if (!s) return;
  $("rt-stop").disabled = true;
  if (s.capture) await s.capture.stop();
  if (s.ws.readyState !== WebSocket.OPEN) return;
  s.finishing = true;
  s.ws.send(JSON.stringify({ type: "input_audio_buffer.commit" }));
  if (s.type === "realtime") s.ws.send(JSON.stringify({ type: "response.create" }));
  $("rt-state").textContent = "finishing";
  page.setStatus(s.type === "realtime" ? "waiting for the reply…" : "waiting for the transcript…");
  s.timer = setTimeout(() => s.ws.close(1000), FINISH_WAIT_MS);
}

// Fills the section from the page's config; hides it when no realtime route exists.
export function setupRealtime(shared) {
  page = shared;
  const any = page.fillRoutes("rt-route", ["realtime"]);
  $("realtime").hidden = !any;
  $("rt-start").disabled = !any;
  $("rt-start").addEventListener("click", start);
  $("rt-stop").addEventListener("click", stop);
  return any;
}
