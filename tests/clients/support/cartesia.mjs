// Shared pieces of the Cartesia client tests (Node and browser): where to connect, what to send,
// what the simulator answers. Every target comes from the environment:
//   CARTESIA_BASE_URL        http(s)://host:port[/prefix], what `new Cartesia({ baseURL })` takes
//   CARTESIA_CREDENTIAL      the key or access token the client presents (default: a placeholder,
//                            which a keyless simulator accepts)
//   CARTESIA_CREDENTIAL_KIND apiKey (default) or token: which client option carries it
//   CARTESIA_EXPECT_TRANSCRIPT  the final transcript of the 3 s sent (default: what the simulator
//                            makes of 3 s; set it empty to accept any transcript)

// (Also bundled into the browser page, where there is no `process`.)
const env = globalThis.process?.env ?? {};
export const BASE_URL = env.CARTESIA_BASE_URL;
export const CREDENTIAL = env.CARTESIA_CREDENTIAL || "voxrelay-test-credential";
export const KIND = env.CARTESIA_CREDENTIAL_KIND === "token" ? "token" : "apiKey";

// 3 s of PCM16 mono 16 kHz in 100 ms frames.
export const STT_PARAMS = { model: "ink-2", encoding: "pcm_s16le", sample_rate: 16000 };
export const FRAME_BYTES = 3200;
export const FRAMES = 30;
// The simulator hears 2.5 words per second from a fixed sentence.
export const EXPECT_TRANSCRIPT = env.CARTESIA_EXPECT_TRANSCRIPT ?? "the quick brown fox jumps over the";

// One TTS context, PCM16 16 kHz; the simulator makes 50 ms (800 samples, 1600 bytes) per character.
export const TTS_TEXT = "Hello from the voxrelay Cartesia test.";
export const TTS_OPTIONS = {
  model_id: "sonic-3",
  voice: { mode: "id", id: "a0e99841-438c-4a64-b679-ae501e7d6091" },
  output_format: { container: "raw", encoding: "pcm_s16le", sample_rate: 16000 },
};
export const SIMULATED_TTS_BYTES = TTS_TEXT.length * 1600;

/** A 440 Hz tone at low volume, one 100 ms PCM16 frame (the simulator ignores content). */
export function frame(index) {
  const samples = new Int16Array(FRAME_BYTES / 2);
  for (let i = 0; i < samples.length; i++) {
    samples[i] = Math.round(2000 * Math.sin((2 * Math.PI * 440 * (index * samples.length + i)) / 16000));
  }
  return new Uint8Array(samples.buffer);
}

/** Resolves with `promise`, or rejects after `ms` naming what was awaited. */
export function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
