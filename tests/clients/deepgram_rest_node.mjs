// Deepgram's official JS SDK (@deepgram/sdk v5) in Node against voxrelay's REST endpoints, changing
// only its base URLs (`environment: { base: "http://<relay>", … }`):
//   - client.listen.v1.media.transcribeFile(<wav Buffer>, { model: "nova-3" }): POST /v1/listen,
//     `Content-Type: application/octet-stream`, the bytes as the body;
//   - client.listen.v1.media.transcribeUrl({ url, model: "nova-3" }): POST /v1/listen,
//     `Content-Type: application/json`, `{"url": …}` (with --url-refused, for routes whose upstreams
//     take no URLs, such as Workers AI, it must throw a 403 DeepgramError instead);
//   - client.speak.v1.audio.generate({ text, model: "aura-2-thalia-en" }).withRawResponse(): POST
//     /v1/speak, `{"text": …}`, the audio and the `dg-*` response headers;
//   - transcribeFile again with a token from the relay's grant endpoint (`accessToken`, sent as
//     `Authorization: Bearer <token>`);
//   - refusals the SDK throws as DeepgramError: a URL on a host the route does not list, a wrong key.
// Every other request carries `Authorization: Token <key>` (the SDK's own header). Prints one JSON line
// summarising what arrived; exits non-zero when anything expected is missing.
//
//   node tests/clients/deepgram_rest_node.mjs --relay 127.0.0.1:8080 --key voxrelay-demo-key \
//       [--url-host media.example.com]

import { parseArgs } from "node:util";

import { DeepgramClient } from "@deepgram/sdk";

const SECONDS = 1.5;
const RATE = 16_000;

/** `seconds` of a 440 Hz tone, 16 kHz mono 16-bit PCM in a WAV container. */
export function wavBytes(seconds = SECONDS, rate = RATE) {
  const samples = Math.round(seconds * rate);
  const out = Buffer.alloc(44 + samples * 2);
  out.write("RIFF", 0, "ascii");
  out.writeUInt32LE(36 + samples * 2, 4);
  out.write("WAVEfmt ", 8, "ascii");
  out.writeUInt32LE(16, 16); // fmt chunk size
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(1, 22); // mono
  out.writeUInt32LE(rate, 24);
  out.writeUInt32LE(rate * 2, 28); // byte rate
  out.writeUInt16LE(2, 32); // block align
  out.writeUInt16LE(16, 34); // bits per sample
  out.write("data", 36, "ascii");
  out.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) {
    out.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2);
  }
  return out;
}

function summary(body) {
  return {
    duration: body?.metadata?.duration ?? null,
    request_id: body?.metadata?.request_id ?? null,
    transcript: body?.results?.channels?.[0]?.alternatives?.[0]?.transcript ?? null,
  };
}

async function statusOf(promise) {
  try {
    const result = await promise;
    return `no error: ${JSON.stringify(result).slice(0, 200)}`;
  } catch (error) {
    return error?.statusCode ?? `${error?.name}: ${error?.message}`;
  }
}

async function main() {
  const { values: args } = parseArgs({
    options: {
      relay: { type: "string" },
      key: { type: "string" },
      "url-host": { type: "string", default: "media.example.com" },
      "url-refused": { type: "boolean", default: false },
    },
  });
  if (!args.relay || !args.key) throw new Error("--relay host:port and --key are required");
  const environment = {
    base: `http://${args.relay}`,
    production: `ws://${args.relay}`,
    agent: `ws://${args.relay}`,
    agentRest: `http://${args.relay}`,
  };
  // no retries: a refusal or a 5xx must show, not be retried away
  const client = new DeepgramClient({ apiKey: args.key, environment, maxRetries: 0 });
  const report = { client: "@deepgram/sdk (node)" };
  const failures = [];
  const step = async (name, fn) => {
    try {
      await fn();
    } catch (error) {
      failures.push(`${name}: ${error?.name}: ${error?.message}`.slice(0, 500));
    }
  };
  const audio = wavBytes();
  report.wav_bytes = audio.length;

  await step("transcribeFile", async () => {
    const { data, rawResponse } = await client.listen.v1.media
      .transcribeFile(audio, { model: "nova-3", smart_format: true })
      .withRawResponse();
    report.file = { status: rawResponse.status, ...summary(data) };
  });
  await step("transcribeUrl", async () => {
    const call = client.listen.v1.media.transcribeUrl({
      url: `https://${args["url-host"]}/audio/hello.wav`,
      model: "nova-3",
    });
    if (args["url-refused"]) report.url_status = await statusOf(call);
    else report.url = summary(await call);
  });
  await step("speak", async () => {
    const { data, rawResponse } = await client.speak.v1.audio
      .generate({ text: "Hello from voxrelay.", model: "aura-2-thalia-en" })
      .withRawResponse();
    const bytes = new Uint8Array(await data.arrayBuffer());
    const h = rawResponse.headers;
    report.speak = {
      status: rawResponse.status,
      audio_bytes: bytes.length,
      content_type: h.get("content-type"),
      dg_model_name: h.get("dg-model-name"),
      dg_request_id: h.get("dg-request-id"),
      dg_char_count: h.get("dg-char-count"),
    };
  });
  await step("grant", async () => {
    // a short-lived token from the relay's grant endpoint, then the upload with it
    // (`Authorization: Bearer <token>`)
    const grant = await client.auth.v1.tokens.grant({ ttl_seconds: 60 });
    const withToken = new DeepgramClient({ accessToken: grant.access_token, environment, maxRetries: 0 });
    report.bearer_file = summary(await withToken.listen.v1.media.transcribeFile(audio, { model: "nova-3" }));
  });
  await step("refusals", async () => {
    report.url_other_host_status = await statusOf(
      client.listen.v1.media.transcribeUrl({ url: "https://not-listed.invalid/audio.wav", model: "nova-3" }),
    );
    const wrong = new DeepgramClient({ apiKey: "not-a-voxrelay-key", environment, maxRetries: 0 });
    report.wrong_key_status = await statusOf(wrong.listen.v1.media.transcribeFile(audio, { model: "nova-3" }));
  });
  if (failures.length) report.failures = failures;
  console.log(JSON.stringify(report));

  const prerecorded = (r, duration) =>
    r != null &&
    typeof r.transcript === "string" &&
    r.transcript.length > 0 &&
    typeof r.duration === "number" &&
    (duration == null || Math.abs(r.duration - duration) < 0.05);
  const ok =
    failures.length === 0 &&
    prerecorded(report.file, SECONDS) &&
    (args["url-refused"] ? report.url_status === 403 : prerecorded(report.url, null)) &&
    prerecorded(report.bearer_file, SECONDS) &&
    report.speak?.audio_bytes > 0 &&
    Boolean(report.speak?.dg_model_name) &&
    report.url_other_host_status === 403 &&
    report.wrong_key_status === 401;
  process.exitCode = ok ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
