//! Audio of the simulated Realtime API: formats, base64 input, a crude energy VAD, silent output chunks.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// Bytes per second of `audio/pcm` (16-bit mono at 24 kHz, the only PCM rate the GA API takes).
const PCM_BYTES_PER_SECOND: u64 = 48_000;
/// Bytes per second of G.711 (`audio/pcmu`, `audio/pcma`: 8 kHz, one byte per sample).
const G711_BYTES_PER_SECOND: u64 = 8_000;
/// Length of one output audio delta.
const DELTA_MILLIS: u64 = 100;
/// Peak sample value that `threshold = 1.0` stands for in the VAD.
const FULL_SCALE_THRESHOLD: f64 = 3276.8;
/// Samples per VAD frame (10 ms at 24 kHz).
const VAD_FRAME: usize = 240;

/// An audio format a session can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// `audio/pcm`, 24 kHz, 16-bit little-endian mono.
    Pcm,
    /// `audio/pcmu` (G.711 µ-law).
    Pcmu,
    /// `audio/pcma` (G.711 A-law).
    Pcma,
}

impl Format {
    /// The format a `{"type": …, "rate": …}` object names, if it is a valid one.
    pub(super) fn parse(value: &Value) -> Option<Self> {
        let format = match value.get("type").and_then(Value::as_str)? {
            "audio/pcm" => Self::Pcm,
            "audio/pcmu" => Self::Pcmu,
            "audio/pcma" => Self::Pcma,
            _ => return None,
        };
        match value.get("rate") {
            None | Some(Value::Null) => Some(format),
            Some(rate) if format == Self::Pcm && rate.as_f64() == Some(24_000.0) => Some(format),
            Some(_) => None,
        }
    }

    /// Bytes per second of audio in this format.
    pub(super) fn bytes_per_second(self) -> u64 {
        match self {
            Self::Pcm => PCM_BYTES_PER_SECOND,
            Self::Pcmu | Self::Pcma => G711_BYTES_PER_SECOND,
        }
    }

    /// Milliseconds of audio in `bytes`.
    pub(super) fn millis(self, bytes: u64) -> u64 {
        bytes * 1000 / self.bytes_per_second()
    }

    /// The byte that encodes silence.
    fn silence(self) -> u8 {
        match self {
            Self::Pcm => 0x00,
            Self::Pcmu => 0xFF,
            Self::Pcma => 0xD5,
        }
    }

    /// Base64 deltas of silence totalling `millis` of audio, [`DELTA_MILLIS`] each (the last one shorter).
    pub(super) fn silent_deltas(self, millis: u64) -> Vec<String> {
        let total = millis * self.bytes_per_second() / 1000;
        let per_delta = DELTA_MILLIS * self.bytes_per_second() / 1000;
        let full = STANDARD.encode(vec![self.silence(); per_delta as usize]);
        let mut deltas = vec![full; (total / per_delta) as usize];
        let rest = total % per_delta;
        if rest > 0 {
            deltas.push(STANDARD.encode(vec![self.silence(); rest as usize]));
        }
        deltas
    }
}

/// Decodes the base64 `audio` of `input_audio_buffer.append`.
pub(super) fn decode(audio: &str) -> Option<Vec<u8>> {
    STANDARD.decode(audio).ok()
}

/// Whether a 16-bit PCM frame's peak is above `threshold` (0..1, as in `turn_detection.threshold`).
fn loud(frame: &[u8], threshold: f64) -> bool {
    let limit = threshold.clamp(0.0, 1.0) * FULL_SCALE_THRESHOLD;
    frame
        .chunks_exact(2)
        .map(|pair| f64::from(i16::from_le_bytes([pair[0], pair[1]])).abs())
        .any(|sample| sample > limit)
}

/// A VAD transition seen in appended audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transition {
    /// Speech began at this offset of the session's input audio (ms).
    Started(u64),
    /// Speech ended at this offset (ms), after the configured silence.
    Stopped(u64),
}

/// Server VAD state over the session's input audio (PCM only).
#[derive(Debug, Default)]
pub(super) struct Vad {
    /// Whether speech is in progress.
    speaking: bool,
    /// Milliseconds of silence since the last loud frame while speaking.
    quiet_ms: u64,
}

impl Vad {
    /// Feeds appended PCM starting at `offset_ms`; returns the transitions it caused, in order.
    pub(super) fn feed(
        &mut self,
        pcm: &[u8],
        offset_ms: u64,
        threshold: f64,
        silence_ms: u64,
    ) -> Vec<Transition> {
        let mut seen = Vec::new();
        let mut at = offset_ms;
        for frame in pcm.chunks(VAD_FRAME * 2) {
            let frame_ms = Format::Pcm.millis(frame.len() as u64);
            if loud(frame, threshold) {
                if !self.speaking {
                    self.speaking = true;
                    seen.push(Transition::Started(at));
                }
                self.quiet_ms = 0;
            } else if self.speaking {
                self.quiet_ms += frame_ms;
                if self.quiet_ms >= silence_ms {
                    self.speaking = false;
                    self.quiet_ms = 0;
                    seen.push(Transition::Stopped(at + frame_ms));
                }
            }
            at += frame_ms;
        }
        seen
    }

    /// Forgets any speech in progress (after a manual commit or clear).
    pub(super) fn reset(&mut self) {
        *self = Self::default();
    }
}
