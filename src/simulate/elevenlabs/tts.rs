//! Simulated ElevenLabs TTS input streaming: `stream-input` (one context) and `multi-stream-input`
//! (contexts named by `context_id` / `contextId`).
//!
//! Text accumulates per context and is "spoken" on `flush`, `try_trigger_generation`, once the
//! buffer reaches the first `generation_config.chunk_length_schedule` entry (default 120), at EOS
//! (`{"text":""}`, single context), `close_context` or `close_socket`. Speech is silence of exactly
//! 50 ms per input character in the query's `output_format`, base64 in `audio`, with a made-up
//! alignment of 50 ms per character. A single space (`{"text":" "}`) is the BOS / keep-alive and
//! counts for nothing; no text within `inactivity_timeout` (default 20 s, at most 180) ends the
//! socket with `input_timeout_exceeded` and 1008.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use tracing::debug;

use super::format::{DEFAULT_OUTPUT_FORMAT, output_bytes_per_second};
use super::{CREDENTIAL_FIELD, carries_credential};
use crate::simulate::session::{Closing, Protocol, Step};
use crate::simulate::wire::Params;

/// Milliseconds of speech per input character.
pub(super) const MS_PER_CHAR: u64 = 50;
/// `inactivity_timeout` when the query has none.
const DEFAULT_INACTIVITY_SECS: u64 = 20;
/// Largest `inactivity_timeout` accepted.
const MAX_INACTIVITY_SECS: u64 = 180;
/// Characters buffered before generation starts when the BOS names no schedule.
const DEFAULT_CHUNK_LENGTH: usize = 120;
/// Characters of speech per audio message.
const CHARS_PER_MESSAGE: usize = 20;
/// Open contexts allowed on one multi-context socket.
const MAX_CONTEXTS: usize = 5;
/// WebSocket and error code of every fatal error (policy violation).
const POLICY: u16 = 1008;
/// Close reason after the inactivity timeout.
const TIMEOUT_REASON: &str = "Have not received a new text input within the timeout.";

/// One stream of text to speak.
#[derive(Debug)]
struct Context {
    /// `context_id` (`None`: the single context, or the default one of a multi socket).
    id: Option<String>,
    /// Text received and not yet spoken.
    buffer: String,
    /// Characters spoken so far.
    spoken: u64,
    /// Buffered characters that start generation on their own.
    chunk_length: usize,
}

impl Context {
    /// A context whose first message is `message` (its `generation_config` sets the chunk length).
    fn new(id: Option<String>, message: &Value) -> Self {
        let chunk_length = message
            .pointer("/generation_config/chunk_length_schedule/0")
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_CHUNK_LENGTH);
        Self {
            id,
            buffer: String::new(),
            spoken: 0,
            chunk_length,
        }
    }
}

/// State of one simulated TTS socket.
pub(in crate::simulate) struct Tts {
    /// `multi-stream-input`.
    multi: bool,
    /// Whether the simulator requires a key (credential fields are then refused).
    keyed: bool,
    /// `output_format` as given.
    format: String,
    /// Bytes per second of that format (`None`: unknown format, refused on open).
    bytes_per_second: Option<u64>,
    /// `inactivity_timeout`.
    inactivity: Duration,
    /// Open contexts, in order of creation.
    contexts: Vec<Context>,
    /// Whether the single context saw its first message.
    started: bool,
}

impl Tts {
    /// A socket configured by the upgrade query.
    pub(in crate::simulate) fn new(params: &Params, multi: bool, keyed: bool) -> Self {
        let format = params.get("output_format").unwrap_or(DEFAULT_OUTPUT_FORMAT);
        let inactivity = params
            .get("inactivity_timeout")
            .and_then(|raw| raw.trim().parse::<u64>().ok())
            .filter(|secs| *secs > 0)
            .map_or(DEFAULT_INACTIVITY_SECS, |secs| {
                secs.min(MAX_INACTIVITY_SECS)
            });
        Self {
            multi,
            keyed,
            format: format.to_owned(),
            bytes_per_second: output_bytes_per_second(format),
            inactivity: Duration::from_secs(inactivity),
            contexts: Vec::new(),
            started: false,
        }
    }

    /// An error message, then close 1008 with `reason`.
    fn fail(error: &str, message: &str, reason: &'static str) -> Step {
        Step::json(json!({"message": message, "error": error, "code": POLICY}))
            .then_close(Closing::Status(POLICY, reason))
    }

    /// Speaks whatever `context` buffered, as audio messages of up to [`CHARS_PER_MESSAGE`] characters.
    fn speak(&self, context: &mut Context, step: &mut Step) {
        let bytes_per_second = self.bytes_per_second.unwrap_or_default();
        let fill = match self.format.split('_').next() {
            Some("ulaw") => 0xFF,
            Some("alaw") => 0xD5,
            _ => 0,
        };
        let text = std::mem::take(&mut context.buffer);
        let chars: Vec<char> = text.chars().collect();
        for piece in chars.chunks(CHARS_PER_MESSAGE) {
            let before = context.spoken * bytes_per_second * MS_PER_CHAR / 1000;
            context.spoken += piece.len() as u64;
            let after = context.spoken * bytes_per_second * MS_PER_CHAR / 1000;
            let len = usize::try_from(after - before).unwrap_or_default();
            let letters: Vec<String> = piece.iter().map(char::to_string).collect();
            let starts: Vec<u64> = (0..piece.len() as u64).map(|i| i * MS_PER_CHAR).collect();
            let durations = vec![MS_PER_CHAR; piece.len()];
            let alignment = json!({
                "chars": letters, "charStartTimesMs": starts, "charDurationsMs": durations,
            });
            let mut message = Map::new();
            message.insert("audio".into(), STANDARD.encode(vec![fill; len]).into());
            if self.multi {
                message.insert("contextId".into(), json!(context.id));
            } else {
                message.insert("isFinal".into(), Value::Null);
            }
            message.insert("normalizedAlignment".into(), alignment.clone());
            message.insert("alignment".into(), alignment);
            step.push(Value::Object(message));
        }
    }

