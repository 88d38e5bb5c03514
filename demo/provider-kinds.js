// voxrelay demo page: how each provider route kind is spoken, as its browser SDK speaks it —
// where the credential goes (a query parameter), the query, the messages that start, carry
// audio or text, and finish a session, and what the server's messages mean. Used by
// providers.js. Plain JS, no build step.
//
// Each `read(msg, s)` gets one parsed server message and the session `s` ({ ws, finishing })
// and returns what to show: { partial, final } text, { audio } base64 PCM, { started },
// { done } or { error }; it sends any protocol reply itself.

export const RATE = 16000; // 16-bit PCM, mono, both ways
const CARTESIA_VERSION = "2026-08-14";
const ELEVENLABS_VOICE = "21m00Tcm4TlvDq8ikWCM";
const CARTESIA_VOICE = "a0e99841-438c-4a64-b679-ae501e7d6091";
const CONTEXT = "voxrelay-demo"; // context_id of the text-to-speech kinds that take one

export function base64(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

const json = (ws, value) => ws.send(JSON.stringify(value));
const binary = (ws, frame) => ws.send(frame);
const model = (name, route) => (route.model ? { [name]: route.model } : {});

// ElevenLabs text-to-speech (stream-input and multi-stream-input): BOS " ", the text, EOS
// (single context) or close_context then close_socket (multi).
function elevenlabsTts(multi) {
  const ctx = multi ? { context_id: CONTEXT } : {};
  return {
    title: multi ? "ElevenLabs text to speech (multi-context)" : "ElevenLabs text to speech",
    tts: true,
    voice: ELEVENLABS_VOICE,
    tokenParam: "single_use_token",
    query: (route) => ({ ...model("model_id", route), output_format: `pcm_${RATE}` }),
    speak(ws, text) {
      json(ws, { text: " ", ...ctx });
      json(ws, { text: `${text} `, ...ctx });
      json(ws, multi ? { ...ctx, close_context: true } : { text: "" });
    },
    read(msg, s) {
      if (msg.error) return { error: `${msg.error}: ${msg.message || ""}` };
      if (typeof msg.audio === "string") return { audio: msg.audio };
      if (msg.isFinal === true) {
        if (multi) json(s.ws, { close_socket: true });
        return { done: true }; // the server closes
      }
      return {};
    },
  };
}

export const KINDS = {
  elevenlabs_tts: elevenlabsTts(false),
  elevenlabs_tts_multi: elevenlabsTts(true),

  // ElevenLabs Scribe realtime: base64 chunks in JSON, a commit, then the client closes.
  elevenlabs_stt: {
    title: "ElevenLabs Scribe (speech to text)",
    tokenParam: "token",
    query: (route) => ({ ...model("model_id", route), audio_format: `pcm_${RATE}` }),
    audio(ws, frame) {
      json(ws, { message_type: "input_audio_chunk", audio_base_64: base64(frame), commit: false, sample_rate: RATE });
    },
    finish(ws) {
      json(ws, { message_type: "input_audio_chunk", audio_base_64: "", commit: true, sample_rate: RATE });
    },
    read(msg, s) {
      switch (msg.message_type) {
        case "session_started":
          return { started: true };
        case "partial_transcript":
          return { partial: msg.text };
        case "committed_transcript":
          if (s.finishing) s.ws.close(1000, "User ended session");
          return { final: msg.text, done: s.finishing };
        default:
          return msg.error ? { error: `${msg.message_type}: ${msg.error}` } : {};
      }
    },
  },

  // AssemblyAI Universal Streaming v3: binary audio, Terminate → Termination, the server closes.
  assemblyai: {
    title: "AssemblyAI (speech to text)",
    tokenParam: "token",
    query: (route) => ({ ...model("speech_model", route), sample_rate: String(RATE), encoding: "pcm_s16le" }),
    audio: binary,
    finish: (ws) => json(ws, { type: "Terminate" }),
    read(msg) {
      switch (msg.type) {
        case "Begin":
          return { started: true };
        case "Turn":
          return msg.end_of_turn ? { final: msg.transcript } : { partial: msg.transcript };
        case "Termination":
          return { done: true };
        case "Error":
          return { error: `${msg.error_code}: ${msg.error}` };
        default:
          return {};
      }
    },
  },

  // Cartesia text to speech: one generation request per context, chunks, done.
  cartesia_tts: {
    title: "Cartesia text to speech",
    tts: true,
    voice: CARTESIA_VOICE,
    tokenParam: "access_token",
    query: () => ({ cartesia_version: CARTESIA_VERSION }),
    speak(ws, text, route, voice) {
      json(ws, {
        context_id: CONTEXT,
        model_id: route.model,
        transcript: text,
        voice: { mode: "id", id: voice },
        output_format: { container: "raw", encoding: "pcm_s16le", sample_rate: RATE },
      });
    },
    read(msg, s) {
      if (msg.type === "chunk") return { audio: msg.data };
      if (msg.type === "done") {
        s.ws.close(1000);
        return { done: true };
      }
      if (msg.type === "error") return { error: `${msg.title || msg.error_code}: ${msg.message || ""}` };
      return {};
    },
  },

  // Cartesia speech to text (manual finalize): binary audio, the text command `close` → done.
  cartesia_stt: {
    title: "Cartesia (speech to text)",
    tokenParam: "access_token",
    query: (route) => ({
      ...model("model", route),
      encoding: "pcm_s16le",
      sample_rate: String(RATE),
      cartesia_version: CARTESIA_VERSION,
    }),
    audio: binary,
    finish: (ws) => ws.send("close"),
    read(msg) {
      if (msg.type === "transcript") return msg.is_final ? { final: msg.text } : { partial: msg.text };
      if (msg.type === "done") return { done: true };
      if (msg.type === "error") return { error: `${msg.title || msg.error_code}: ${msg.message || ""}` };
      return {};
    },
  },

  // A generic (config-described) route, spoken in Speechmatics' real-time shape: StartRecognition
  // first (audio waits for RecognitionStarted), binary audio, EndOfStream → EndOfTranscript.
  generic: {
    title: "Generic route (Speechmatics-shaped speech to text)",
    tokenParam: "jwt",
    query: () => ({}),
    start(ws, route) {
      const config = { language: "en", enable_partials: true };
      if (["standard", "enhanced"].includes(route.model)) config.operating_point = route.model;
      json(ws, {
        message: "StartRecognition",
        audio_format: { type: "raw", encoding: "pcm_s16le", sample_rate: RATE },
        transcription_config: config,
      });
    },
    audio: binary,
    finish: (ws, s) => json(ws, { message: "EndOfStream", last_seq_no: s.sent }),
    read(msg) {
      const text = msg.metadata && msg.metadata.transcript;
      switch (msg.message) {
        case "RecognitionStarted":
          return { started: true };
        case "AddPartialTranscript":
          return { partial: text };
        case "AddTranscript":
          return { final: text };
        case "EndOfTranscript":
          return { done: true };
        case "Error":
          return { error: `${msg.type}: ${msg.reason}` };
        default:
          return {};
      }
    },
  },
};
