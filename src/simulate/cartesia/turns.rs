//! Simulated Cartesia STT WebSocket with turn detection (`/stt/turns/websocket`).
//!
//! `connected` first. A binary frame with a sample above 1 % of full scale is speech: the first opens a
//! turn (`turn.start`), each new word (2.5 per second of speech) sends `turn.update` with the turn's
//! transcript so far. Quiet frames after speech count as silence: half the end timeout gives
//! `turn.eager_end`, speech after that `turn.resume`, the whole timeout `turn.end`. `{"type":"config",
//! "turn":{"end_timeout_ms"}}` changes the timeout; `{"type":"close"}` ends an open turn and closes with 1000.

use serde_json::{Value, json};
use uuid::Uuid;

use super::stt::input_format;
use super::{Encoding, Refusal};
use crate::simulate::session::{Closing, Protocol, Step};
use crate::simulate::wire::{Params, WordCycle};

/// Words recognised per second of speech.
const WORDS_PER_SECOND: f64 = 2.5;
/// Most words in one turn.
const MAX_TURN_WORDS: usize = 200;
/// Silence that ends a turn unless the query or a `config` says otherwise.
const DEFAULT_END_TIMEOUT_MS: u64 = 1_000;
/// Accepted end timeouts.
const END_TIMEOUTS_MS: std::ops::RangeInclusive<u64> = 100..=10_000;

/// One turn-detecting STT connection.
#[derive(Debug)]
pub(in crate::simulate) struct Turns {
    /// Reported in every message.
    request_id: Uuid,
    /// Input encoding.
    encoding: Encoding,
    /// Input sample rate.
    sample_rate: u32,
    /// Silence that ends a turn.
    end_timeout_ms: u64,
    /// Where words come from.
    cycle: WordCycle,
    /// Whether a turn is open.
    in_turn: bool,
    /// Bytes of speech in the open turn.
    speech: u64,
    /// Bytes of silence since the last speech of the open turn (bytes, not seconds: exact sums).
    silence: u64,
    /// Whether `turn.eager_end` was sent for the current silence.
    eager: bool,
    /// Words of the open turn.
    words: Vec<&'static str>,
}

impl Turns {
    /// Reads `model`, `encoding`, `sample_rate` and `turn_end_timeout_ms` from the query.
    pub(in crate::simulate) fn from_query(
        params: &Params,
        request_id: Uuid,
    ) -> Result<Self, Refusal> {
        let (encoding, sample_rate) = input_format(params)?;
        let end_timeout_ms = match params.get("turn_end_timeout_ms") {
            None => DEFAULT_END_TIMEOUT_MS,
            Some(raw) => raw
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|ms| END_TIMEOUTS_MS.contains(ms))
                .ok_or(Refusal::bad_query(
                    "`turn_end_timeout_ms` must be 100 to 10000.",
                ))?,
        };
        Ok(Self {
            request_id,
            encoding,
            sample_rate,
            end_timeout_ms,
            cycle: WordCycle::default(),
            in_turn: false,
            speech: 0,
            silence: 0,
            eager: false,
            words: Vec::new(),
        })
    }

    /// `{"type": kind, "request_id"}`, with the turn's transcript when `transcript`.
    fn event(&self, kind: &str, transcript: bool) -> Value {
        let mut event = json!({"type": kind, "request_id": self.request_id.to_string()});
        if transcript {
            event["transcript"] = json!(self.words.join(" "));
        }
        event
    }

    /// Sends `turn.end` and closes the turn.
    fn end_turn(&mut self, step: &mut Step) {
        step.push(self.event("turn.end", true));
        self.in_turn = false;
        self.speech = 0;
        self.silence = 0;
        self.eager = false;
        self.words.clear();
    }

    /// A bad client message; the session goes on.
    fn error(&self, message: &str) -> Step {
        Step::json(json!({
            "type": "error", "status_code": 400, "title": "Invalid command", "message": message,
            "error_code": "invalid_request", "request_id": self.request_id.to_string(),
        }))
    }
}

impl Protocol for Turns {
    fn on_open(&mut self) -> Step {
        Step::json(self.event("connected", false))
    }

    fn on_text(&mut self, text: &str) -> Step {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            return self
                .error("Commands are JSON: {\"type\":\"config\",…} or {\"type\":\"close\"}.");
        };
        match message.get("type").and_then(Value::as_str) {
            Some("config") => {
                let timeout = message.pointer("/turn/end_timeout_ms");
                match timeout.map(|ms| ms.as_u64().filter(|ms| END_TIMEOUTS_MS.contains(ms))) {
                    None => Step::default(),
                    Some(Some(ms)) => {
                        self.end_timeout_ms = ms;
                        Step::default()
                    }
                    Some(None) => self.error("turn.end_timeout_ms must be 100 to 10000."),
                }
            }
            Some("close") => {
                let mut step = Step::default();
                if self.in_turn {
                    self.end_turn(&mut step);
                }
                step.then_close(Closing::Status(1000, ""))
            }
            _ => self.error("Unknown command type: use config or close."),
        }
    }

    fn on_binary(&mut self, data: &[u8]) -> Step {
        let bytes = data.len() as u64;
        let timeout =
            self.end_timeout_ms * u64::from(self.sample_rate) * self.encoding.width() / 1000;
        let mut step = Step::default();
        if self.encoding.is_loud(data) {
            if !self.in_turn {
                self.in_turn = true;
                step.push(self.event("turn.start", false));
            } else if self.eager {
                self.eager = false;
                step.push(self.event("turn.resume", false));
            }
            self.silence = 0;
            self.speech = self.speech.saturating_add(bytes);
            let seconds = self.encoding.seconds(self.speech, self.sample_rate);
            let due = ((seconds * WORDS_PER_SECOND) as usize).min(MAX_TURN_WORDS);
            if self.words.len() < due {
                while self.words.len() < due {
                    self.words.push(self.cycle.next_word().word);
                }
                step.push(self.event("turn.update", true));
            }
        } else if self.in_turn {
            self.silence = self.silence.saturating_add(bytes);
            if !self.eager && self.silence >= timeout / 2 {
                self.eager = true;
                step.push(self.event("turn.eager_end", true));
            }
            if self.silence >= timeout {
                self.end_turn(&mut step);
            }
        }
        step
    }
}
