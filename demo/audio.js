// voxrelay demo page: microphone capture as 16-bit PCM frames at a chosen rate, and playback of
// 16-bit PCM. Shared by the Deepgram sections (app.js) and the OpenAI Realtime section
// (realtime.js). Plain JS, no build step.

// Collects microphone samples into blocks and hands them to the page (runs on the audio thread).
const WORKLET = `
  class VoxrelayCapture extends AudioWorkletProcessor {
    constructor() { super(); this.buf = new Float32Array(2048); this.len = 0; }
    process(inputs) {
      const ch = inputs[0] && inputs[0][0];
      if (ch) {
        if (this.len + ch.length > this.buf.length) {
          this.port.postMessage(this.buf.slice(0, this.len));
          this.len = 0;
        }
        this.buf.set(ch, this.len);
        this.len += ch.length;
      }
      return true;
    }
  }
  registerProcessor("voxrelay-capture", VoxrelayCapture);`;

// Streaming downsampler: averages each window of input samples into one output sample.
function makeDownsampler(inRate, outRate) {
  const ratio = inRate / outRate;
  let tail = new Float32Array(0);
  let pos = 0;
  return (input) => {
    const buf = new Float32Array(tail.length + input.length);
    buf.set(tail);
    buf.set(input, tail.length);
    const out = new Float32Array(Math.max(0, Math.ceil((buf.length - pos) / ratio)));
    let n = 0;
    while (pos + ratio <= buf.length) {
      const start = Math.floor(pos);
      const end = Math.floor(pos + ratio);
      let sum = 0;
      for (let i = start; i < end; i++) sum += buf[i];
      out[n++] = end > start ? sum / (end - start) : buf[start];
      pos += ratio;
    }
    const keep = Math.floor(pos);
    tail = buf.slice(keep);
    pos -= keep;
    return out.subarray(0, n);
  };
}

// Packs float samples into fixed-size little-endian 16-bit frames.
function makeFramer(size, send) {
  let view = new DataView(new ArrayBuffer(size * 2));
  let len = 0;
  return {
    push(samples) {
      for (const s of samples) {
        const v = Math.max(-1, Math.min(1, s));
        view.setInt16(2 * len++, v < 0 ? v * 0x8000 : v * 0x7fff, true);
        if (len === size) {
          send(view.buffer);
          view = new DataView(new ArrayBuffer(size * 2));
          len = 0;
        }
      }
    },
    flush() {
      if (len > 0) send(view.buffer.slice(0, 2 * len));
      len = 0;
    },
  };
}

// Feeds the microphone `stream` as 100 ms frames of 16-bit PCM at `rate` to `send`; resolves to
// a stopper.
export async function startCapture(stream, rate, send) {
  const ctx = new AudioContext();
  await ctx.resume();
  const source = ctx.createMediaStreamSource(stream);
  const downsample = makeDownsampler(ctx.sampleRate, rate);
  const framer = makeFramer(rate / 10, send);
  const onSamples = (samples) => framer.push(downsample(samples));
  let node;
  if (ctx.audioWorklet && typeof AudioWorkletNode === "function") {
    const url = URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }));
    try {
      await ctx.audioWorklet.addModule(url);
    } finally {
      URL.revokeObjectURL(url);
    }
    node = new AudioWorkletNode(ctx, "voxrelay-capture", { channelCount: 1, channelCountMode: "explicit" });
    node.port.onmessage = (e) => onSamples(e.data);
  } else {
    node = ctx.createScriptProcessor(4096, 1, 1);
    node.onaudioprocess = (e) => onSamples(e.inputBuffer.getChannelData(0));
  }
  source.connect(node);
  node.connect(ctx.destination); // keeps the node pulled; it outputs silence
  const mode = node instanceof ScriptProcessorNode ? "ScriptProcessor" : "AudioWorklet";
  let stopped = false;
  return {
    description: `${mode}, ${ctx.sampleRate} Hz → ${rate} Hz`,
    async stop() {
      if (stopped) return;
      stopped = true;
      framer.flush();
      source.disconnect();
      node.disconnect();
      stream.getTracks().forEach((t) => t.stop());
      await ctx.close().catch(() => {});
    },
  };
}

// Plays little-endian 16-bit mono PCM `bytes` at `rate` on `ctx`, starting at `when` (context
// time, or at once); returns its length in seconds.
export function playPcm16(ctx, bytes, rate, when = 0) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const samples = Math.floor(bytes.byteLength / 2);
  if (samples === 0) return 0;
  const buffer = ctx.createBuffer(1, samples, rate);
  const channel = buffer.getChannelData(0);
  for (let i = 0; i < samples; i++) channel[i] = view.getInt16(2 * i, true) / 0x8000;
  const source = ctx.createBufferSource();
  source.buffer = buffer;
  source.connect(ctx.destination);
  source.start(when);
  return buffer.duration;
}
