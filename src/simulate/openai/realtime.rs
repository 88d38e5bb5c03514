//! One simulated Realtime session: its configuration, `session.update`, and the dispatch of client events.

use std::time::Duration;

use serde_json::{Value, json};
use tracing::debug;

use super::Target;
use super::audio::{Format, Vad};
use super::config::{initial_session, merge, validate};
use super::events::{Fault, event, id};
use crate::simulate::session::{Closing, Protocol, Step};
use crate::simulate::wire::WordCycle;

/// OpenAI's maximum session length.
pub(super) const MAX_SESSION: Duration = Duration::from_secs(60 * 60);
/// Close code after the session limit (with a `session_expired` error first).
const EXPIRED_CODE: u16 = 1001;
/// `error.message` and close reason at the session limit.
const EXPIRED_MESSAGE: &str = "Your session hit the maximum duration of 60 minutes.";
/// Close code after a beta opt-in.
const BETA_CODE: u16 = 4000;
/// `error.message` and close reason for a beta opt-in.
const BETA_MESSAGE: &str =
    "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.";
/// Transcription model of a transcription session that names none.
pub(super) const DEFAULT_TRANSCRIPTION_MODEL: &str = "gpt-4o-transcribe";
/// `turn_detection.threshold` when absent.
pub(super) const DEFAULT_THRESHOLD: f64 = 0.5;
/// `turn_detection.silence_duration_ms` when absent.
pub(super) const DEFAULT_SILENCE_MS: u64 = 500;
/// Fields a `session.update` may not change.
const FIXED_FIELDS: [&str; 4] = ["type", "object", "id", "expires_at"];

/// Server turn detection as configured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct TurnDetection {
    /// Loudness threshold, 0..1.
    pub(super) threshold: f64,
    /// Silence that ends a turn.
    pub(super) silence_ms: u64,
    /// Whether a turn's end starts a response (conversations only).
    pub(super) create_response: bool,
}

/// State of one simulated session.
pub(in crate::simulate) struct Realtime {
    /// Conversation or transcription.
    pub(super) target: Target,
    /// Whether the client opted into the retired beta shape.
    beta: bool,
    /// The effective session configuration, as `session.created`/`session.updated` report it.
    pub(super) session: Value,
    /// Bytes in the input audio buffer (since the last commit or clear).
    pub(super) buffered: u64,
    /// Bytes of input audio appended over the whole session (VAD offsets).
    pub(super) appended: u64,
    /// Server VAD state.
    pub(super) vad: Vad,
    /// Item id announced by `speech_started`, used by the commit that follows.
    pub(super) pending_item: Option<String>,
    /// The last conversation item, for `previous_item_id`.
    pub(super) last_item: Option<String>,
    /// Source of made-up words.
    pub(super) words: WordCycle,
    /// Words in the last committed user turn (the reply's length follows it).
    pub(super) heard_words: usize,
    /// Audio tokens in the conversation so far (re-billed as input every response).
    pub(super) context_audio_tokens: u64,
    /// Text tokens in the conversation so far.
    pub(super) context_text_tokens: u64,
    /// `conversation_id` reported in responses.
    pub(super) conversation_id: String,
}

impl Realtime {
    /// A session for `target`; `beta` sessions are refused right after the upgrade.
    pub(in crate::simulate) fn new(target: Target, beta: bool) -> Self {
        let session = initial_session(&target);
        Self {
            target,
            beta,
            session,
            buffered: 0,
            appended: 0,
            vad: Vad::default(),
            pending_item: None,
            last_item: None,
            words: WordCycle::default(),
            heard_words: 0,
            context_audio_tokens: 0,
            context_text_tokens: 0,
            conversation_id: id("conv"),
        }
    }

