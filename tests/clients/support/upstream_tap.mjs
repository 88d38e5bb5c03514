// A TCP pass-through in front of a plain ws:// server (the simulator), for the client tests. Every
// connection's HTTP request head (request line and headers, i.e. the WebSocket handshake with its URL,
// Authorization and Sec-WebSocket-Protocol) is appended as one JSON line to LOG when one is given, then
// the bytes flow unchanged both ways. With `--tls CERT_DIR` (cert.pem and key.pem from
// scripts/make-test-cert.sh) it terminates TLS first, for clients that only dial wss:// (the AssemblyAI
// Node SDK and browser build, cartesia-js TTS, the ElevenLabs Python SDK's convert_realtime).
//
//   node tests/clients/support/upstream_tap.mjs TARGET_HOST:PORT [LOG] [--tls CERT_DIR]
//
// Listens on an ephemeral loopback port and prints `{"tap":"127.0.0.1:PORT"}` once ready.
// Runs until SIGTERM/SIGINT. No dependencies.

import { appendFileSync, readFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import tls from "node:tls";

const MAX_HEAD = 64 * 1024;
const USAGE = "usage: upstream_tap.mjs TARGET_HOST:PORT [LOG] [--tls CERT_DIR]";

const args = process.argv.slice(2);
const tlsAt = args.indexOf("--tls");
const certDir = tlsAt < 0 ? undefined : args.splice(tlsAt, 2)[1];
const [target, log, ...extra] = args;
const match = /^([0-9.]+):(\d+)$/.exec(target ?? "");
if (!match || extra.length > 0 || (tlsAt >= 0 && !certDir)) {
  console.error(USAGE);
  process.exit(64);
}
const [, host, port] = match;

/** `{ request, headers: [[name, value], …] }` of a request head (text up to the blank line). */
function parseHead(text) {
  const [request, ...lines] = text.split("\r\n");
  const headers = lines
    .filter(Boolean)
    .map((line) => {
      const colon = line.indexOf(":");
      return colon < 0 ? [line, ""] : [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
    });
  return { request, headers };
}

/** Records the request head of `downstream`, then pipes it to the target both ways. */
function relay(downstream) {
  let buffered = Buffer.alloc(0);
  const onData = (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf("\r\n\r\n");
    if (end < 0) {
      if (buffered.length > MAX_HEAD) downstream.destroy();
      return;
    }
    downstream.off("data", onData);
    downstream.pause();
    if (log) {
      const head = parseHead(buffered.subarray(0, end).toString("latin1"));
      appendFileSync(log, JSON.stringify({ at: new Date().toISOString(), ...head }) + "\n");
    }
    const upstream = net.connect({ host, port: Number(port) }, () => {
      upstream.write(buffered);
      downstream.pipe(upstream);
      upstream.pipe(downstream);
      downstream.resume();
    });
    const close = () => {
      downstream.destroy();
      upstream.destroy();
    };
    upstream.on("error", close);
    upstream.on("close", close);
    downstream.on("close", close);
  };
  downstream.on("data", onData);
  downstream.on("error", () => downstream.destroy());
}

const server = certDir
  ? tls.createServer(
      { cert: readFileSync(join(certDir, "cert.pem")), key: readFileSync(join(certDir, "key.pem")) },
      relay,
    )
  : net.createServer(relay);
server.on("tlsClientError", () => {});

server.listen(0, "127.0.0.1", () => {
  const { address, port: bound } = server.address();
  console.log(JSON.stringify({ tap: `${address}:${bound}` }));
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
