// A TLS-terminating TCP pass-through in front of a plain ws:// server, for clients that only speak wss://
// (the AssemblyAI Node SDK and browser build) when the target is `voxrelay simulate` without TLS. Every
// connection's HTTP request head (the WebSocket handshake: URL, Authorization, …) is appended as one JSON
// line to LOG, then the decrypted bytes flow unchanged both ways.
//
//   node tests/clients/support/tls_front.mjs TARGET_HOST:PORT CERT_DIR LOG
//
// CERT_DIR holds cert.pem and key.pem (scripts/make-test-cert.sh). Listens on an ephemeral loopback port
// and prints `{"tls_front":"127.0.0.1:PORT"}` once ready. Runs until SIGTERM/SIGINT. No dependencies.

import { appendFileSync, readFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import tls from "node:tls";

const MAX_HEAD = 64 * 1024;

const [target, certDir, log] = process.argv.slice(2);
const match = /^([0-9.]+):(\d+)$/.exec(target ?? "");
if (!match || !certDir || !log) {
  console.error("usage: tls_front.mjs TARGET_HOST:PORT CERT_DIR LOG");
  process.exit(64);
}
const [, host, port] = match;

/** `{ request, headers: [[name, value], …] }` of a request head (text up to the blank line). */
function parseHead(text) {
  const [request, ...lines] = text.split("\r\n");
  const headers = lines.filter(Boolean).map((line) => {
    const colon = line.indexOf(":");
    return colon < 0 ? [line, ""] : [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
  });
  return { request, headers };
}

const server = tls.createServer(
  { cert: readFileSync(join(certDir, "cert.pem")), key: readFileSync(join(certDir, "key.pem")) },
  (downstream) => {
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
      const head = parseHead(buffered.subarray(0, end).toString("latin1"));
      appendFileSync(log, JSON.stringify({ at: new Date().toISOString(), ...head }) + "\n");
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
  },
);
server.on("tlsClientError", () => {});
server.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ tls_front: `127.0.0.1:${server.address().port}` }));
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