    /// `realtime` or `transcription`.
    fn kind(&self) -> &'static str {
        match self.target {
            Target::Conversation(_) => "realtime",
            Target::Transcription => "transcription",
        }
    }

    /// The value at `path` in the session configuration (`Null` when absent).
    fn setting(&self, path: &[&str]) -> &Value {
        path.iter()
            .try_fold(&self.session, |value, key| value.get(key))
            .unwrap_or(&Value::Null)
    }

    /// Format of the client's audio.
    pub(super) fn input_format(&self) -> Format {
        Format::parse(self.setting(&["audio", "input", "format"])).unwrap_or(Format::Pcm)
    }

    /// Format of the model's audio.
    pub(super) fn output_format(&self) -> Format {
        Format::parse(self.setting(&["audio", "output", "format"])).unwrap_or(Format::Pcm)
    }

    /// Server turn detection, if enabled.
    pub(super) fn turn_detection(&self) -> Option<TurnDetection> {
        let config = self
            .setting(&["audio", "input", "turn_detection"])
            .as_object()?;
        Some(TurnDetection {
            threshold: config
                .get("threshold")
                .and_then(Value::as_f64)
                .unwrap_or(DEFAULT_THRESHOLD),
            silence_ms: config
                .get("silence_duration_ms")
                .and_then(Value::as_u64)
                .unwrap_or(DEFAULT_SILENCE_MS),
            create_response: config
                .get("create_response")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        })
    }

    /// The input transcription model, if input is transcribed.
    pub(super) fn transcription_model(&self) -> Option<String> {
        let transcription = self.setting(&["audio", "input", "transcription"]);
        let model = transcription.get("model").and_then(Value::as_str);
        match self.target {
            Target::Transcription => Some(model.unwrap_or(DEFAULT_TRANSCRIPTION_MODEL).to_owned()),
            Target::Conversation(_) => transcription
                .is_object()
                .then(|| model.unwrap_or("whisper-1").to_owned()),
        }
    }

    /// Handles `session.update`: merge, validate, answer with the full effective configuration.
    fn update(&mut self, message: &Value) -> Result<Step, Fault> {
        let update = message
            .get("session")
            .and_then(Value::as_object)
            .ok_or_else(|| Fault::missing("session"))?;
        let kind = update
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| Fault::missing("session.type"))?;
        if kind != self.kind() {
            return Err(Fault::invalid(
                "session.type",
                "a session cannot change its type.",
            ));
        }
        let mut merged = self.session.clone();
        if let Some(target) = merged.as_object_mut() {
            let changes = update
                .iter()
                .filter(|(key, _)| !FIXED_FIELDS.contains(&key.as_str()));
            for (key, value) in changes {
                merge(target, key, value);
            }
        }
        validate(&merged)?;
        self.session = merged;
        Ok(Step::json(event(
            json!({"type": "session.updated", "session": self.session}),
        )))
    }

    /// Routes one parsed client event.
    fn dispatch(&mut self, message: &Value) -> Result<Step, Fault> {
        let kind = message
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| Fault::missing("type"))?;
        match kind {
            "session.update" => self.update(message),
            "input_audio_buffer.append" => self.append(message),
            "input_audio_buffer.commit" => self.commit(),
            "input_audio_buffer.clear" => Ok(self.clear()),
            "conversation.item.create" => self.create_item(message),
            "response.create" => self.create_response(message),
            "response.cancel" => Err(Fault::new(
                "response_cancel_not_active",
                "Cancellation failed: no active response found.",
                None,
            )),
            "conversation.item.delete"
            | "conversation.item.retrieve"
            | "conversation.item.truncate"
            | "output_audio_buffer.clear" => {
                debug!(event_type = kind, "client event accepted but not simulated");
                Ok(Step::default())
            }
            other => Err(Fault::invalid(
                "type",
                &format!("'{other}' is not a supported client event type."),
            )),
        }
    }
}

impl Protocol for Realtime {
    fn on_open(&mut self) -> Step {
        if self.beta {
            let fault = Fault::new("beta_api_shape_disabled", BETA_MESSAGE, None);
            return Step::json(fault.to_event(None))
                .then_close(Closing::Status(BETA_CODE, BETA_MESSAGE));
        }
        Step::json(event(
            json!({"type": "session.created", "session": self.session}),
        ))
    }

    fn on_text(&mut self, text: &str) -> Step {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            let fault = Fault::new(
                "invalid_json",
                "The event could not be parsed as JSON.",
                None,
            );
            return Step::json(fault.to_event(None));
        };
        let client_event_id = message.get("event_id").and_then(Value::as_str);
        match self.dispatch(&message) {
            Ok(step) => step,
            Err(fault) => Step::json(fault.to_event(client_event_id)),
        }
    }

    fn on_binary(&mut self, _data: &[u8]) -> Step {
        let fault = Fault::new(
            "invalid_value",
            "Binary frames are not supported; send JSON text events.",
            None,
        );
        Step::json(fault.to_event(None))
    }

    fn max_duration(&self) -> Option<Duration> {
        Some(MAX_SESSION)
    }

    fn on_expired(&mut self) -> Step {
        let fault = Fault::new("session_expired", EXPIRED_MESSAGE, None);
        Step::json(fault.to_event(None)).then_close(Closing::Status(EXPIRED_CODE, EXPIRED_MESSAGE))
    }
}
