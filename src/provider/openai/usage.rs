//! Metering OpenAI Realtime from its events: audio in base64 at the session's formats, the
//! formats from `session.*`, tokens from `response.done` and input transcription from
//! `conversation.item.input_audio_transcription.completed`. Unreadable events count as nothing.

use std::borrow::Cow;

use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;

use crate::provider::UpstreamUsage;
pub(super) use crate::provider::common::base64_len;
use crate::usage::format::{MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};
use crate::usage::{Rates, Tokens};

/// `audio/pcm`'s only rate (Hz); 16-bit mono.
const PCM_RATE: f64 = 24_000.0;
/// Bytes per second of G.711 (`audio/pcmu`, `audio/pcma`): 8 kHz, one byte a sample.
const G711_BYTES_PER_SECOND: f64 = 8_000.0;
/// Most tokens one field may report: more is not believed.
const MAX_TOKENS: f64 = 1e12;

/// `{type, rate}`, as in `session.audio.{input,output}.format`.
#[derive(Debug, Deserialize)]
pub(super) struct Format<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    rate: Option<f64>,
}

impl Format<'_> {
    /// Bytes per second. A client's format counts only when OpenAI would take it (PCM at
    /// 24 kHz), so no client can steer its own metering; the upstream's any sane PCM rate.
    pub(super) fn bytes_per_second(&self, from_upstream: bool) -> Option<f64> {
        match self.kind.as_deref()? {
            "audio/pcm" => {
                let rate = self.rate.unwrap_or(PCM_RATE);
                let sane = if from_upstream {
                    (f64::from(MIN_SAMPLE_RATE)..=f64::from(MAX_SAMPLE_RATE)).contains(&rate)
                } else {
                    rate == PCM_RATE
                };
                sane.then_some(rate * 2.0)
            }
            "audio/pcmu" | "audio/pcma" => Some(G711_BYTES_PER_SECOND),
            _ => None,
        }
    }
}

/// `session.audio.input`.
#[derive(Debug, Deserialize)]
pub(super) struct InputAudio<'a> {
    #[serde(borrow)]
    pub(super) format: Option<Format<'a>>,
    #[serde(borrow)]
    pub(super) transcription: Option<Transcription<'a>>,
}

/// `session.audio.input.transcription`.
#[derive(Debug, Deserialize)]
pub(super) struct Transcription<'a> {
    #[serde(borrow)]
    pub(super) model: Option<Cow<'a, str>>,
}

/// `session.audio.output`.
#[derive(Debug, Deserialize)]
pub(super) struct OutputAudio<'a> {
    #[serde(borrow)]
    pub(super) format: Option<Format<'a>>,
}

/// `session.audio`.
#[derive(Debug, Deserialize)]
pub(super) struct Audio<'a> {
    #[serde(borrow)]
    pub(super) input: Option<InputAudio<'a>>,
    #[serde(borrow)]
    pub(super) output: Option<OutputAudio<'a>>,
}

/// The parts of a session configuration voxrelay reads (`session.update`, `session.created`,
/// `session.updated`).
#[derive(Debug, Deserialize)]
pub(super) struct Session<'a> {
    #[serde(borrow)]
    pub(super) model: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) audio: Option<Audio<'a>>,
}

impl Session<'_> {
    /// The formats it sets, as byte rates.
    pub(super) fn rates(&self, from_upstream: bool) -> Rates {
        let audio = self.audio.as_ref();
        let rate = |f: Option<&Format<'_>>| f.and_then(|f| f.bytes_per_second(from_upstream));
        Rates {
            input: rate(audio.and_then(|a| a.input.as_ref()?.format.as_ref())),
            output: rate(audio.and_then(|a| a.output.as_ref()?.format.as_ref())),
        }
    }
}

/// A token count as reported: a non-negative number (a float is floored), else 0.
fn count(n: Option<f64>) -> u64 {
    n.filter(|n| n.is_finite() && *n > 0.0)
        .map_or(0, |n| n.min(MAX_TOKENS) as u64)
}

#[derive(Debug, Default, Deserialize)]
struct Modalities {
    text_tokens: Option<f64>,
    audio_tokens: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
struct InputDetails {
    text_tokens: Option<f64>,
    audio_tokens: Option<f64>,
    image_tokens: Option<f64>,
    cached_tokens: Option<f64>,
    cached_tokens_details: Option<Modalities>,
}

/// `response.usage`; cached tokens are a subset of the input tokens.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ResponseUsage {
    input_tokens: Option<f64>,
    output_tokens: Option<f64>,
    input_token_details: Option<InputDetails>,
    output_token_details: Option<Modalities>,
}

