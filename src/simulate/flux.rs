//! Simulated Deepgram Flux (`/v2/listen`): audio in, `TurnInfo` events with turn boundaries out.

use serde_json::{Map, Value, json};
use tracing::debug;
use uuid::Uuid;

use super::session::{Closing, Protocol, Step};
use super::wire::{Params, Word, WordCycle, millis};

/// Sample rate assumed when the query names none.
const DEFAULT_SAMPLE_RATE: u32 = 16_000;
/// Encoding assumed when the query names none.
const DEFAULT_ENCODING: &str = "linear16";
/// `TurnInfo` cadence: one per quarter second of audio.
const UPDATES_PER_SECOND: u64 = 4;
/// Quarters of audio after which a turn ends (2 s).
const QUARTERS_PER_TURN: u32 = 8;
/// `Error` code for messages Flux does not accept (including `KeepAlive`).
const UNPARSABLE: &str = "UNPARSABLE_CLIENT_MESSAGE";
/// Threshold names `Configure` may change.
const THRESHOLDS: [&str; 3] = ["eot_threshold", "eager_eot_threshold", "eot_timeout_ms"];

/// State of one `/v2/listen` session.
pub(super) struct Flux {
    /// Per-session UUID, also sent as `dg-request-id`.
    request_id: Uuid,
    /// Audio bytes per `TurnInfo` step.
    bytes_per_quarter: u64,
    /// Audio rate, for window timestamps.
    bytes_per_second: u64,
    /// `sequence_id` of the next server message.
    sequence: u64,
    /// Audio bytes received so far.
    received: u64,
    /// Audio bytes already reported in `TurnInfo`.
    processed: u64,
    /// Index of the current turn.
    turn_index: u64,
    /// Stream offset where the current turn began, in bytes.
    turn_start: u64,
    /// Quarters reported in the current turn.
    turn_quarters: u32,
    /// Words heard in the current turn.
    turn_words: Vec<Word>,
    /// Source of transcript words.
    words: WordCycle,
    /// Current thresholds, as reported by `ConfigureSuccess`.
    thresholds: Map<String, Value>,
    /// Current key terms, as reported by `ConfigureSuccess`.
    keyterms: Vec<Value>,
}

impl Flux {
    /// A session for the given query.
    pub(super) fn new(params: &Params, request_id: Uuid) -> Self {
        let bytes_per_second = params.bytes_per_second(Some(DEFAULT_ENCODING), DEFAULT_SAMPLE_RATE);
        let mut thresholds = Map::new();
        thresholds.insert("eot_threshold".into(), json!(0.7));
        thresholds.insert("eot_timeout_ms".into(), json!(5000));
        Self {
            request_id,
            bytes_per_quarter: (bytes_per_second / UPDATES_PER_SECOND).max(1),
            bytes_per_second,
            sequence: 0,
            received: 0,
            processed: 0,
            turn_index: 0,
            turn_start: 0,
            turn_quarters: 0,
            turn_words: Vec::new(),
            words: WordCycle::default(),
            thresholds,
            keyterms: Vec::new(),
        }
    }

    /// Takes the next `sequence_id`.
    fn next_sequence(&mut self) -> u64 {
        let current = self.sequence;
        self.sequence += 1;
        current
    }

    /// One `TurnInfo` per complete quarter second of unreported audio.
    fn quarters(&mut self) -> Step {
        let mut step = Step::default();
        while self.received - self.processed >= self.bytes_per_quarter {
            self.processed += self.bytes_per_quarter;
            self.turn_quarters += 1;
            if self.turn_quarters % 2 == 1 {
                self.turn_words.push(self.words.next_word());
            }
            let event = match self.turn_quarters {
                1 => "StartOfTurn",
                QUARTERS_PER_TURN => "EndOfTurn",
                _ => "Update",
            };
            step.push(self.turn_info(event));
            if event == "EndOfTurn" {
                self.next_turn();
            }
        }
        step
    }

