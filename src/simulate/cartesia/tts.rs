//! Simulated Cartesia TTS WebSocket: `GenerationRequest`s per `context_id` answered with base64 silence.
//!
//! Every request is synthesized at once: 50 ms of silence per transcript character in the requested
//! `output_format`, sent as `chunk` messages, then `timestamps` (when asked), `flush_done` (on `flush`)
//! and `done` (when `continue` is not `true`). A cancelled context is forgotten without an answer.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Encoding;
use crate::simulate::session::{Protocol, Step};
use crate::simulate::wire::millis;

/// Seconds of audio per transcript character.
const SECONDS_PER_CHAR: f64 = 0.05;
/// Characters per second (the inverse of [`SECONDS_PER_CHAR`], for exact integer maths).
const CHARS_PER_SECOND: u64 = 20;
/// Most decoded audio bytes in one `chunk` message.
const CHUNK_BYTES: usize = 9_600;
/// Longest transcript one request may carry (bounds the audio one message can produce).
const MAX_TRANSCRIPT_CHARS: usize = 1_000;
/// Most contexts open at once on one connection.
const MAX_CONTEXTS: usize = 64;
/// Lowest and highest output sample rate.
const SAMPLE_RATES: std::ops::RangeInclusive<u64> = 8_000..=48_000;

/// What one context remembers between requests.
#[derive(Debug, Default)]
struct Context {
    /// Characters synthesized so far (timestamps continue from here).
    chars: u64,
    /// Flushes answered so far.
    flushes: u64,
}

/// One TTS connection.
#[derive(Debug)]
pub(in crate::simulate) struct Tts {
    /// Contexts sent with `continue: true` and not finished yet.
    contexts: HashMap<String, Context>,
    /// Reported in errors.
    request_id: Uuid,
}

/// A request that could not be served: `(title, message)`.
type Fault = (&'static str, String);

/// A validated generation request.
struct Request<'a> {
    /// The context it belongs to.
    context_id: &'a str,
    /// Text to speak.
    transcript: &'a str,
    /// Output encoding.
    encoding: Encoding,
    /// Output sample rate.
    sample_rate: u64,
    /// Whether more input follows for this context.
    more: bool,
    /// Whether a `flush_done` is wanted.
    flush: bool,
    /// Whether word timestamps are wanted.
    timestamps: bool,
}

impl Tts {
    /// A connection with no context yet.
    pub(in crate::simulate) fn new(request_id: Uuid) -> Self {
        Self {
            contexts: HashMap::new(),
            request_id,
        }
    }

    /// `{"type":"error",…}` for `context_id` (if known).
    fn error(&self, context_id: Option<&str>, (title, message): Fault) -> Step {
        let mut error = json!({
            "type": "error",
            "status_code": 400,
            "title": title,
            "message": message,
            "error_code": "invalid_request",
            "request_id": self.request_id.to_string(),
            "done": true,
        });
        if let Some(id) = context_id {
            error["context_id"] = json!(id);
        }
        Step::json(error)
    }

    /// Serves one validated request.
    fn generate(&mut self, request: &Request<'_>) -> Step {
        let id = request.context_id;
        let context = self.contexts.remove(id).unwrap_or_default();
        let chars = request.transcript.chars().count() as u64;
        let samples = chars * request.sample_rate / CHARS_PER_SECOND;
        let bytes = usize::try_from(samples * request.encoding.width()).unwrap_or(usize::MAX);
        let mut step = Step::default();
        let full = STANDARD.encode(vec![request.encoding.silence(); CHUNK_BYTES.min(bytes)]);
        let mut left = bytes;
        while left > 0 {
            let size = left.min(CHUNK_BYTES);
            let data = if size == CHUNK_BYTES {
                full.clone()
            } else {
                STANDARD.encode(vec![request.encoding.silence(); size])
            };
            step.push(json!({
                "type": "chunk", "data": data, "done": false, "status_code": 206,
                "step_time": millis(size as f64 / 100_000.0), "context_id": id,
            }));
            left -= size;
        }
        if request.timestamps && chars > 0 {
            step.push(json!({
                "type": "timestamps", "done": false, "status_code": 206, "context_id": id,
                "word_timestamps": word_timestamps(request.transcript, context.chars),
            }));
        }
        let context = Context {
            chars: context.chars + chars,
            flushes: context.flushes + u64::from(request.flush),
        };
        if request.flush {
            step.push(json!({
                "type": "flush_done", "done": false, "flush_done": true, "flush_id": context.flushes,
                "status_code": 206, "context_id": id,
            }));
        }
        if request.more {
            self.contexts.insert(id.to_owned(), context);
        } else {
            step.push(json!({"type": "done", "done": true, "status_code": 200, "context_id": id}));
        }
        step
    }