impl ResponseUsage {
    /// As disjoint kinds: the cached part of each input modality apart from the rest. Without a
    /// modality split, input is text (less image and audio) and output is text (less audio);
    /// without a split of cached tokens, they are text first. Image tokens are not metered.
    pub(super) fn tokens(&self) -> Tokens {
        let d = self.input_token_details.as_ref();
        let audio = count(d.and_then(|d| d.audio_tokens));
        let image = count(d.and_then(|d| d.image_tokens));
        let text = d.and_then(|d| d.text_tokens).map_or_else(
            || count(self.input_tokens).saturating_sub(audio.saturating_add(image)),
            |t| count(Some(t)),
        );
        let (cached_text, cached_audio) = match d.and_then(|d| d.cached_tokens_details.as_ref()) {
            Some(c) => (
                count(c.text_tokens).min(text),
                count(c.audio_tokens).min(audio),
            ),
            None => {
                let cached = count(d.and_then(|d| d.cached_tokens));
                let text_part = cached.min(text);
                (text_part, (cached - text_part).min(audio))
            }
        };
        let o = self.output_token_details.as_ref();
        let output_audio = count(o.and_then(|o| o.audio_tokens));
        let output_text = o.and_then(|o| o.text_tokens).map_or_else(
            || count(self.output_tokens).saturating_sub(output_audio),
            |t| count(Some(t)),
        );
        Tokens {
            input_text: text - cached_text,
            input_text_cached: cached_text,
            input_audio: audio - cached_audio,
            input_audio_cached: cached_audio,
            output_text,
            output_audio,
            ..Tokens::default()
        }
    }
}

/// `usage` of a transcription `completed` event: `{type:"tokens",…}` or
/// `{type:"duration",seconds}`.
#[derive(Debug, Deserialize)]
pub(super) struct TranscriptionUsage<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    input_tokens: Option<f64>,
    output_tokens: Option<f64>,
    seconds: Option<f64>,
}

impl TranscriptionUsage<'_> {
    /// Tokens, or seconds for duration billing; nothing for a shape it does not know.
    pub(super) fn usage(&self) -> UpstreamUsage {
        match (self.kind.as_deref(), self.seconds) {
            (Some("duration") | None, Some(seconds)) => {
                UpstreamUsage::TranscriptionSeconds(seconds)
            }
            (Some("tokens") | None, _)
                if self.input_tokens.is_some() || self.output_tokens.is_some() =>
            {
                UpstreamUsage::Tokens(Tokens {
                    transcription_input: count(self.input_tokens),
                    transcription_output: count(self.output_tokens),
                    ..Tokens::default()
                })
            }
            _ => UpstreamUsage::Nothing,
        }
    }
}

/// `response` of `response.*` events.
#[derive(Debug, Deserialize)]
struct Response {
    usage: Option<ResponseUsage>,
}

/// A server event: its type and the fields any metered event has.
#[derive(Debug, Deserialize)]
struct ServerEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    delta: Option<Cow<'a, str>>,
    #[serde(borrow)]
    session: Option<Session<'a>>,
    response: Option<Response>,
    #[serde(borrow)]
    usage: Option<TranscriptionUsage<'a>>,
}

/// What an upstream message counts for.
pub(crate) fn upstream_usage(msg: &Message) -> UpstreamUsage {
    let Message::Text(text) = msg else {
        return UpstreamUsage::Nothing;
    };
    let Ok(event) = serde_json::from_str::<ServerEvent<'_>>(text.as_str()) else {
        return UpstreamUsage::Nothing;
    };
    let ServerEvent {
        kind,
        delta,
        session,
        response,
        usage,
    } = event;
    match kind.as_ref() {
        "response.output_audio.delta" => delta.map_or(UpstreamUsage::Nothing, |d| {
            UpstreamUsage::SessionAudio(base64_len(&d, matches!(d, Cow::Owned(_))))
        }),
        "session.created" | "session.updated" => session.map_or(UpstreamUsage::Nothing, |s| {
            UpstreamUsage::Formats(s.rates(true))
        }),
        "response.done" => response
            .and_then(|r| r.usage)
            .map_or(UpstreamUsage::Nothing, |u| {
                UpstreamUsage::Tokens(u.tokens())
            }),
        "conversation.item.input_audio_transcription.completed" => {
            usage.map_or(UpstreamUsage::Nothing, |u| u.usage())
        }
        _ => UpstreamUsage::Nothing,
    }
}

#[cfg(test)]
mod tests;