    /// A `TurnInfo` for the current turn up to the processed audio.
    fn turn_info(&mut self, event: &str) -> Value {
        let transcript: Vec<&str> = self.turn_words.iter().map(|w| w.word).collect();
        let words: Vec<Value> = self
            .turn_words
            .iter()
            .map(|w| json!({"word": w.word, "confidence": w.confidence}))
            .collect();
        let progress = f64::from(self.turn_quarters) / f64::from(QUARTERS_PER_TURN);
        json!({
            "type": "TurnInfo",
            "request_id": self.request_id.to_string(),
            "sequence_id": self.next_sequence(),
            "event": event,
            "turn_index": self.turn_index,
            "audio_window_start": self.seconds(self.turn_start),
            "audio_window_end": self.seconds(self.processed),
            "transcript": transcript.join(" "),
            "words": words,
            "end_of_turn_confidence": millis(0.05 + 0.9 * progress),
        })
    }

    /// Starts a new turn at the current audio position.
    fn next_turn(&mut self) {
        self.turn_index += 1;
        self.turn_start = self.processed;
        self.turn_quarters = 0;
        self.turn_words.clear();
    }

    /// Stream offset `bytes` in seconds.
    fn seconds(&self, bytes: u64) -> f64 {
        millis(bytes as f64 / self.bytes_per_second as f64)
    }

    /// `Configure`: merge thresholds and key terms, then acknowledge.
    fn configure(&mut self, message: &Value) -> Step {
        let thresholds = message.get("thresholds");
        let valid = thresholds.is_none_or(|t| {
            t.as_object().is_some_and(|t| {
                t.iter()
                    .all(|(k, v)| THRESHOLDS.contains(&k.as_str()) && v.is_number())
            })
        });
        let keyterms = message.get("keyterms");
        if !valid || keyterms.is_some_and(|k| !k.is_array()) {
            let sequence_id = self.next_sequence();
            return Step::json(json!({"type": "ConfigureFailure",
                "request_id": self.request_id.to_string(), "sequence_id": sequence_id}));
        }
        if let Some(Value::Object(changes)) = thresholds {
            self.thresholds.extend(changes.clone());
        }
        if let Some(Value::Array(terms)) = keyterms {
            self.keyterms.clone_from(terms);
        }
        Step::json(json!({
            "type": "ConfigureSuccess",
            "request_id": self.request_id.to_string(),
            "thresholds": self.thresholds,
            "keyterms": self.keyterms,
            "sequence_id": self.next_sequence(),
        }))
    }

    /// `CloseStream`: report leftover audio as an `Update`, then close without a status code.
    fn close_stream(&mut self) -> Step {
        let mut step = self.quarters();
        if self.received > self.processed {
            self.processed = self.received;
            step.push(self.turn_info("Update"));
        }
        step.then_close(Closing::NoStatus)
    }

    /// `ForceEndTurn`: end the current turn now if it has any words.
    fn force_end_turn(&mut self) -> Step {
        if self.turn_words.is_empty() {
            return Step::default();
        }
        let step = Step::json(self.turn_info("EndOfTurn"));
        self.next_turn();
        step
    }

    /// A non-fatal `Error` for a message Flux does not accept.
    fn unparsable(&mut self, description: &str) -> Step {
        Step::json(json!({
            "type": "Error",
            "sequence_id": self.next_sequence(),
            "code": UNPARSABLE,
            "description": description,
        }))
    }
}

impl Protocol for Flux {
    fn on_open(&mut self) -> Step {
        Step::json(json!({
            "type": "Connected",
            "request_id": self.request_id.to_string(),
            "sequence_id": self.next_sequence(),
        }))
    }

    fn on_text(&mut self, text: &str) -> Step {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            debug!("text frame is not json");
            return self.unparsable("Client message is not valid JSON.");
        };
        match message.get("type").and_then(Value::as_str) {
            Some("CloseStream") => self.close_stream(),
            Some("Configure") => self.configure(&message),
            Some("ForceEndTurn") => self.force_end_turn(),
            other => {
                debug!(message_type = ?other, "rejecting unknown message type");
                self.unparsable("Client message type is not supported on /v2/listen.")
            }
        }
    }

    fn on_binary(&mut self, data: &[u8]) -> Step {
        self.received += data.len() as u64;
        self.quarters()
    }
}
