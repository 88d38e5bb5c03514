// A recording TCP pass-through between voxrelay and an upstream, for the client tests that must
// show what the upstream was sent: every connection's HTTP request head (request line and
// headers, i.e. the WebSocket handshake with its URL, Authorization and Sec-WebSocket-Protocol)
// is appended as one JSON line to LOG, then the bytes flow unchanged both ways.
//
//   node tests/clients/support/upstream_tap.mjs TARGET_HOST:PORT LOG
//
// Listens on an ephemeral loopback port and prints `{"tap":"127.0.0.1:PORT"}` once ready.
// Runs until SIGTERM/SIGINT. No dependencies.

import { appendFileSync } from "node:fs";
import net from "node:net";

const MAX_HEAD = 64 * 1024;

const [target, log] = process.argv.slice(2);
const match = /^([0-9.]+):(\d+)$/.exec(target ?? "");
if (!match || !log) {
  console.error("usage: upstream_tap.mjs TARGET_HOST:PORT LOG");
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

const server = net.createServer((downstream) => {
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
});

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
