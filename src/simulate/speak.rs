//! Simulated Deepgram streaming text to speech (`/v1/speak`): text in, silent audio and acknowledgements out.

use axum::extract::ws::close_code;
use serde_json::{Value, json};
use tracing::debug;
use uuid::Uuid;

use super::session::{Closing, Outgoing, Protocol, Step};
use super::wire::{MODEL_UUID, MODEL_VERSION, Params};

/// Model assumed when the query names none.
pub(super) const DEFAULT_MODEL: &str = "aura-asteria-en";
/// Sample rate assumed when the query names none.
const DEFAULT_SAMPLE_RATE: u32 = 24_000;
/// Audio produced per character of text, in milliseconds.
pub(super) const MILLIS_PER_CHAR: u64 = 60;
/// Deepgram's limit on one `Speak` text, in characters.
pub(super) const MAX_SPEAK_CHARS: usize = 2000;
/// Close reason for a `Speak` text over the limit.
const TOO_BIG_REASON: &str = "BIG-0000";
/// Close reason for a binary frame from the client.
const BINARY_REASON: &str = "MESSAGE-0000";
/// Close reason for text that is not a valid command.
const UNDECODABLE_REASON: &str = "DATA-0000";

/// State of one `/v1/speak` session.
pub(super) struct Speak {
    /// Per-session UUID, also sent as `dg-request-id`.
    request_id: Uuid,
    /// Model name as requested (without a Cloudflare prefix).
    model: String,
    /// Audio bytes per character of text.
    bytes_per_char: u64,
    /// Byte value that encodes silence in the requested encoding.
    silence: u8,
    /// Characters buffered by `Speak` since the last `Flush` or `Clear`.
    buffered_chars: u64,
    /// Number of `Flush`es answered so far.
    flushes: u64,
    /// Number of `Clear`s answered so far.
    clears: u64,
}

impl Speak {
    /// A session for the given query.
    pub(super) fn new(params: &Params, request_id: Uuid) -> Self {
        let encoding = params.get("encoding").unwrap_or("linear16");
        let (width, silence) = sample_format(encoding);
        let samples_per_char =
            u64::from(params.sample_rate(DEFAULT_SAMPLE_RATE)) * MILLIS_PER_CHAR / 1000;
        Self {
            request_id,
            model: params.model_or(DEFAULT_MODEL).to_owned(),
            bytes_per_char: samples_per_char * width,
            silence,
            buffered_chars: 0,
            flushes: 0,
            clears: 0,
        }
    }

    /// `Speak`: buffer the text, or close if it is too long or missing.
    fn speak(&mut self, message: &Value) -> Step {
        let Some(text) = message.get("text").and_then(Value::as_str) else {
            debug!("speak message without text");
            return Step::close(Closing::Status(close_code::POLICY, UNDECODABLE_REASON));
        };
        let chars = text.chars().count();
        if chars > MAX_SPEAK_CHARS {
            debug!(chars, "speak text over the limit");
            return Step::close(Closing::Status(close_code::SIZE, TOO_BIG_REASON));
        }
        self.buffered_chars = self.buffered_chars.saturating_add(chars as u64);
        Step::default()
    }

    /// `Flush`: audio for the buffered text, then `Flushed`.
    fn flush(&mut self) -> Step {
        let len = self.buffered_chars.saturating_mul(self.bytes_per_char);
        self.buffered_chars = 0;
        let mut step = Step::default();
        if len > 0 {
            step.out.push(Outgoing::Silence {
                len: usize::try_from(len).unwrap_or(usize::MAX),
                fill: self.silence,
            });
        }
        step.push(json!({"type": "Flushed", "sequence_id": self.flushes}));
        self.flushes += 1;
        step
    }

    /// `Clear`: drop the buffered text, then `Cleared`.
    fn clear(&mut self) -> Step {
        self.buffered_chars = 0;
        let step = Step::json(json!({"type": "Cleared", "sequence_id": self.clears}));
        self.clears += 1;
        step
    }
}

/// Bytes per sample and the byte value of silence for a raw `encoding` (anything but mulaw and alaw is
/// treated as linear16).
pub(super) fn sample_format(encoding: &str) -> (u64, u8) {
    match encoding {
        "mulaw" => (1, 0xFF),
        "alaw" => (1, 0xD5),
        _ => (2, 0x00),
    }
}

impl Protocol for Speak {
    fn on_open(&mut self) -> Step {
        Step::json(json!({
            "type": "Metadata",
            "request_id": self.request_id.to_string(),
            "model_name": self.model,
            "model_version": MODEL_VERSION,
            "model_uuid": MODEL_UUID,
        }))
    }

    fn on_text(&mut self, text: &str) -> Step {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            debug!("text frame is not json");
            return Step::close(Closing::Status(close_code::POLICY, UNDECODABLE_REASON));
        };
        match message.get("type").and_then(Value::as_str) {
            Some("Speak") => self.speak(&message),
            Some("Flush") => self.flush(),
            Some("Clear") => self.clear(),
            Some("Close") => Step::close(Closing::Status(close_code::NORMAL, "")),
            other => {
                debug!(message_type = ?other, "ignoring unknown message type");
                Step::default()
            }
        }
    }

    fn on_binary(&mut self, _data: &[u8]) -> Step {
        Step::close(Closing::Status(close_code::UNSUPPORTED, BINARY_REASON))
    }
}
