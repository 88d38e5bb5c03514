//! Simulated ElevenLabs Scribe realtime STT (`/v1/speech-to-text/realtime`).
//!
//! `session_started{session_id, config}` right after the upgrade; then every
//! `input_audio_chunk{audio_base_64, commit, sample_rate}` adds its decoded bytes to the segment,
//! which "holds" 2.5 words a second of audio in `audio_format` (words of a fixed sentence). A new
//! word sends `partial_transcript{text}`; `commit:true` (or, with `commit_strategy=vad`, every
//! [`VAD_SEGMENT_SECS`] of audio) sends `committed_transcript{text}` and, with `include_timestamps`,
//! `committed_transcript_with_timestamps{text, language_code, words}`. A session without
//! `model_id`, or with an unknown `audio_format`, is upgraded, told `invalid_request` and closed
//! with 1008 (the SDKs all require `model_id` before connecting, so only raw clients get there).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::format::{DEFAULT_AUDIO_FORMAT, input_bytes_per_second, sample_rate};
use super::{CREDENTIAL_FIELD, carries_credential};
use crate::simulate::session::{Closing, Protocol, Step};
use crate::simulate::wire::{Params, WordCycle};

/// Words a second of received audio is worth.
const WORDS_PER_SECOND_X2: u64 = 5;
/// Audio in a segment that a VAD commit strategy commits on its own.
pub(super) const VAD_SEGMENT_SECS: u64 = 2;
/// Close code of a fatal error.
const POLICY: u16 = 1008;

/// State of one simulated Scribe session.
pub(in crate::simulate) struct Scribe {
    /// Whether the simulator requires a key (credential fields are then refused).
    keyed: bool,
    /// `invalid_request` reason for a bad query, sent on open.
    invalid: Option<&'static str>,
    /// `config` of `session_started`.
    config: Value,
    /// Bytes per second of `audio_format`.
    bytes_per_second: u64,
    /// `commit_strategy=vad`.
    vad: bool,
    /// `include_timestamps=true`.
    timestamps: bool,
    /// Source of made-up words.
    words: WordCycle,
    /// Words of the current segment so far.
    segment: Vec<String>,
    /// Audio bytes of the current segment.
    segment_bytes: u64,
    /// Audio bytes before the current segment (timestamp offsets).
    earlier_bytes: u64,
}

impl Scribe {
    /// A session configured by the upgrade query.
    pub(in crate::simulate) fn new(params: &Params, keyed: bool) -> Self {
        let model = params.get("model_id").filter(|model| !model.is_empty());
        let format = params.get("audio_format").unwrap_or(DEFAULT_AUDIO_FORMAT);
        let bytes_per_second = input_bytes_per_second(format);
        let invalid = match (model, bytes_per_second) {
            (None, _) => Some("model_id is required."),
            (_, None) => Some("Invalid audio_format."),
            _ => None,
        };
        let vad = params.get("commit_strategy") == Some("vad");
        let timestamps = params.flag("include_timestamps");
        let config = json!({
            "sample_rate": sample_rate(format),
            "audio_format": format,
            "language_code": params.get("language_code"),
            "timestamps_granularity": if timestamps { "word" } else { "none" },
            "vad_commit_strategy": if vad { "vad" } else { "manual" },
            "vad_silence_threshold_secs": 1.5,
            "vad_threshold": 0.4,
            "min_speech_duration_ms": 100,
            "min_silence_duration_ms": 100,
            "max_tokens_to_recompute": 5,
            "model_id": model,
            "enable_logging": params.get("enable_logging").is_none_or(|v| v != "false"),
            "include_language_detection": params.flag("include_language_detection"),
        });
        Self {
            keyed,
            invalid,
            config,
            bytes_per_second: bytes_per_second.unwrap_or(32_000),
            vad,
            timestamps,
            words: WordCycle::default(),
            segment: Vec::new(),
            segment_bytes: 0,
            earlier_bytes: 0,
        }
    }

    /// An error message that leaves the session open.
    fn error(kind: &str, error: &str) -> Step {
        Step::json(json!({"message_type": kind, "error": error}))
    }

    /// Grows the segment to the words its audio is worth; a partial transcript when it grew.
    fn hear(&mut self, bytes: u64, step: &mut Step) {
        self.segment_bytes += bytes;
        let due = self.segment_bytes * WORDS_PER_SECOND_X2 / (2 * self.bytes_per_second);
        let due = usize::try_from(due).unwrap_or(usize::MAX);
        if due <= self.segment.len() {
            return;
        }
        while self.segment.len() < due {
            self.segment.push(self.words.next_word().punctuated);
        }
        step.push(json!({"message_type": "partial_transcript", "text": self.segment.join(" ")}));
    }

    /// Commits the segment: its transcript (with timestamps if asked), then a fresh segment.
    fn commit(&mut self, step: &mut Step) {
        let text = self.segment.join(" ");
        step.push(json!({"message_type": "committed_transcript", "text": text}));
        if self.timestamps {
            let offset = self.earlier_bytes as f64 / self.bytes_per_second as f64;
            let mut words = Vec::new();
            for (index, word) in self.segment.iter().enumerate() {
                if index > 0 {
                    words.push(json!({"text": " ", "type": "spacing", "logprob": 0.0}));
                }
                let start = offset + index as f64 * 0.4;
                words.push(json!({
                    "text": word, "start": round(start), "end": round(start + 0.3),
                    "type": "word", "logprob": -0.05,
                }));
            }
            step.push(json!({
                "message_type": "committed_transcript_with_timestamps",
                "text": text, "language_code": "en", "words": words,
            }));
        }
        self.earlier_bytes += self.segment_bytes;
        self.segment_bytes = 0;
        self.segment.clear();
    }

    /// Handles one `input_audio_chunk`.
    fn chunk(&mut self, message: &Value) -> Step {
        let audio = message
            .get("audio_base_64")
            .and_then(Value::as_str)
            .unwrap_or("");
        let Ok(decoded) = STANDARD.decode(audio) else {
            return Self::error("input_error", "audio_base_64 is not valid base64.");
        };
        let mut step = Step::default();
        self.hear(decoded.len() as u64, &mut step);
        let commit = message.get("commit").and_then(Value::as_bool) == Some(true);
        let vad_due = self.vad && self.segment_bytes >= VAD_SEGMENT_SECS * self.bytes_per_second;
        if commit || vad_due {
            self.commit(&mut step);
        }
        step
    }
}

/// Rounds seconds to milliseconds.
fn round(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

impl Protocol for Scribe {
    fn on_open(&mut self) -> Step {
        if let Some(why) = self.invalid {
            return Self::error("invalid_request", why).then_close(Closing::Status(POLICY, why));
        }
        let session_id = uuid::Uuid::new_v4().simple().to_string();
        Step::json(json!({
            "message_type": "session_started", "session_id": session_id, "config": self.config,
        }))
    }

    fn on_text(&mut self, text: &str) -> Step {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            return Self::error("input_error", "Could not parse the message as JSON.");
        };
        if self.keyed && carries_credential(&message) {
            return Self::error("auth_error", CREDENTIAL_FIELD)
                .then_close(Closing::Status(POLICY, CREDENTIAL_FIELD));
        }
        match message.get("message_type").and_then(Value::as_str) {
            Some("input_audio_chunk") => self.chunk(&message),
            _ => Self::error("input_error", "Expected message_type input_audio_chunk."),
        }
    }

    fn on_binary(&mut self, _data: &[u8]) -> Step {
        Self::error(
            "input_error",
            "Binary frames are not supported; send input_audio_chunk JSON messages.",
        )
    }
}