    /// Checks a generation request (everything but `context_id`, which the caller already has).
    fn validate<'a>(&self, message: &'a Value, context_id: &'a str) -> Result<Request<'a>, Fault> {
        let invalid = |message: &str| ("Invalid request", message.to_owned());
        let text = |key: &str| {
            message
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        text("model_id").ok_or_else(|| invalid("model_id is required"))?;
        let voice = message.get("voice");
        let voice_id = voice
            .and_then(Value::as_str)
            .or_else(|| voice.and_then(|v| v.get("id")).and_then(Value::as_str));
        if voice_id.is_none_or(str::is_empty) {
            return Err(invalid(
                "voice is required: a voice ID or {\"mode\":\"id\",\"id\":…}",
            ));
        }
        let transcript = message
            .get("transcript")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("transcript is required"))?;
        if transcript.chars().count() > MAX_TRANSCRIPT_CHARS {
            return Err(invalid(
                "transcript is longer than the simulator's 1000 characters",
            ));
        }
        let format = message
            .get("output_format")
            .ok_or_else(|| invalid("output_format is required"))?;
        if format.get("container").and_then(Value::as_str) != Some("raw") {
            return Err(invalid(
                "output_format.container must be \"raw\" on the WebSocket",
            ));
        }
        let encoding = format
            .get("encoding")
            .and_then(Value::as_str)
            .and_then(Encoding::parse)
            .filter(|e| e.is_tts_output())
            .ok_or_else(|| {
                invalid(
                    "output_format.encoding must be pcm_f32le, pcm_s16le, pcm_mulaw or pcm_alaw",
                )
            })?;
        let sample_rate = format
            .get("sample_rate")
            .and_then(Value::as_u64)
            .filter(|rate| SAMPLE_RATES.contains(rate))
            .ok_or_else(|| invalid("output_format.sample_rate must be 8000 to 48000"))?;
        if !self.contexts.contains_key(context_id) && self.contexts.len() >= MAX_CONTEXTS {
            return Err(invalid("too many open contexts on this connection"));
        }
        let flag = |key: &str| message.get(key).and_then(Value::as_bool).unwrap_or(false);
        Ok(Request {
            context_id,
            transcript,
            encoding,
            sample_rate,
            more: flag("continue"),
            flush: flag("flush"),
            timestamps: flag("add_timestamps"),
        })
    }
}

/// `{"words","start","end"}` for the words of `transcript`, timed from character `offset` of the context.
fn word_timestamps(transcript: &str, offset: u64) -> Value {
    let (mut words, mut start, mut end) = (Vec::new(), Vec::new(), Vec::new());
    let mut word = String::new();
    let mut word_start = offset;
    let ends = transcript.chars().chain(std::iter::once(' '));
    for (position, ch) in (offset..).zip(ends) {
        if ch.is_whitespace() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
                start.push(millis(word_start as f64 * SECONDS_PER_CHAR));
                end.push(millis(position as f64 * SECONDS_PER_CHAR));
            }
        } else {
            if word.is_empty() {
                word_start = position;
            }
            word.push(ch);
        }
    }
    json!({"words": words, "start": start, "end": end})
}

impl Protocol for Tts {
    fn on_text(&mut self, text: &str) -> Step {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            return self.error(
                None,
                ("Invalid request", "messages must be JSON objects".into()),
            );
        };
        let Some(context_id) = message.get("context_id").and_then(Value::as_str) else {
            return self.error(None, ("Invalid request", "context_id is required".into()));
        };
        if message.get("cancel").and_then(Value::as_bool) == Some(true) {
            self.contexts.remove(context_id);
            return Step::default();
        }
        match self.validate(&message, context_id) {
            Ok(request) => self.generate(&request),
            Err(fault) => {
                self.contexts.remove(context_id);
                self.error(Some(context_id), fault)
            }
        }
    }

    fn on_binary(&mut self, _data: &[u8]) -> Step {
        self.error(
            None,
            (
                "Invalid request",
                "binary frames are not accepted; send JSON text".into(),
            ),
        )
    }
}
