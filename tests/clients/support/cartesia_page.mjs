// The page side of cartesia_browser.mjs, bundled with esbuild at test time (never committed):
// @cartesia/cartesia-js's browser path (native WebSocket, credential and version in the query).
// Exposes window.cartesiaStt and window.cartesiaTts; each resolves with what it saw.

import { Cartesia } from "@cartesia/cartesia-js";

import { FRAME_BYTES, FRAMES, STT_PARAMS, TTS_OPTIONS, frame, within } from "./cartesia.mjs";

window.cartesiaStt = async ({ baseURL, token }) => {
  const client = new Cartesia({ token, baseURL, maxRetries: 0 });
  const ws = client.stt.manualFinalize.websocket(STT_PARAMS);
  const out = { finals: [], interims: 0, errors: [], sent_audio_bytes: 0, url: String(ws.url) };
  ws.on("error", (error) => out.errors.push(error.message));
  ws.on("transcript", (event) => (event.is_final ? out.finals.push(event) : out.interims++));
  const flushed = new Promise((resolve) => ws.on("flush_done", resolve));
  const done = new Promise((resolve) => ws.on("done", resolve));
  const closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
  // A refused or dropped socket ends the wait at once instead of at the timeout.
  const early = closed.then((code) => {
    throw new Error(`socket closed (${code}) before flush_done: ${out.errors.join("; ")}`);
  });
  early.catch(() => {});
  for (let i = 0; i < FRAMES; i++) {
    ws.sendRaw(frame(i));
    out.sent_audio_bytes += FRAME_BYTES;
  }
  ws.send("finalize");
  await within(15_000, "flush_done after finalize", Promise.race([flushed, early]));
  ws.send("close");
  await within(15_000, "done after close", done);
  out.close_code = await within(15_000, "the server's close", closed);
  return out;
};

window.cartesiaTts = async ({ baseURL, token, text }) => {
  const client = new Cartesia({ token, baseURL, maxRetries: 0 });
  const ws = await within(15_000, "the TTS socket opening", client.tts.websocket());
  const out = { audio_bytes: 0, events: [], errors: [], url: String(ws.url) };
  ws.on("error", (error) => out.errors.push(error.message));
  try {
    const ctx = ws.context({ ...TTS_OPTIONS, timeout: 15_000 });
    await ctx.push({ transcript: text });
    await ctx.no_more_inputs();
    for await (const event of ctx.receive()) {
      out.events.push(event.type);
      if (event.type === "chunk") out.audio_bytes += event.audio.byteLength;
    }
  } finally {
    ws.close();
  }
  return out;
};

window.cartesiaReady = true;
