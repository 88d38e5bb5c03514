//! Simulated Deepgram live transcription (`/v1/listen`): audio in, `Results` and `Metadata` out.

use std::time::Duration;

use axum::extract::ws::close_code;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracing::debug;
use uuid::Uuid;

use super::session::{Closing, Protocol, Step};
use super::wire::{MODEL_UUID, MODEL_VERSION, Params, Word, WordCycle, millis, now_rfc3339};

/// Model assumed when the query names none.
pub(super) const DEFAULT_MODEL: &str = "nova-3";
/// Sample rate assumed when the query names none.
pub(super) const DEFAULT_SAMPLE_RATE: u32 = 16_000;
/// Fake speaking rate of the transcripts.
const WORDS_PER_SECOND: f64 = 2.0;
/// Deepgram's verbatim NET-0001 close reason.
pub(super) const IDLE_REASON: &str = "Deepgram did not receive audio data or a text message within the timeout window. See https://dpgr.am/net0001";
/// Close reason for text that is not JSON.
const UNDECODABLE_REASON: &str = "DATA-0000";

/// A stretch of audio turned into words.
struct Segment {
    /// Offset of the stretch in the stream, in seconds.
    start: f64,
    /// Length of the stretch, in seconds.
    duration: f64,
    /// Words with absolute `(start, end)` times.
    words: Vec<(Word, f64, f64)>,
}

/// State of one `/v1/listen` session.
pub(super) struct Listen {
    /// Per-session UUID, also sent as `dg-request-id`.
    request_id: Uuid,
    /// Session start, RFC 3339.
    created: String,
    /// Model name as requested (without a Cloudflare prefix).
    model: String,
    /// Audio rate derived from `encoding`, `sample_rate` and `channels`.
    bytes_per_second: u64,
    /// `channels` as requested, echoed in `Metadata`.
    channels: u32,
    /// Whether `interim_results=true`.
    interim: bool,
    /// How long the session may go without client frames.
    idle_timeout: Duration,
    /// Audio bytes received so far.
    received: u64,
    /// Audio bytes already covered by `Results`.
    transcribed: u64,
    /// Hash of all audio received, reported in `Metadata`.
    hasher: Sha256,
    /// Source of transcript words.
    words: WordCycle,
}

impl Listen {
    /// A session for the given query.
    pub(super) fn new(params: &Params, request_id: Uuid, idle_timeout: Duration) -> Self {
        Self {
            request_id,
            created: now_rfc3339(),
            model: params.model_or(DEFAULT_MODEL).to_owned(),
            bytes_per_second: params.bytes_per_second(None, DEFAULT_SAMPLE_RATE),
            channels: params.channels(),
            interim: params.flag("interim_results"),
            idle_timeout,
            received: 0,
            transcribed: 0,
            hasher: Sha256::new(),
            words: WordCycle::default(),
        }
    }

    /// Seconds of audio in `bytes`.
    fn seconds(&self, bytes: u64) -> f64 {
        bytes as f64 / self.bytes_per_second as f64
    }

    /// Results for every complete second of untranscribed audio.
    fn whole_seconds(&mut self) -> Step {
        let mut step = Step::default();
        while self.received - self.transcribed >= self.bytes_per_second {
            let segment = self.transcribe(self.bytes_per_second);
            if self.interim {
                step.push(self.results(&segment, false, false));
            }
            step.push(self.results(&segment, true, false));
        }
        step
    }

    /// A final `Results` for whatever partial audio is left (empty if none).
    fn remainder(&mut self, from_finalize: bool) -> Value {
        let segment = self.transcribe(self.received - self.transcribed);
        self.results(&segment, true, from_finalize)
    }

    /// Marks `bytes` of audio as transcribed and makes up words for it.
    fn transcribe(&mut self, bytes: u64) -> Segment {
        let start = self.seconds(self.transcribed);
        let duration = self.seconds(bytes);
        self.transcribed += bytes;
        let words = timed_words(&mut self.words, start, duration);
        Segment {
            start,
            duration,
            words,
        }
    }

