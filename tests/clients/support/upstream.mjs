// What the OpenAI upstream was sent, for the OpenAI Realtime client tests.
//
// scripts/test-clients.sh runs the Realtime simulator on its own (`voxrelay simulate
// --api-key-env …`, so it accepts only the upstream key) behind a recording pass-through
// (support/upstream_tap.mjs), points voxrelay's `openai` upstream at that pass-through with the
// upstream key, and hands the tests:
//   VOXRELAY_UPSTREAM_KEY         the upstream key (a client must never see it)
//   VOXRELAY_UPSTREAM_HANDSHAKES  the pass-through's log: one JSON line per upstream handshake

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";

export const UPSTREAM_KEY = process.env.VOXRELAY_UPSTREAM_KEY;
const LOG = process.env.VOXRELAY_UPSTREAM_HANDSHAKES;

/** Fails unless the upstream set-up of scripts/test-clients.sh is there. */
export function requireUpstreamTap() {
  assert.ok(
    UPSTREAM_KEY && LOG,
    "VOXRELAY_UPSTREAM_KEY and VOXRELAY_UPSTREAM_HANDSHAKES are unset: run this through scripts/test-clients.sh",
  );
}

/** Every upstream handshake recorded so far: `{ request, headers: [[name, value], …] }`. */
export function upstreamHandshakes() {
  if (!existsSync(LOG)) return [];
  return readFileSync(LOG, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

/**
 * Asserts the handshakes after the first `since` carried the upstream key as `Authorization:
 * Bearer` and none of `clientCredentials` anywhere (request line, any header); returns them.
 */
export function assertUpstreamSawOnlyItsKey(since, clientCredentials) {
  const seen = upstreamHandshakes().slice(since);
  assert.ok(seen.length > 0, "the upstream saw handshakes");
  for (const h of seen) {
    assert.match(h.request, /^GET \/v1\/realtime\?/, h.request);
    const authorization = h.headers.filter(([name]) => name === "authorization").map(([, v]) => v);
    // (no deepEqual: a failure must not print the key)
    assert.ok(
      authorization.length === 1 && authorization[0] === `Bearer ${UPSTREAM_KEY}`,
      `the upstream was not sent exactly \`Authorization: Bearer <upstream key>\` (${h.request})`,
    );
    const text = [h.request, ...h.headers.map(([name, value]) => `${name}: ${value}`)].join("\n");
    for (const credential of clientCredentials) {
      assert.ok(!text.includes(credential), `a client credential reached the upstream (${h.request})`);
    }
  }
  return seen;
}

/** Asserts the upstream key is nowhere in `received` (strings: events, headers, bodies). */
export function assertNoUpstreamKey(received) {
  assert.ok(received.length > 0, "something was received");
  for (const text of received) {
    assert.ok(!String(text).includes(UPSTREAM_KEY), "the upstream key reached the client");
  }
}
