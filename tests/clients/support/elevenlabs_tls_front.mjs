// A TLS front for a plain-TCP server, so clients that insist on wss:// (the ElevenLabs Python SDK's
// convert_realtime) can reach voxrelay's simulator in scripts/clients/elevenlabs.sh. Terminates TLS
// with DIR/cert.pem + DIR/key.pem (scripts/make-test-cert.sh) on 127.0.0.1:0 and pipes every
// connection, bytes unchanged, to TARGET. Prints `{"tls_front":"127.0.0.1:<port>"}` once listening.
//
//   node tests/clients/support/elevenlabs_tls_front.mjs TARGET_HOST:PORT DIR

import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { createServer } from "node:tls";

const [target, dir] = process.argv.slice(2);
if (!target || !dir) {
  console.error("usage: elevenlabs_tls_front.mjs TARGET_HOST:PORT CERT_DIR");
  process.exit(64);
}
const split = target.lastIndexOf(":");
const host = target.slice(0, split);
const port = Number(target.slice(split + 1));

const server = createServer(
  { cert: readFileSync(join(dir, "cert.pem")), key: readFileSync(join(dir, "key.pem")) },
  (client) => {
    const upstream = connect({ host, port });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  },
);
server.on("tlsClientError", () => {});
server.listen(0, "127.0.0.1", () => {
  const { address, port: bound } = server.address();
  console.log(JSON.stringify({ tls_front: `${address}:${bound}` }));
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
