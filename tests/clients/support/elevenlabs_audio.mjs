// Shared by the ElevenLabs client tests (Node and, served as a module, the browser page): the
// audio they send, base64, and the transcript voxrelay's simulator makes of it. No dependencies.

export const RATE = 16_000;
export const BYTES_PER_SECOND = RATE * 2;
const SENTENCE = "the quick brown fox jumps over the lazy dog".split(" ");

/** `seconds` of a 440 Hz tone at a third of full scale, PCM16 little-endian mono at 16 kHz. */
export function tone(seconds) {
  const samples = Math.round(RATE * seconds);
  const bytes = new Uint8Array(samples * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < samples; i++) {
    view.setInt16(i * 2, Math.round(10_000 * Math.sin((2 * Math.PI * 440 * i) / RATE)), true);
  }
  return bytes;
}

/** Standard base64 of `bytes` (works in Node and browsers). */
export function base64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** The simulator's committed transcript of one first segment of `audioBytes` of pcm_16000. */
export function simulatedTranscript(audioBytes) {
  const count = Math.floor((audioBytes * 5) / (2 * BYTES_PER_SECOND));
  const words = Array.from({ length: count }, (_, i) => SENTENCE[i % SENTENCE.length]);
  if (words.length) words[0] = words[0][0].toUpperCase() + words[0].slice(1);
  return words.join(" ");
}

/** Resolves with `value`, or rejects after `ms` naming what was awaited. */
export function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
