//! One simulated Speechmatics recognition session: `StartRecognition` first, then audio and control messages.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::transcript::{Transcriber, final_transcript};
use crate::simulate::session::{Closing, Protocol, Step};
use crate::simulate::wire::millis;

/// Close code after an in-band `Error` (the one Speechmatics documents after its timeout errors).
const ERROR_CLOSE_CODE: u16 = 1008;
/// Normal close after `EndOfTranscript`.
const NORMAL_CLOSE_CODE: u16 = 1000;
/// Highest `sample_rate` accepted.
const MAX_SAMPLE_RATE: u64 = 192_000;
/// Audio rate assumed for `{"type":"file"}` audio, whose container the simulator does not decode.
const FILE_BYTES_PER_SECOND: u64 = 32_000;
/// `max_delay` when the config names none, also its largest permitted value.
const DEFAULT_MAX_DELAY: f64 = 4.0;
/// Smallest permitted `max_delay`.
const MIN_MAX_DELAY: f64 = 0.7;

/// An in-band error: `type` and `reason`.
type Fault = (&'static str, &'static str);

/// What the session is doing.
#[derive(Debug)]
enum State {
    /// Waiting for `StartRecognition`.
    Waiting,
    /// Recognising audio.
    Running(Running),
}

/// A started recognition.
#[derive(Debug)]
struct Running {
    /// Bytes per second of the declared audio format.
    bytes_per_second: u64,
    /// Audio bytes received.
    received: u64,
    /// Audio frames received (the last `AudioAdded.seq_no`).
    seq_no: u64,
    /// Whether `AddPartialTranscript` is sent.
    partials: bool,
    /// Seconds a word stays partial before it is final.
    max_delay: f64,
    /// Language reported in alternatives.
    language: String,
    /// Heard words.
    transcriber: Transcriber,
}

/// State of one simulated session.
#[derive(Debug)]
pub(in crate::simulate) struct Recognition {
    /// `RecognitionStarted.id`.
    id: Uuid,
    /// Where the session is.
    state: State,
}

impl Recognition {
    /// A session waiting for `StartRecognition`.
    pub(in crate::simulate) fn new(id: Uuid) -> Self {
        Self {
            id,
            state: State::Waiting,
        }
    }

    /// Validates `StartRecognition` and answers `RecognitionStarted`.
    fn start(&mut self, message: &Map<String, Value>) -> Step {
        let started = audio_rate(message.get("audio_format")).and_then(|bytes_per_second| {
            let config = message
                .get("transcription_config")
                .and_then(Value::as_object)
                .ok_or(("invalid_config", "transcription_config is required"))?;
            let language = config
                .get("language")
                .and_then(Value::as_str)
                .filter(|language| !language.trim().is_empty())
                .ok_or((
                    "invalid_config",
                    "transcription_config.language is required",
                ))?;
            let mut running = Running {
                bytes_per_second,
                received: 0,
                seq_no: 0,
                partials: false,
                max_delay: DEFAULT_MAX_DELAY,
                language: language.to_owned(),
                transcriber: Transcriber::default(),
            };
            running.configure(config);
            Ok(running)
        });
        match started {
            Ok(running) => {
                let language = running.language.clone();
                self.state = State::Running(running);
                Step::json(json!({
                    "message": "RecognitionStarted",
                    "id": self.id.to_string(),
                    "orchestrator_version": "simulated",
                    "language_pack_info": {
                        "adapted": false,
                        "itn": true,
                        "language_description": language,
                        "word_delimiter": " ",
                        "writing_direction": "left-to-right",
                    },
                }))
            }
            Err(fault) => error(fault),
        }
    }
}

impl Running {
    /// Applies the mid-session-changeable fields of a transcription config.
    fn configure(&mut self, config: &Map<String, Value>) {
        if let Some(partials) = config.get("enable_partials").and_then(Value::as_bool) {
            self.partials = partials;
        }
        if let Some(delay) = config.get("max_delay").and_then(Value::as_f64)
            && delay.is_finite()
        {
            self.max_delay = delay.clamp(MIN_MAX_DELAY, DEFAULT_MAX_DELAY);
        }
    }

    /// Seconds of audio received.
    fn seconds(&self) -> f64 {
        self.received as f64 / self.bytes_per_second as f64
    }

