// A TLS front for a plain-TCP server (the simulator), so clients that only dial wss:// (cartesia-js
// TTS) can reach it in tests: terminates TLS with CERT/KEY (scripts/make-test-cert.sh) on
// 127.0.0.1:0 and pipes each connection to TARGET. Prints {"tls":"127.0.0.1:PORT"} once listening;
// runs until killed.
//
//   node tests/clients/support/tls_forward.mjs CERT KEY HOST:PORT

import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { createServer } from "node:tls";

const [cert, key, target] = process.argv.slice(2);
if (!cert || !key || !target) {
  console.error("usage: tls_forward.mjs CERT KEY HOST:PORT");
  process.exit(64);
}
const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
const server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (tls) => {
  const plain = connect(port, host);
  tls.pipe(plain).pipe(tls);
  const end = () => {
    tls.destroy();
    plain.destroy();
  };
  tls.on("error", end);
  plain.on("error", end);
  tls.on("close", end);
  plain.on("close", end);
});
server.on("tlsClientError", () => {});
server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ tls: `127.0.0.1:${server.address().port}` })));
