// Audio and expectations shared by the OpenAI Realtime client tests (Node and the browser page, so
// nothing here imports Node modules).
//
// The audio is a synthetic voiced signal: a 140 Hz glottal-like harmonic series shaped by two
// vowel formants, in four-per-second syllables, as 24 kHz mono PCM16 little-endian (`audio/pcm`,
// the Realtime API's PCM format). It is loud enough for server VAD and varies like speech, and is
// the same in every language the tests use (tests/clients/openai_python.py has the same formula).
//
// The simulator transcribes by duration: two words per second of committed audio, round to the
// nearest (at least one), taken in order from "the quick brown fox jumps over the lazy dog".

export const RATE = 24_000;
export const BYTES_PER_SECOND = RATE * 2;
const SENTENCE = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"];

/** `seconds` of the voiced signal as PCM16 LE bytes. */
export function speechPcm(seconds) {
  const samples = Math.round(seconds * RATE);
  const bytes = new Uint8Array(samples * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < samples; i++) {
    const t = i / RATE;
    let voiced = 0;
    for (let h = 1; h <= 20; h++) {
      const f = 140 * h;
      // two formants (≈ the vowel /a/): 700 Hz and 1200 Hz
      const gain = Math.exp(-(((f - 700) / 150) ** 2)) + 0.6 * Math.exp(-(((f - 1200) / 200) ** 2)) + 0.05;
      voiced += (gain / h) * Math.sin(2 * Math.PI * f * t);
    }
    const syllable = 0.5 - 0.5 * Math.cos(2 * Math.PI * 4 * t); // 4 syllables a second
    const sample = Math.max(-32768, Math.min(32767, Math.round(9000 * syllable * voiced)));
    view.setInt16(i * 2, sample, true);
  }
  return bytes;
}

/** Base64 of `bytes` (no Buffer, so it also runs in the page). */
export function base64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** What the simulator transcribes for the first `seconds` of audio committed in a session. */
export function expectedTranscript(seconds) {
  const count = Math.max(1, Math.round(seconds * 2));
  const words = [];
  for (let i = 0; i < count; i++) {
    const position = i % SENTENCE.length;
    let word = SENTENCE[position];
    if (position === 0) word = word[0].toUpperCase() + word.slice(1);
    if (position === SENTENCE.length - 1) word += ".";
    words.push(word);
  }
  return words.join(" ");
}
