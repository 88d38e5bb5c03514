// The demo page's Providers panels (demo/providers.js) in headless Chromium, for
// tests/demo/demo.test.mjs: one check per provider kind with a route in the relay's
// /demo/config.json (skipped otherwise), an in-session error shown with its close code and
// reason, and the fallback to a plain grant when the relay refuses a narrowed one.

import assert from "node:assert/strict";

const TIMEOUT_MS = 15_000; // a panel's session from click to close

// The provider panels (demo/providers.js): each kind, whether it speaks or transcribes, and the
// query parameter its browser SDK puts the credential in.
export const PROVIDER_KINDS = {
  elevenlabs_tts: { tts: true, tokenParam: "single_use_token" },
  elevenlabs_tts_multi: { tts: true, tokenParam: "single_use_token" },
  elevenlabs_stt: { tts: false, tokenParam: "token" },
  assemblyai: { tts: false, tokenParam: "token" },
  cartesia_tts: { tts: true, tokenParam: "access_token" },
  cartesia_stt: { tts: false, tokenParam: "access_token" },
  generic: { tts: false, tokenParam: "jwt" },
};

/**
 * Runs the provider panel of `kind` on `route` once (a transcript of the fake microphone, or
 * speech of its sentence) and waits for the session to close; returns what the page showed, the
 * grant request's body and the socket's URL.
 */
export async function providerRun(page, kind, route) {
  const panel = `#providers .pv-panel[data-kind="${kind}"]`;
  const value = await page.$eval(
    `${panel} .pv-route`,
    (el, label) => [...el.options].find((o) => o.textContent.includes(label))?.value,
    `${route.path} — ${route.name}`,
  );
  assert.ok(value !== undefined, `the ${kind} panel offers ${route.path}`);
  await page.selectOption(`${panel} .pv-route`, value);
  const granted = page.waitForRequest((r) => r.url().endsWith("/v1/auth/grant") && r.method() === "POST", {
    timeout: TIMEOUT_MS,
  });
  const opened = page.waitForEvent("websocket", { timeout: TIMEOUT_MS });
  await page.click(`${panel} .pv-run`);
  const request = await granted;
  const grant = request.postDataJSON();
  const grantStatus = (await request.response())?.status();
  const url = new URL((await opened).url());
  await page.waitForFunction(
    (p) => /closed|idle/.test(document.querySelector(`${p} .pv-state`).textContent) &&
      !document.querySelector(`${p} .pv-run`).disabled,
    panel,
    { timeout: TIMEOUT_MS },
  );
  const text = (name) => page.textContent(`${panel} .pv-${name}`);
  return {
    grant,
    grantStatus,
    url,
    final: await text("final"),
    bytes: Number(await text("bytes")),
    state: await text("state"),
    status: await page.textContent("#status"),
    statusIsError: await page.$eval("#status", (el) => el.classList.contains("error")),
  };
}

/**
 * Registers the panel checks with `step` (the suite's sequential step). `ctx`: `page()` the
 * shared page, `openDemo()` a new ready tab, `config()` the relay's /demo/config.json, `words`
 * what the simulator's transcripts are made of.
 */
export function providerSteps(step, ctx) {
  // one check per provider panel whose kind has a route in config/local.toml
  for (const [kind, { tts, tokenParam }] of Object.entries(PROVIDER_KINDS)) {
    const what = tts ? "text → audio" : "microphone → transcript";
    step(`Providers panel ${kind}: ${what} through voxrelay to the simulator`, async (t) => {
      const config = await ctx.config();
      const route = config.routes.find((r) => r.kind === kind);
      if (!route) return t.skip(`no ${kind} route in config/local.toml`);
      const r = await providerRun(ctx.page(), kind, route);
      assert.deepEqual(r.grant.routes, [route.name], "the grant asked is narrowed to the route");
      if (route.model) assert.deepEqual(r.grant.models, [route.model]);
      assert.equal(r.grantStatus, 200, "voxrelay grants the narrowed token");
      assert.match(r.url.searchParams.get(tokenParam) || "", /^[\w-]+\.[\w-]+\.[\w-]+$/, `token in ?${tokenParam}=`);
      assert.doesNotMatch(decodeURIComponent(r.url.pathname), /[{}]/, "path captures are filled");
      if (tts) {
        assert.ok(r.bytes > 0 && r.bytes % 2 === 0, `audio in whole 16-bit samples: ${r.bytes}`);
        assert.match(r.state, /^played [\d.]+ s, closed 1000/);
      } else {
        assert.match(r.final, ctx.words, "the final transcript is shown");
        assert.match(r.state, /^closed 1000/);
      }
      assert.equal(r.statusIsError, false, r.status);
    });
  }

  step("Providers panel: an in-session error shows its close code and reason", async (t) => {
    const config = await ctx.config();
    const route = config.routes.find((r) => r.kind === "generic");
    if (!route) return t.skip("no generic route in config/local.toml");
    const p = await ctx.openDemo();
    // a StartRecognition without a language: the simulator answers Error and closes 1008
    await p.evaluate(() => {
      const send = WebSocket.prototype.send;
      WebSocket.prototype.send = function (data) {
        const bad = typeof data === "string" && data.includes("StartRecognition");
        return send.call(this, bad ? data.replace('"language":"en"', '"language":""') : data);
      };
    });
    const r = await providerRun(p, "generic", route);
    assert.equal(r.statusIsError, true);
    assert.match(r.status, /closed 1008 “invalid_config”/);
    assert.match(r.status, /transcription_config\.language is required/);
    assert.equal(r.final, "");
    await p.close();
  });
}

/** Registers the plain-grant fallback check (its 400 is logged on the page: run it last). */
export function providerFallbackStep(step, ctx) {
  step("Providers panel: a relay that refuses a narrowed grant (400) is asked for a plain one", async (t) => {
    const config = await ctx.config();
    const route = config.routes.find((r) => r.kind === "generic");
    if (!route) return t.skip("no generic route in config/local.toml");
    const p = await ctx.openDemo();
    const asked = [];
    await p.route("**/v1/auth/grant", async (request) => {
      const body = request.request().postDataJSON();
      asked.push(body);
      if (body.routes) {
        await request.fulfill({ status: 400, json: { err_code: "INVALID_GRANT", err_msg: "unknown field" } });
      } else {
        await request.continue();
      }
    });
    const r = await providerRun(p, "generic", route);
    assert.deepEqual(asked.map((b) => Boolean(b.routes)), [true, false], JSON.stringify(asked));
    assert.match(r.final, ctx.words);
    assert.match(r.state, /^closed 1000/);
    await p.close();
  });
}
