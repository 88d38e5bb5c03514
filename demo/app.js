// voxrelay demo page: microphone → live transcripts (/v1/listen or Flux /v2/listen), text →
// speech (/v1/speak), OpenAI Realtime sessions (realtime.js) and other providers' routes
// (providers.js), through this relay. Plain JS modules, no build step, no external resources.

import { playPcm16, startCapture } from "./audio.js";
import { setupProviders } from "./providers.js";
import { setupRealtime } from "./realtime.js";

(() => {
  const $ = (id) => document.getElementById(id);

  const STT_RATE = 16000; // linear16 sent to speech-to-text routes
  const TTS_RATE = 24000; // linear16 asked of speak routes
  const GRANT_TTL_SECONDS = 60; // the token only has to be valid when the socket opens
  const CLOSE_WAIT_MS = 5000; // how long Stop waits for the server to close after CloseStream
  const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;

  let config = { key: null, routes: [] };
  let stt = null; // the running speech-to-text session
  let playback = null; // AudioContext for TTS, created on the first click

  // ---- page helpers -------------------------------------------------------------------------

  function setStatus(text, isError = false) {
    const el = $("status");
    el.textContent = text;
    el.classList.toggle("error", isError);
  }

  function fail(err) {
    setStatus(`error: ${err && err.message ? err.message : err}`, true);
  }

  function describeClose(e) {
    const hint = { 1005: " (no status)", 1006: " (abnormal: handshake refused or connection lost)" };
    return `closed ${e.code}${hint[e.code] || ""}${e.reason ? ` “${e.reason}”` : ""}`;
  }

  function routeFrom(selectId) {
    return config.routes[Number($(selectId).value)];
  }

  function fillRoutes(selectId, kinds) {
    const select = $(selectId);
    config.routes.forEach((r, i) => {
      if (!kinds.includes(r.kind)) return;
      const label = `${r.path} — ${r.kind}${r.model ? `, ${r.model}` : ""}`;
      select.add(new Option(label, String(i)));
    });
    return select.options.length > 0;
  }

  // ---- auth and sockets ---------------------------------------------------------------------

  // A short-lived token: the public demo key (or a pasted client key) traded at the grant
  // endpoint, or a pasted access token used as is.
  async function accessToken() {
    const key = config.key || $("credential").value.trim();
    if (!key) throw new Error("paste a client key or access token first");
    if (!config.key && JWT.test(key)) return key;
    setStatus("requesting a token…");
    const resp = await fetch("/v1/auth/grant", {
      method: "POST",
      headers: { Authorization: `Token ${key}`, "Content-Type": "application/json" },
      body: JSON.stringify({ ttl_seconds: GRANT_TTL_SECONDS }),
    });
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(`grant refused (${resp.status}): ${body.err_msg || resp.statusText}`);
    return body.access_token;
  }

  // Opens a socket to `route` and resolves once it is open.
  async function connect(route, params) {
    const token = await accessToken();
    const query = new URLSearchParams(route.model ? { model: route.model, ...params } : params);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}${route.path}?${query}`, ["bearer", token]);
    ws.binaryType = "arraybuffer";
    setStatus(`connecting to ${route.path}…`);
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve, { once: true });
      ws.addEventListener("close", (e) => reject(new Error(`${route.path} ${describeClose(e)}`)), { once: true });
    });
    return ws;
  }

  // ---- speech to text -----------------------------------------------------------------------

  function showFinal(text) {
    if (!text) return;
    const el = $("final");
    el.textContent = el.textContent ? `${el.textContent} ${text}` : text;
  }

  function onSttMessage(data) {
    if (typeof data !== "string") return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg.type === "Results") {
      // Nova (/v1/listen): interim results, then a final one for the same audio
      const alt = msg.channel && msg.channel.alternatives && msg.channel.alternatives[0];
      const text = (alt && alt.transcript) || "";
      if (msg.is_final) {
        showFinal(text);
        $("interim").textContent = "";
      } else {
        $("interim").textContent = text;
      }
    } else if (msg.type === "TurnInfo") {
      // Flux (/v2/listen): updates within a turn, final at its end
      if (msg.event === "EndOfTurn") {
        showFinal(msg.transcript);
        $("interim").textContent = "";
      } else {
        $("interim").textContent = msg.transcript || "";
      }
    } else if (msg.type === "Error") {
      setStatus(`server error: ${msg.description || msg.code || data}`, true);
    }
  }

  function sttButtons(running) {
    $("mic-start").disabled = running;
    $("mic-stop").disabled = !running;
    $("stt-route").disabled = running;
  }

  async function startMic() {
    const route = routeFrom("stt-route");
    sttButtons(true);
    $("final").textContent = "";
    $("interim").textContent = "";
    $("stt-state").textContent = "starting";
    let stream = null;
    try {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        throw new Error("the microphone needs a secure context (https:// or http://localhost)");
      }
      setStatus("asking for the microphone…");
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
      });
      const params = { encoding: "linear16", sample_rate: String(STT_RATE) };
      if (route.kind === "listen") params.interim_results = "true";
      const ws = await connect(route, params);
      const session = { ws, capture: null, closeTimer: 0 };
      stt = session;
      ws.onmessage = (e) => onSttMessage(e.data);
      ws.onclose = async (e) => {
        clearTimeout(session.closeTimer);
        if (session.capture) await session.capture.stop();
        if (stt === session) stt = null;
        $("stt-state").textContent = describeClose(e);
        setStatus(`${route.path} ${describeClose(e)}`, ![1000, 1005].includes(e.code));
        sttButtons(false);
      };
      session.capture = await startCapture(stream, STT_RATE, (frame) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(frame);
      });
      stream = null;
      if (ws.readyState !== WebSocket.OPEN) return session.capture.stop(); // closed meanwhile
      $("stt-state").textContent = `streaming (${session.capture.description})`;
      setStatus(`listening on ${route.path} — speak, then Stop`);
    } catch (err) {
      if (stream) stream.getTracks().forEach((t) => t.stop());
      if (stt) {
        stt.ws.onclose = null; // keep the error on screen
        stt.ws.close(1000);
        stt = null;
      }
      fail(err);
      $("stt-state").textContent = "idle";
      sttButtons(false);
    }
  }

  // Stops the microphone and asks the server to finish: it sends the last results, then closes.
  async function stopMic() {
    const session = stt;
    if (!session) return;
    $("mic-stop").disabled = true;
    if (session.capture) await session.capture.stop();
    if (session.ws.readyState === WebSocket.OPEN) {
      session.ws.send(JSON.stringify({ type: "CloseStream" }));
      $("stt-state").textContent = "finishing";
      setStatus("waiting for the last results…");
      session.closeTimer = setTimeout(() => session.ws.close(1000), CLOSE_WAIT_MS);
    }
  }

  // ---- text to speech -----------------------------------------------------------------------

  function concat(chunks) {
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const c of chunks) {
      out.set(new Uint8Array(c), at);
      at += c.byteLength;
    }
    return out;
  }

  async function speak() {
    const text = $("tts-text").value.trim();
    if (!text) return fail(new Error("type some text to speak"));
    const route = routeFrom("tts-route");
    $("speak").disabled = true;
    $("tts-bytes").textContent = "0";
    $("tts-state").textContent = "connecting";
    // created inside the click so autoplay rules let it sound
    playback = playback || new AudioContext();
    playback.resume().catch(() => {});
    try {
      const ws = await connect(route, { encoding: "linear16", sample_rate: String(TTS_RATE) });
      const chunks = [];
      ws.onmessage = (e) => {
        if (typeof e.data !== "string") {
          chunks.push(e.data);
          $("tts-state").textContent = `receiving (${chunks.length} chunks)`;
          return;
        }
        let msg;
        try {
          msg = JSON.parse(e.data);
        } catch {
          return;
        }
        if (msg.type === "Flushed") {
          const audio = concat(chunks);
          const seconds = playPcm16(playback, audio, TTS_RATE);
          $("tts-bytes").textContent = String(audio.byteLength);
          $("tts-state").textContent = `playing ${seconds.toFixed(2)} s`;
          setStatus(`spoke ${audio.byteLength} bytes of audio from ${route.path}`);
          ws.send(JSON.stringify({ type: "Close" }));
        } else if (msg.type === "Warning" || msg.type === "Error") {
          setStatus(`server ${msg.type.toLowerCase()}: ${msg.description || msg.err_msg || e.data}`, true);
        }
      };
      ws.onclose = (e) => {
        const state = $("tts-state");
        state.textContent = `${state.textContent.startsWith("playing") ? `${state.textContent}, ` : ""}${describeClose(e)}`;
        if (![1000, 1005].includes(e.code)) setStatus(`${route.path} ${describeClose(e)}`, true);
        $("speak").disabled = false;
      };
      ws.send(JSON.stringify({ type: "Speak", text }));
      ws.send(JSON.stringify({ type: "Flush" }));
      $("tts-state").textContent = "waiting for audio";
      setStatus(`speaking through ${route.path}…`);
    } catch (err) {
      fail(err);
      $("tts-state").textContent = "idle";
      $("speak").disabled = false;
    }
  }

  // ---- start-up -----------------------------------------------------------------------------

  async function init() {
    try {
      const resp = await fetch("/demo/config.json");
      if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
      config = await resp.json();
    } catch (err) {
      return setStatus(`could not load /demo/config.json: ${err.message}`, true);
    }
    $("auth").hidden = Boolean(config.key);
    const hasStt = fillRoutes("stt-route", ["listen", "flux"]);
    const hasTts = fillRoutes("tts-route", ["speak"]);
    $("mic-start").disabled = !hasStt;
    $("speak").disabled = !hasTts;
    const shared = {
      config,
      setStatus,
      fail,
      describeClose,
      fillRoutes,
      // a pasted access token is used as is; a client key is traded for a short-lived one
      credential: () => {
        const key = config.key || $("credential").value.trim();
        return { key, isToken: !config.key && JWT.test(key) };
      },
    };
    setupRealtime(shared);
    setupProviders(shared);
    $("auth-form").addEventListener("submit", (e) => e.preventDefault());
    $("mic-start").addEventListener("click", startMic);
    $("mic-stop").addEventListener("click", stopMic);
    $("speak").addEventListener("click", speak);
    const auth = config.key ? "using the public demo key" : "paste a key or token below";
    setStatus(`ready — ${auth}`);
  }

  init();
})();