    /// One audio frame: `AudioAdded`, then any finals that are due and a partial of the rest.
    fn audio(&mut self, data: &[u8]) -> Step {
        self.seq_no += 1;
        self.received = self.received.saturating_add(data.len() as u64);
        let mut step = Step::json(json!({"message": "AudioAdded", "seq_no": self.seq_no}));
        let seconds = self.seconds();
        let before = self.transcriber.heard();
        self.transcriber.hear_until(seconds);
        let finals = self.transcriber.finalize(seconds, Some(self.max_delay));
        if !finals.is_empty() {
            step.push(final_transcript(&finals, &self.language));
        }
        let new_words = self.transcriber.heard() > before;
        if self.partials && self.transcriber.has_pending() && (new_words || !finals.is_empty()) {
            step.push(self.transcriber.partial(&self.language));
        }
        step
    }

    /// Every pending word as a final `AddTranscript`, if there is any.
    fn flush(&mut self, step: &mut Step) {
        let finals = self.transcriber.finalize(self.seconds(), None);
        if !finals.is_empty() {
            step.push(final_transcript(&finals, &self.language));
        }
    }

    /// A control message after `StartRecognition`.
    fn control(&mut self, kind: &str, message: &Map<String, Value>) -> Step {
        match kind {
            "EndOfStream" => {
                if message.get("last_seq_no").and_then(Value::as_u64).is_none() {
                    return error((
                        "invalid_message",
                        "EndOfStream needs last_seq_no (a non-negative integer)",
                    ));
                }
                let mut step = Step::default();
                self.flush(&mut step);
                step.push(json!({"message": "EndOfTranscript"}));
                step.then_close(Closing::Status(NORMAL_CLOSE_CODE, ""))
            }
            "ForceEndOfUtterance" => {
                let mut step = Step::default();
                self.flush(&mut step);
                let at = millis(self.seconds());
                step.push(json!({"message": "EndOfUtterance",
                                 "metadata": {"start_time": at, "end_time": at}}));
                step
            }
            "SetRecognitionConfig" => match message
                .get("transcription_config")
                .and_then(Value::as_object)
            {
                Some(config) => {
                    self.configure(config);
                    Step::default()
                }
                None => error((
                    "invalid_message",
                    "SetRecognitionConfig needs transcription_config",
                )),
            },
            "GetSpeakers" => Step::json(json!({"message": "SpeakersResult", "speakers": []})),
            "StartRecognition" => error((
                "protocol_error",
                "StartRecognition may only be sent once, as the first message",
            )),
            _ => error(("invalid_message", "Unknown message type")),
        }
    }
}

impl Protocol for Recognition {
    fn on_text(&mut self, text: &str) -> Step {
        let Ok(Value::Object(message)) = serde_json::from_str::<Value>(text) else {
            return error(("invalid_message", "Messages must be JSON objects"));
        };
        let Some(kind) = message.get("message").and_then(Value::as_str) else {
            return error(("invalid_message", "Messages need a string `message` field"));
        };
        match &mut self.state {
            State::Waiting if kind == "StartRecognition" => self.start(&message),
            State::Waiting => error((
                "protocol_error",
                "The first message must be StartRecognition",
            )),
            State::Running(running) => running.control(kind, &message),
        }
    }

    fn on_binary(&mut self, data: &[u8]) -> Step {
        match &mut self.state {
            State::Waiting => error(("protocol_error", "Audio received before StartRecognition")),
            State::Running(running) => running.audio(data),
        }
    }
}

/// Bytes per second of `audio_format`: raw encodings from width × rate, files at a fixed rate.
fn audio_rate(format: Option<&Value>) -> Result<u64, Fault> {
    const BAD: Fault = (
        "invalid_audio_type",
        "audio_format must be {\"type\":\"file\"} or {\"type\":\"raw\",\"encoding\":\"pcm_s16le\"|\"pcm_f32le\"|\"mulaw\",\"sample_rate\":N}",
    );
    let format = format.and_then(Value::as_object).ok_or(BAD)?;
    match format.get("type").and_then(Value::as_str) {
        Some("file") => Ok(FILE_BYTES_PER_SECOND),
        Some("raw") => {
            let width = match format.get("encoding").and_then(Value::as_str) {
                Some("pcm_f32le") => 4,
                Some("pcm_s16le") => 2,
                Some("mulaw") => 1,
                _ => return Err(BAD),
            };
            let rate = format
                .get("sample_rate")
                .and_then(Value::as_u64)
                .filter(|rate| (1..=MAX_SAMPLE_RATE).contains(rate))
                .ok_or(BAD)?;
            Ok(width * rate)
        }
        _ => Err(BAD),
    }
}

/// An in-band `Error`, then close.
fn error((kind, reason): Fault) -> Step {
    Step::json(json!({"message": "Error", "type": kind, "reason": reason}))
        .then_close(Closing::Status(ERROR_CLOSE_CODE, kind))
}
