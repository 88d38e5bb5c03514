//! `Turn` messages made up from received audio: 2.5 words per second, a partial turn for every new word,
//! an end of turn every [`TURN_MS`] of audio, on `ForceEndpoint` and before `Termination`.

use serde_json::{Value, json};

use crate::simulate::wire::{Word, WordCycle};

/// Audio per made-up word (2.5 words per second).
const WORD_MS: u64 = 400;
/// How long each word lasts inside its slot.
const WORD_LENGTH_MS: u64 = 300;
/// Audio after which a turn ends on its own.
const TURN_MS: u64 = 3000;
/// `end_of_turn_confidence` of a partial turn.
const PARTIAL_CONFIDENCE: f64 = 0.05;
/// `end_of_turn_confidence` of an ended turn.
const FINAL_CONFIDENCE: f64 = 0.9;

/// A word placed in the session's audio.
#[derive(Debug, Clone)]
struct Placed {
    /// The word.
    word: Word,
    /// Start, ms of session audio.
    start: u64,
}

/// Turn state of one session.
#[derive(Debug)]
pub(super) struct Turns {
    /// Audio bytes per second.
    bytes_per_second: u64,
    /// Whether ended turns get a formatted copy.
    format: bool,
    /// Audio bytes received.
    received: u64,
    /// Words handed out so far (over the session).
    issued: u64,
    /// `turn_order` of the current turn.
    order: u64,
    /// Session audio (ms) where the current turn began.
    turn_start_ms: u64,
    /// Words of the current turn.
    current: Vec<Placed>,
    /// Source of words.
    words: WordCycle,
}

impl Turns {
    /// No audio yet; `bytes_per_second` must be positive.
    pub(super) fn new(bytes_per_second: u64, format: bool) -> Self {
        Self {
            bytes_per_second: bytes_per_second.max(1),
            format,
            received: 0,
            issued: 0,
            order: 0,
            turn_start_ms: 0,
            current: Vec::new(),
            words: WordCycle::default(),
        }
    }

    /// Milliseconds of audio received.
    fn audio_ms(&self) -> u64 {
        self.received * 1000 / self.bytes_per_second
    }

    /// Adds `len` bytes of audio; returns the `Turn` messages they cause, in order.
    pub(super) fn feed(&mut self, len: u64) -> Vec<Value> {
        self.received += len;
        let now = self.audio_ms();
        let mut out = Vec::new();
        let mut grew = false;
        while (self.issued + 1) * WORD_MS <= now {
            let start = self.issued * WORD_MS;
            self.issued += 1;
            self.current.push(Placed {
                word: self.words.next_word(),
                start,
            });
            grew = true;
        }
        if now.saturating_sub(self.turn_start_ms) >= TURN_MS && !self.current.is_empty() {
            out.extend(self.finish());
        } else if grew {
            out.push(self.turn(false, false));
        }
        out
    }

    /// Ends the current turn if it has words: the end of turn, plus a formatted copy with `format_turns`.
    pub(super) fn finish(&mut self) -> Vec<Value> {
        if self.current.is_empty() {
            return Vec::new();
        }
        let mut out = vec![self.turn(true, false)];
        if self.format {
            out.push(self.turn(true, true));
        }
        self.current.clear();
        self.order += 1;
        self.turn_start_ms = self.audio_ms();
        out
    }

    /// The current turn as a `Turn` message.
    fn turn(&self, end: bool, formatted: bool) -> Value {
        let last = self.current.len().saturating_sub(1);
        let words: Vec<Value> = self
            .current
            .iter()
            .enumerate()
            .map(|(index, placed)| {
                json!({
                    "text": text(&placed.word, formatted),
                    "start": placed.start,
                    "end": placed.start + WORD_LENGTH_MS,
                    "confidence": placed.word.confidence,
                    "word_is_final": end || index < last,
                })
            })
            .collect();
        let mut transcript = self
            .current
            .iter()
            .map(|placed| text(&placed.word, formatted))
            .collect::<Vec<_>>()
            .join(" ");
        if formatted {
            transcript = capitalise(&transcript);
            if !transcript.ends_with('.') {
                transcript.push('.');
            }
        }
        json!({
            "type": "Turn",
            "turn_order": self.order,
            "turn_is_formatted": formatted,
            "end_of_turn": end,
            "transcript": transcript,
            "end_of_turn_confidence": if end { FINAL_CONFIDENCE } else { PARTIAL_CONFIDENCE },
            "words": words,
        })
    }
}

/// A word as a formatted or raw turn shows it.
fn text(word: &Word, formatted: bool) -> String {
    if formatted {
        word.punctuated.clone()
    } else {
        word.word.to_owned()
    }
}

/// Upper-cases the first character.
fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}
