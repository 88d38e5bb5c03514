// The official `openai` Node SDK (OpenAIRealtimeWS, the `ws`-based class) against the simulator's OpenAI
// Realtime side, changing only its base URL: a conversation turn and a transcription session.
//
// The SDK always builds a `wss:` URL (it overwrites the scheme of `baseURL`), and the simulator speaks
// plain ws://. This script keeps the SDK's URL, headers and events untouched and only hands `ws` a plain
// TCP socket through its `createConnection` option; a TLS listener with a test CA would make that
// unnecessary. Not part of the CI scripts yet. Needs `npm install --no-save openai@7.55.0` in
// tests/clients and a built target/debug/voxrelay.
//
//   node --test tests/clients/openai_node.test.mjs

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";

import OpenAI from "openai";
import { OpenAIRealtimeWS } from "openai/realtime/ws";

import { REPO, within } from "./support/voxrelay.mjs";

const KEY = "sk-simulated-openai-key";
const SECOND_OF_PCM = 48_000; // 24 kHz, 16-bit mono

let simulator;
let addr;

before(async () => {
  const bin = process.env.VOXRELAY_BIN ?? join(REPO, "target/debug/voxrelay");
  simulator = spawn(bin, ["simulate", "--listen", "127.0.0.1:0", "--api-key-env", "OPENAI_SIM_KEY"], {
    env: { ...process.env, OPENAI_SIM_KEY: KEY, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const listening = (async () => {
    const lines = createInterface({ input: simulator.stdout });
    const errors = createInterface({ input: simulator.stderr });
    for await (const line of mergeLines(lines, errors)) {
      const plain = line.replace(/\x1b\[[0-9;]*m/g, "");
      const match = plain.match(/simulator listening.*?addr\W+([0-9.]+:\d+)/);
      if (match) return match[1];
    }
    throw new Error("the simulator closed its output before listening");
  })();
  addr = await within(20_000, "simulator listening", listening);
  simulator.stdout.resume();
  simulator.stderr.resume();
});

after(async () => {
  if (!simulator || simulator.exitCode !== null) return;
  const gone = once(simulator, "exit");
  simulator.kill("SIGTERM");
  await within(10_000, "simulator exit", gone).catch(() => simulator.kill("SIGKILL"));
});

/** Lines from two readline interfaces, as they come. */
async function* mergeLines(...sources) {
  const queue = [];
  let wake = null;
  let open = sources.length;
  for (const source of sources) {
    source.on("line", (line) => {
      queue.push(line);
      wake?.();
    });
    source.on("close", () => {
      open -= 1;
      wake?.();
    });
  }
  while (open > 0 || queue.length > 0) {
    if (queue.length === 0) await new Promise((resolve) => (wake = resolve));
    wake = null;
    while (queue.length > 0) yield queue.shift();
  }
}

/** An SDK realtime connection through the simulator; `connection` is model or intent. */
function connect(connection, apiKey = KEY) {
  const client = new OpenAI({ apiKey, baseURL: `http://${addr}/v1` });
  const rt = new OpenAIRealtimeWS(
    { ...connection, options: { createConnection: (options) => net.connect(options) } },
    client,
  );
  const errors = [];
  rt.on("error", (error) => errors.push(error));
  return { rt, errors };
}

/** Resolves with the first event of `type` (bounded). */
function next(rt, type) {
  return within(10_000, type, new Promise((resolve) => rt.once(type, resolve)));
}

/** Appends `bytes` of PCM16 at a constant amplitude. */
function append(rt, bytes) {
  const pcm = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 2) pcm.writeInt16LE(1000, i);
  rt.send({ type: "input_audio_buffer.append", audio: pcm.toString("base64") });
}

test("SDK conversation turn: session events, audio deltas, transcript and usage", async () => {
  const { rt, errors } = connect({ model: "gpt-realtime" });
  assert.equal(rt.url.protocol, "wss:", "the SDK always asks for wss:");
  const created = await next(rt, "session.created");
  assert.equal(created.session.model, "gpt-realtime");

  rt.send({
    type: "session.update",
    session: { type: "realtime", audio: { input: { turn_detection: null, transcription: { model: "whisper-1" } } } },
  });
  await next(rt, "session.updated");
  append(rt, SECOND_OF_PCM * 2);
  const transcribed = next(rt, "conversation.item.input_audio_transcription.completed");
  rt.send({ type: "input_audio_buffer.commit" });
  const heard = await transcribed;
  assert.ok(heard.transcript.length > 0);

  let audioBytes = 0;
  let transcript = "";
  rt.on("response.output_audio.delta", (event) => (audioBytes += Buffer.from(event.delta, "base64").length));
  rt.on("response.output_audio_transcript.delta", (event) => (transcript += event.delta));
  const done = next(rt, "response.done");
  rt.send({ type: "response.create" });
  const { response } = await done;
  assert.equal(response.status, "completed");
  assert.ok(audioBytes > 0, "audio deltas arrived");
  assert.equal(response.output[0].content[0].transcript, transcript);
  assert.ok(response.usage.output_token_details.audio_tokens > 0);
  assert.equal(response.usage.input_token_details.audio_tokens, 20);
  assert.deepEqual(errors, []);
  rt.close();
});

test("SDK transcription session (intent=transcription)", async () => {
  const { rt, errors } = connect({ intent: "transcription" });
  assert.equal(rt.url.searchParams.get("intent"), "transcription");
  const created = await next(rt, "session.created");
  assert.equal(created.session.type, "transcription");
  rt.send({
    type: "session.update",
    session: { type: "transcription", audio: { input: { turn_detection: null, transcription: { model: "gpt-4o-transcribe" } } } },
  });
  await next(rt, "session.updated");
  append(rt, SECOND_OF_PCM);
  const completed = next(rt, "conversation.item.input_audio_transcription.completed");
  rt.send({ type: "input_audio_buffer.commit" });
  const event = await completed;
  assert.equal(event.transcript, "The quick");
  assert.equal(event.usage.type, "tokens");
  assert.equal(event.usage.input_token_details.audio_tokens, 10);
  assert.deepEqual(errors, []);
  rt.close();
});

test("SDK with a wrong key sees the 401 refusal as an error", async () => {
  const { rt, errors } = connect({ model: "gpt-realtime" }, "sk-wrong");
  await within(10_000, "socket close", new Promise((resolve) => rt.socket.on("close", resolve)));
  assert.ok(errors.some((error) => /401/.test(error.message)), errors.map(String).join("; "));
});