    /// A `Results` message for `segment`.
    fn results(&self, segment: &Segment, is_final: bool, from_finalize: bool) -> Value {
        let transcript: Vec<&str> = segment.words.iter().map(|(w, _, _)| w.word).collect();
        let confidence = segment
            .words
            .iter()
            .map(|(w, _, _)| w.confidence)
            .reduce(f64::min)
            .unwrap_or(0.0);
        let words: Vec<Value> = segment
            .words
            .iter()
            .map(|(w, start, end)| {
                json!({"word": w.word, "start": start, "end": end,
                       "confidence": w.confidence, "punctuated_word": w.punctuated})
            })
            .collect();
        json!({
            "type": "Results",
            "channel_index": [0, 1],
            "duration": millis(segment.duration),
            "start": millis(segment.start),
            "is_final": is_final,
            "speech_final": is_final,
            "from_finalize": from_finalize,
            "channel": {"alternatives": [{
                "transcript": transcript.join(" "),
                "confidence": confidence,
                "words": words,
            }]},
            "metadata": {
                "request_id": self.request_id.to_string(),
                "model_info": self.model_info(),
                "model_uuid": MODEL_UUID,
            },
        })
    }

    /// `model_info` as Deepgram reports it.
    fn model_info(&self) -> Value {
        model_info(&self.model)
    }

    /// The end-of-session summary.
    fn metadata(&self) -> Value {
        let sha256 = hex::encode(self.hasher.clone().finalize());
        json!({
            "type": "Metadata",
            "transaction_key": "deprecated",
            "request_id": self.request_id.to_string(),
            "sha256": sha256,
            "created": self.created,
            "duration": millis(self.seconds(self.received)),
            "channels": self.channels,
            "models": [MODEL_UUID],
            "model_info": {MODEL_UUID: self.model_info()},
        })
    }

    /// `CloseStream`: flush remaining audio, summarise, close normally.
    fn close_stream(&mut self) -> Step {
        let mut step = self.whole_seconds();
        if self.received > self.transcribed {
            step.push(self.remainder(false));
        }
        step.push(self.metadata());
        step.then_close(Closing::Status(close_code::NORMAL, ""))
    }
}

/// Words spread evenly over `duration` seconds from `start`, at the fake speaking rate, with absolute
/// `(start, end)` times in milliseconds precision.
pub(super) fn timed_words(
    words: &mut WordCycle,
    start: f64,
    duration: f64,
) -> Vec<(Word, f64, f64)> {
    let count = (duration * WORDS_PER_SECOND).round() as usize;
    let slot = if count == 0 {
        0.0
    } else {
        duration / count as f64
    };
    (0..count)
        .map(|i| {
            let begin = start + slot * (i as f64 + 0.1);
            let end = start + slot * (i as f64 + 0.9);
            (words.next_word(), millis(begin), millis(end))
        })
        .collect()
}

/// `model_info` of `model` as Deepgram reports it.
pub(super) fn model_info(model: &str) -> Value {
    json!({"name": format!("general-{model}"), "version": MODEL_VERSION, "arch": model})
}

impl Protocol for Listen {
    fn on_text(&mut self, text: &str) -> Step {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            debug!("text frame is not json");
            return Step::close(Closing::Status(close_code::POLICY, UNDECODABLE_REASON));
        };
        match message.get("type").and_then(Value::as_str) {
            Some("KeepAlive") => Step::default(),
            Some("Finalize") => {
                let mut step = self.whole_seconds();
                step.push(self.remainder(true));
                step
            }
            Some("CloseStream") => self.close_stream(),
            other => {
                debug!(message_type = ?other, "ignoring unknown message type");
                Step::default()
            }
        }
    }

    fn on_binary(&mut self, data: &[u8]) -> Step {
        // An empty binary frame is Deepgram's legacy end-of-stream signal.
        if data.is_empty() {
            return self.close_stream();
        }
        self.received += data.len() as u64;
        self.hasher.update(data);
        self.whole_seconds()
    }

    fn idle_timeout(&self) -> Option<Duration> {
        Some(self.idle_timeout)
    }

    fn on_idle(&mut self) -> Step {
        Step::json(self.metadata()).then_close(Closing::Status(close_code::ERROR, IDLE_REASON))
    }
}