    /// Speaks the rest of `context` and reports it final.
    fn finish(&self, mut context: Context, step: &mut Step) {
        self.speak(&mut context, step);
        if self.multi {
            step.push(json!({"isFinal": true, "contextId": context.id}));
        } else {
            step.push(json!({"isFinal": true}));
        }
    }

    /// Appends `text` unless it is the BOS / keep-alive space; speaks when asked or when enough is buffered.
    fn feed(&self, context: &mut Context, text: Option<&str>, message: &Value, step: &mut Step) {
        if let Some(text) = text.filter(|text| !text.is_empty() && *text != " ") {
            context.buffer.push_str(text);
        }
        let asked = ["flush", "try_trigger_generation"]
            .iter()
            .any(|flag| message.get(flag).and_then(Value::as_bool) == Some(true));
        if asked || context.buffer.chars().count() >= context.chunk_length {
            self.speak(context, step);
        }
    }

    /// One message on `stream-input`.
    fn single(&mut self, message: &Value, text: Option<&str>) -> Step {
        let mut step = Step::default();
        if !self.started {
            self.started = true;
            self.contexts.push(Context::new(None, message));
        }
        if text == Some("") {
            if let Some(context) = self.contexts.pop() {
                self.finish(context, &mut step);
            }
            return step.then_close(Closing::Status(1000, ""));
        }
        if let Some(mut context) = self.contexts.pop() {
            self.feed(&mut context, text, message, &mut step);
            self.contexts.push(context);
        }
        step
    }

    /// One message on `multi-stream-input`.
    fn multi(&mut self, message: &Value, text: Option<&str>) -> Step {
        let mut step = Step::default();
        if message.get("close_socket").and_then(Value::as_bool) == Some(true) {
            for context in std::mem::take(&mut self.contexts) {
                self.finish(context, &mut step);
            }
            return step.then_close(Closing::Status(1000, ""));
        }
        let id = ["context_id", "contextId"]
            .iter()
            .find_map(|key| message.get(key).and_then(Value::as_str))
            .map(str::to_owned);
        let position = self.contexts.iter().position(|c| c.id == id);
        if message.get("close_context").and_then(Value::as_bool) == Some(true) {
            match position {
                Some(index) => {
                    let context = self.contexts.remove(index);
                    self.finish(context, &mut step);
                }
                None => debug!("close_context for a context that is not open"),
            }
            return step;
        }
        let mut context = match position {
            Some(index) => self.contexts.remove(index),
            None if self.contexts.len() >= MAX_CONTEXTS => {
                return Self::fail(
                    "max_active_contexts",
                    "Too many open contexts on this socket; close one before opening another.",
                    "too many open contexts",
                );
            }
            None => Context::new(id, message),
        };
        self.feed(&mut context, text, message, &mut step);
        self.contexts.push(context);
        step
    }
}

impl Protocol for Tts {
    fn on_open(&mut self) -> Step {
        if self.bytes_per_second.is_none() {
            let message = format!("Invalid output format: '{}'.", self.format);
            return Self::fail("invalid_output_format", &message, "invalid output format");
        }
        Step::default()
    }

    fn on_text(&mut self, text: &str) -> Step {
        let message = match serde_json::from_str::<Value>(text) {
            Ok(message @ Value::Object(_)) => message,
            _ => {
                let why = "Could not parse the message: expected a JSON object.";
                return Self::fail("invalid_message", why, "invalid message");
            }
        };
        if self.keyed && carries_credential(&message) {
            let why = "A credential field was sent in a message; the server expected none.";
            return Self::fail("credential_in_message", why, CREDENTIAL_FIELD);
        }
        let text = match message.get("text") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(_) => {
                let why = "Field 'text' must be a string.";
                return Self::fail("invalid_message", why, "invalid message");
            }
        };
        if self.multi {
            self.multi(&message, text.as_deref())
        } else if text.is_none() && message.get("flush").is_none() {
            let why = "Field 'text' is required.";
            Self::fail("invalid_message", why, "invalid message")
        } else {
            self.single(&message, text.as_deref())
        }
    }

    fn on_binary(&mut self, _data: &[u8]) -> Step {
        let why = "Binary frames are not supported; send JSON text messages.";
        Self::fail("invalid_message", why, "invalid message")
    }

    fn idle_timeout(&self) -> Option<Duration> {
        Some(self.inactivity)
    }

    fn on_idle(&mut self) -> Step {
        let message = format!(
            "Have not received a new text input within the timeout of {}.0 seconds. Streaming input \
             terminated. Please make sure to send a text input within the timeout or send an empty \
             string (\" \") to keep the connection alive.",
            self.inactivity.as_secs()
        );
        Self::fail("input_timeout_exceeded", &message, TIMEOUT_REASON)
    }
}
