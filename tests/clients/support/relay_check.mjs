// Checks for the provider client runs through voxrelay (scripts/clients/relay-harness.sh):
//
//   relay_check.mjs upstream HANDSHAKES HEADER TEMPLATE UPSTREAM_KEY CLIENT_KEY [EXTRA,…] [LOG…]
//     every upstream handshake recorded by support/upstream_tap.mjs carried HEADER exactly once
//     with TEMPLATE's value ({key} → UPSTREAM_KEY), and neither CLIENT_KEY nor any EXTRA
//     credential (comma-separated) anywhere in its request line or headers; UPSTREAM_KEY is in
//     none of voxrelay's LOGs
//   relay_check.mjs usage FIELD EXPECTED ROUTE LOG…
//     some usage record in voxrelay's JSON LOGs (on ROUTE, if given) has FIELD within 1 % of
//     EXPECTED (a number); prints that record's metered figures
//
// Failure messages never print a key.

import { existsSync, readFileSync } from "node:fs";

const [mode, ...args] = process.argv.slice(2);
const fail = (why) => {
  console.error(`relay_check ${mode}: ${why}`);
  process.exit(1);
};
const lines = (path) =>
  existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean) : [];

if (mode === "upstream") {
  const [log, header, template, upstreamKey, clientKey, extra = "", ...relayLogs] = args;
  for (const file of relayLogs) {
    if (existsSync(file) && readFileSync(file, "utf8").includes(upstreamKey)) {
      fail(`the upstream key appears in ${file.split("/").pop()}`);
    }
  }
  const handshakes = lines(log).map((l) => JSON.parse(l));
  if (handshakes.length === 0) fail("no upstream handshake was recorded");
  const want = template.replace("{key}", upstreamKey);
  const secrets = [clientKey, ...extra.split(",").filter(Boolean)];
  for (const h of handshakes) {
    const values = h.headers.filter(([n]) => n.toLowerCase() === header.toLowerCase()).map(([, v]) => v);
    if (values.length !== 1 || values[0] !== want) {
      fail(`${h.request.split(" ").slice(0, 2).join(" ").replace(/\?.*/, "?…")}: ${header} was not the upstream key`);
    }
    const text = [h.request, ...h.headers.map(([n, v]) => `${n}: ${v}`)].join("\n");
    if (secrets.some((s) => text.includes(s))) {
      fail(`${h.request.replace(/\?.*/, "?…")}: a client credential reached the upstream`);
    }
  }
  console.log(JSON.stringify({ upstream_handshakes: handshakes.length, header, only_upstream_key: true }));
} else if (mode === "usage") {
  const [field, expectedText, route, ...logs] = args;
  const expected = Number(expectedText);
  if (!Number.isFinite(expected)) fail(`expected value '${expectedText}' is not a number`);
  const records = logs
    .flatMap(lines)
    .filter((l) => l.includes('"session usage"'))
    .map((l) => JSON.parse(l))
    .map((r) => ({ ...r, ...(r.fields ?? {}), ...(r.span ?? {}) }))
    .filter((r) => !route || r.route === route);
  if (records.length === 0) fail(`no usage record${route ? ` on route ${route}` : ""}`);
  const within = (v) => Math.abs(v - expected) <= Math.max(0.01 * Math.abs(expected), 1e-9);
  const hit = records.find((r) => typeof r[field] === "number" && within(r[field]));
  if (!hit) {
    fail(`no record has ${field} within 1 % of ${expected}: saw ${records.map((r) => r[field]).join(", ")}`);
  }
  const keep = ["route", "upstream", "model", "audio_seconds", "tts_characters", "tts_audio_seconds",
    "session_seconds", "metered_audio_seconds", "estimated_cost_usd", "outcome"];
  console.log(JSON.stringify({ field, expected, got: hit[field], record: Object.fromEntries(keep.map((k) => [k, hit[k]])) }));
} else {
  fail("mode must be upstream or usage");
}
