//! Made-up words on the audio clock and the `AddTranscript` / `AddPartialTranscript` messages built from them.

use serde_json::{Value, json};

use crate::simulate::wire::{WordCycle, millis};

/// Audio time each word takes: 2.5 words per second.
const WORD_SECONDS: f64 = 0.4;
/// The spoken part of a word's slot (the rest is a pause).
const SPOKEN_SECONDS: f64 = 0.3;
/// Speechmatics JSON output format version.
const FORMAT: &str = "2.9";

/// One heard word with its place on the audio clock.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Heard {
    /// Word as displayed (sentence start capitalised, no punctuation).
    content: String,
    /// Whether a full stop follows it.
    ends_sentence: bool,
    /// Confidence in `0..=1`.
    confidence: f64,
    /// Start, seconds from the start of the audio.
    start: f64,
    /// End, seconds from the start of the audio.
    end: f64,
}

/// Words heard so far, split into final ones (already sent in `AddTranscript`) and pending ones.
#[derive(Debug, Default)]
pub(super) struct Transcriber {
    /// Source of words.
    words: WordCycle,
    /// Words heard (final or pending).
    heard: usize,
    /// Heard but not yet final, oldest first.
    pending: Vec<Heard>,
}

impl Transcriber {
    /// Hears every word whose slot ends by `seconds` of audio.
    pub(super) fn hear_until(&mut self, seconds: f64) {
        // Bounded by the audio received: 2.5 words per second.
        let due = (seconds / WORD_SECONDS + 1e-9).floor() as usize;
        while self.heard < due {
            let word = self.words.next_word();
            let start = self.heard as f64 * WORD_SECONDS;
            self.heard += 1;
            let ends_sentence = word.punctuated.ends_with('.');
            self.pending.push(Heard {
                content: word.punctuated.trim_end_matches('.').to_owned(),
                ends_sentence,
                confidence: word.confidence,
                start: millis(start),
                end: millis(start + SPOKEN_SECONDS),
            });
        }
    }

    /// Whether any heard word is not final yet.
    pub(super) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// How many words were heard in all.
    pub(super) fn heard(&self) -> usize {
        self.heard
    }

    /// Takes the pending words that ended at least `delay` seconds before `seconds` (all with `None`).
    pub(super) fn finalize(&mut self, seconds: f64, delay: Option<f64>) -> Vec<Heard> {
        let ready = match delay {
            None => self.pending.len(),
            Some(delay) => self
                .pending
                .iter()
                .take_while(|word| word.end + delay <= seconds + 1e-9)
                .count(),
        };
        self.pending.drain(..ready).collect()
    }

    /// An `AddPartialTranscript` of the pending words.
    pub(super) fn partial(&self, language: &str) -> Value {
        message("AddPartialTranscript", &self.pending, language)
    }
}

/// An `AddTranscript` of `words`.
pub(super) fn final_transcript(words: &[Heard], language: &str) -> Value {
    message("AddTranscript", words, language)
}

/// A transcript message: `metadata{transcript,start_time,end_time}` and one result per word and full stop.
fn message(kind: &str, words: &[Heard], language: &str) -> Value {
    let mut transcript = String::new();
    let mut results = Vec::with_capacity(words.len());
    for word in words {
        if !transcript.is_empty() {
            transcript.push(' ');
        }
        transcript.push_str(&word.content);
        results.push(json!({
            "type": "word",
            "start_time": word.start,
            "end_time": word.end,
            "alternatives": [{"content": word.content, "confidence": word.confidence, "language": language}],
        }));
        if word.ends_sentence {
            transcript.push('.');
            results.push(json!({
                "type": "punctuation",
                "start_time": word.end,
                "end_time": word.end,
                "attaches_to": "previous",
                "is_eos": true,
                "alternatives": [{"content": ".", "confidence": 1.0, "language": language}],
            }));
        }
    }
    if !transcript.is_empty() {
        transcript.push(' ');
    }
    let start = words.first().map_or(0.0, |word| word.start);
    let end = words.last().map_or(0.0, |word| word.end);
    json!({
        "message": kind,
        "format": FORMAT,
        "metadata": {"transcript": transcript, "start_time": start, "end_time": end},
        "results": results,
    })
}
