//! Simulated Cartesia STT WebSocket with manual finalize (`/stt/websocket`).
//!
//! Binary frames are audio in the query's `encoding` and `sample_rate`; words come from a fixed sentence at
//! 2.5 words per second of audio received. Each new word yields an interim `transcript`; the text
//! command `finalize` turns the pending audio into a final `transcript` and a `flush_done`; `close`
//! (or the older `done`) does the same, answers `done` and closes with 1000.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{Encoding, Refusal};
use crate::simulate::session::{Closing, Protocol, Step};
use crate::simulate::wire::{Params, WordCycle, millis};

/// Words recognised per second of audio.
const WORDS_PER_SECOND: f64 = 2.5;
/// Seconds between the starts of consecutive words (1 / [`WORDS_PER_SECOND`]).
const WORD_SPACING: f64 = 0.4;
/// How long each word lasts.
const WORD_LENGTH: f64 = 0.3;
/// Most words in one segment (between two finalizes); later audio adds none.
const MAX_SEGMENT_WORDS: usize = 1_000;
/// Interim transcripts stop once a segment has this many words (each repeats the whole segment).
const MAX_INTERIM_WORDS: usize = 50;
/// Accepted `sample_rate` values.
const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 1_000..=192_000;
/// Language reported when the query names none.
const DEFAULT_LANGUAGE: &str = "en";

/// One STT connection.
#[derive(Debug)]
pub(in crate::simulate) struct Stt {
    /// Reported in every message.
    request_id: Uuid,
    /// Input encoding.
    encoding: Encoding,
    /// Input sample rate.
    sample_rate: u32,
    /// Reported language.
    language: String,
    /// Where words come from.
    cycle: WordCycle,
    /// Audio bytes received since the last finalize.
    pending: u64,
    /// Words recognised since the last finalize.
    words: Vec<&'static str>,
    /// Seconds of audio finalized before the pending segment.
    offset: f64,
    /// Whether a non-empty final transcript was sent (later segments start with a space).
    spoke: bool,
}

impl Stt {
    /// Reads `model`, `encoding`, `sample_rate` and `language` from the query.
    pub(in crate::simulate) fn from_query(
        params: &Params,
        request_id: Uuid,
    ) -> Result<Self, Refusal> {
        let (encoding, sample_rate) = input_format(params)?;
        let language = params
            .get("language")
            .filter(|language| !language.is_empty())
            .unwrap_or(DEFAULT_LANGUAGE);
        Ok(Self {
            request_id,
            encoding,
            sample_rate,
            language: language.to_owned(),
            cycle: WordCycle::default(),
            pending: 0,
            words: Vec::new(),
            offset: 0.0,
            spoke: false,
        })
    }

    /// Seconds of pending audio.
    fn pending_seconds(&self) -> f64 {
        self.encoding.seconds(self.pending, self.sample_rate)
    }

    /// A `transcript` message for the pending segment.
    fn transcript(&self, is_final: bool) -> Value {
        let lead = if self.spoke { " " } else { "" };
        let text = if self.words.is_empty() {
            String::new()
        } else {
            format!("{lead}{}", self.words.join(" "))
        };
        let words: Vec<Value> = self
            .words
            .iter()
            .enumerate()
            .map(|(i, word)| {
                let start = self.offset + i as f64 * WORD_SPACING;
                json!({"word": word, "start": millis(start), "end": millis(start + WORD_LENGTH)})
            })
            .collect();
        json!({
            "type": "transcript", "is_final": is_final, "text": text,
            "duration": millis(self.pending_seconds()), "language": self.language,
            "words": words, "request_id": self.request_id.to_string(),
        })
    }

    /// The final transcript of the pending audio, if any, and a fresh segment.
    fn finalize(&mut self, step: &mut Step) {
        if self.pending == 0 {
            return;
        }
        step.push(self.transcript(true));
        self.spoke |= !self.words.is_empty();
        self.offset += self.pending_seconds();
        self.pending = 0;
        self.words.clear();
    }

    /// `{"type":"error",…}` for a bad client message; the session goes on.
    fn error(&self, message: &str) -> Step {
        Step::json(json!({
            "type": "error", "status_code": 400, "title": "Invalid command",
            "message": message, "error_code": "invalid_request",
            "request_id": self.request_id.to_string(),
        }))
    }
}

/// Checks `model` (an `ink-…` model) and reads the required `encoding` and `sample_rate` of an STT query.
pub(super) fn input_format(params: &Params) -> Result<(Encoding, u32), Refusal> {
    match params.get("model") {
        None | Some("") => {
            return Err(Refusal::bad_query(
                "`model` is required (ink-2, ink-whisper).",
            ));
        }
        Some(model) if !model.starts_with("ink-") => {
            return Err(Refusal::bad_query(
                "Unknown `model`: use an ink model such as ink-2 or ink-whisper.",
            ));
        }
        Some(_) => {}
    }
    let encoding = params
        .get("encoding")
        .and_then(Encoding::parse)
        .ok_or(Refusal::bad_query(
            "`encoding` is required: pcm_s16le, pcm_s32le, pcm_f16le, pcm_f32le, pcm_mulaw or pcm_alaw.",
        ))?;
    let sample_rate = params
        .get("sample_rate")
        .and_then(|rate| rate.trim().parse::<u32>().ok())
        .filter(|rate| SAMPLE_RATES.contains(rate))
        .ok_or(Refusal::bad_query("`sample_rate` is required, in Hz."))?;
    Ok((encoding, sample_rate))
}

impl Protocol for Stt {
    fn on_text(&mut self, text: &str) -> Step {
        let id = self.request_id.to_string();
        match text.trim() {
            "finalize" => {
                let mut step = Step::default();
                self.finalize(&mut step);
                step.push(json!({"type": "flush_done", "request_id": id}));
                step
            }
            "close" | "done" => {
                let mut step = Step::default();
                self.finalize(&mut step);
                step.push(json!({"type": "done", "request_id": id}));
                step.then_close(Closing::Status(1000, ""))
            }
            _ => self.error(
                "Unknown command: send binary audio, or the text commands `finalize` and `close`.",
            ),
        }
    }

    fn on_binary(&mut self, data: &[u8]) -> Step {
        self.pending = self.pending.saturating_add(data.len() as u64);
        let due = (self.pending_seconds() * WORDS_PER_SECOND) as usize;
        let before = self.words.len();
        while self.words.len() < due.min(MAX_SEGMENT_WORDS) {
            self.words.push(self.cycle.next_word().word);
        }
        if self.words.len() > before && self.words.len() <= MAX_INTERIM_WORDS {
            Step::json(self.transcript(false))
        } else {
            Step::default()
        }
    }
}
