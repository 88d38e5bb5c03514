// The voxrelay under test for the JS client tests.
//
// scripts/test-clients.sh starts one voxrelay for every client and passes its address in
// VOXRELAY_ADDR; run on their own (`node --test tests/clients/deepgram_node.test.mjs`), the tests
// start their own from target/debug/voxrelay in local mode (the built-in Deepgram simulator is
// the upstream) and stop it by pid when they finish.
//
// VOXRELAY_TLS_DIR=DIR (from scripts/make-test-cert.sh: ca.pem, cert.pem, key.pem) switches to
// https:// and wss://: a relay started here gets [server.tls] with that pair, and the caller trusts
// the CA the client's own way (Node: NODE_EXTRA_CA_CERTS=DIR/ca.pem, set before node starts).

import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const KEY = process.env.VOXRELAY_KEY ?? "voxrelay-demo-key";
const TLS_DIR = process.env.VOXRELAY_TLS_DIR;

/** Resolves with `value`, or rejects after `ms` naming what was awaited. */
export function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The relay to test: `{ addr, stop }`. Uses VOXRELAY_ADDR when set (stop is then a no-op),
 * otherwise starts `target/debug/voxrelay serve --config config/local.toml` on ephemeral
 * loopback ports and waits (bounded) for its "voxrelay listening" JSON line.
 */
export async function startRelay() {
  if (process.env.VOXRELAY_ADDR) {
    return { addr: process.env.VOXRELAY_ADDR, stop: async () => {} };
  }
  const bin = process.env.VOXRELAY_BIN ?? join(REPO, "target/debug/voxrelay");
  const child = spawn(bin, ["serve", "--config", join(REPO, "config/local.toml")], {
    cwd: REPO,
    env: {
      ...process.env,
      VOXRELAY_SERVER__LISTEN: "127.0.0.1:0",
      VOXRELAY_SIMULATOR__LISTEN: "127.0.0.1:0",
      VOXRELAY_LOG__FORMAT: "json",
      ...(TLS_DIR && {
        VOXRELAY_SERVER__TLS__CERT_FILE: join(TLS_DIR, "cert.pem"),
        VOXRELAY_SERVER__TLS__KEY_FILE: join(TLS_DIR, "key.pem"),
      }),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = once(child, "exit").then(([code, signal]) => {
    throw new Error(`voxrelay exited before listening (code ${code}, signal ${signal})`);
  });
  const listening = (async () => {
    for await (const line of createInterface({ input: child.stdout })) {
      let event;
      try {
        event = JSON.parse(line);
      } catch {
        continue;
      }
      if (event.message === "voxrelay listening" && event.addr) return event.addr;
    }
    throw new Error("voxrelay closed its stdout before listening");
  })();
  let addr;
  try {
    addr = await within(20_000, "voxrelay listening", Promise.race([listening, exited]));
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  exited.catch(() => {}); // later exits are expected (stop)
  child.stdout.resume(); // keep draining its log so it never blocks on a full pipe
  return {
    addr,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = once(child, "exit");
      child.kill("SIGTERM");
      await within(10_000, "voxrelay exit", gone).catch(() => child.kill("SIGKILL"));
    },
  };
}

/** Writes `summary` to $VOXRELAY_SUMMARY_DIR/<name>.json (<name>-tls.json over TLS) when asked. */
export function writeSummary(name, summary) {
  const dir = process.env.VOXRELAY_SUMMARY_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const file = TLS_DIR ? `${name}-tls.json` : `${name}.json`;
  writeFileSync(join(dir, file), JSON.stringify(summary) + "\n");
}

/** Deepgram SDK `environment` pointing every base URL at the relay (https/wss with TLS). */
export function environment(addr) {
  const [http, ws] = TLS_DIR ? ["https", "wss"] : ["http", "ws"];
  return {
    base: `${http}://${addr}`,
    production: `${ws}://${addr}`,
    agent: `${ws}://${addr}`,
    agentRest: `${http}://${addr}`,
  };
}
