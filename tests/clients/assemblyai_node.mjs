// The official `assemblyai` Node SDK (4.41.x, `client.streaming.transcriber`) against an AssemblyAI
// Universal Streaming v3 endpoint. The SDK takes the full endpoint URL as `websocketBaseUrl` (it only
// replaces the query) and throws unless it is wss://, so this client needs a TLS endpoint; given ws:// or
// http:// it prints why and exits 0 as skipped.
//
// Environment:
//   ASSEMBLYAI_BASE_URL    wss://HOST:PORT[/prefix] (https:// is mapped to wss://); /v3/ws is appended
//   ASSEMBLYAI_CREDENTIAL  the API key or temporary token (default "simulated-key")
//   ASSEMBLYAI_AUTH        "key" (apiKey: sent as the raw `Authorization` header, default) or "token"
//                          (token: sent as ?token=, no header)
//   NODE_EXTRA_CA_CERTS    the test CA (read by Node at start-up; ASSEMBLYAI_CA_FILE is only checked to match)
//   ASSEMBLYAI_ANY_TRANSCRIPT=1  accept any non-empty transcript (default: the simulator's exact words)
//
// Streams 3 s of 16 kHz PCM16 in 100 ms chunks at real-time pace with formatTurns, then close(), which
// sends {"type":"Terminate"} and waits for Termination. The SDK does not hand Termination to any listener,
// so the test wraps the SDK socket's onmessage to see it first. Prints one JSON summary
// line; exits non-zero on any failed assertion. Run by scripts/clients/assemblyai.sh (`node`).

import assert from "node:assert/strict";

import { AssemblyAI } from "assemblyai";

const RATE = 16_000;
const CHUNK_MS = 100;
const SECONDS = 3;
const SIMULATED = "The quick brown fox jumps over the.";

function endpoint() {
  let raw = (process.env.ASSEMBLYAI_BASE_URL ?? "").replace(/\/+$/, "");
  if (!raw) throw new Error("ASSEMBLYAI_BASE_URL is unset");
  raw = raw.replace(/^https:\/\//, "wss://").replace(/^http:\/\//, "ws://");
  return raw.endsWith("/v3/ws") ? raw : `${raw}/v3/ws`;
}

function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function tone(seconds) {
  const pcm = new Int16Array(seconds * RATE);
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(3000 * Math.sin((2 * Math.PI * 220 * i) / RATE));
  return pcm;
}

async function main() {
  const url = endpoint();
  if (!url.startsWith("wss://")) {
    console.log(JSON.stringify({ client: "assemblyai-node", skipped: `the SDK refuses non-wss URLs (${url})` }));
    return;
  }
  const ca = process.env.ASSEMBLYAI_CA_FILE;
  if (ca) assert.equal(process.env.NODE_EXTRA_CA_CERTS, ca, "set NODE_EXTRA_CA_CERTS to the CA file");
  const credential = process.env.ASSEMBLYAI_CREDENTIAL || "simulated-key";
  const auth = process.env.ASSEMBLYAI_AUTH || "key";
  assert.ok(auth === "key" || auth === "token", `ASSEMBLYAI_AUTH must be key or token, not ${auth}`);
  const client = new AssemblyAI({ apiKey: auth === "key" ? credential : "unused-with-a-token" });
  const transcriber = client.streaming.transcriber({
    websocketBaseUrl: url,
    ...(auth === "key" ? { apiKey: credential } : { token: credential }),
    sampleRate: RATE,
    speechModel: "universal-streaming-english",
    formatTurns: true,
    connectTimeout: 5000,
    maxConnectionRetries: 0,
  });
  const turns = [];
  const errors = [];
  let termination;
  let closed;
  transcriber.on("turn", (turn) => turns.push(turn));
  transcriber.on("error", (error) => errors.push(String(error)));
  transcriber.on("close", (code, reason) => (closed = { code, reason }));

  const begin = await within(15_000, "Begin", transcriber.connect());
  // Seen before the SDK's own handler, which resolves close() on Termination.
  const socket = transcriber.socket;
  const sdkHandler = socket.onmessage;
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data.toString());
    if (message.type === "Termination") termination = message;
    sdkHandler(event);
  };
  const audio = tone(SECONDS);
  const step = (RATE * CHUNK_MS) / 1000;
  const start = Date.now();
  for (let offset = 0, index = 1; offset < audio.length; offset += step, index++) {
    transcriber.sendAudio(audio.slice(offset, offset + step).buffer);
    const pause = start + index * CHUNK_MS - Date.now();
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
  }
  await within(10_000, "close() after Terminate", transcriber.close(true, 8000));

  const finals = turns.filter((t) => t.end_of_turn && t.turn_is_formatted);
  const transcript = finals.map((t) => t.transcript).join(" ");
  console.log(
    JSON.stringify({
      client: "assemblyai-node",
      sent_audio_bytes: audio.byteLength,
      audio_duration_seconds: termination?.audio_duration_seconds ?? null,
      session_duration_seconds: termination?.session_duration_seconds ?? null,
      transcript,
    }),
  );
  assert.deepEqual(errors, [], "no errors");
  assert.ok(!closed || closed.code === 1000, `closed normally: ${JSON.stringify(closed)}`);
  assert.ok(begin.id, "Begin carries a session id");
  assert.ok(turns.some((t) => !t.end_of_turn), "partial turns arrived");
  assert.ok(transcript, "a formatted end of turn with text");
  if (process.env.ASSEMBLYAI_ANY_TRANSCRIPT !== "1") assert.equal(transcript, SIMULATED);
  assert.ok(termination, "Termination arrived after Terminate");
  assert.equal(termination.audio_duration_seconds, SECONDS);
  assert.ok(termination.session_duration_seconds >= SECONDS - 1);
}

main().catch((error) => {
  console.error(`assemblyai-node: FAILED: ${error?.stack ?? error}`);
  process.exit(1);
});
