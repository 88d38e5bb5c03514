//! Metering ElevenLabs sessions from their JSON messages: text-to-speech input characters
//! (`text`, less the single-space start/keep-alive and the empty end), its output audio (base64
//! `audio`), and Scribe's input audio (base64 `audio_base_64` of `input_audio_chunk`). Base64
//! is measured, never decoded; unreadable messages count as nothing.

use std::borrow::Cow;

use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;

use crate::config::RouteKind;
pub(super) use crate::provider::common::base64_len;
use crate::provider::{ClientUsage, UpstreamUsage};

/// A text-to-speech client message: its `text`.
#[derive(Debug, Deserialize)]
struct TextInput<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
}

/// A text-to-speech server message: its `audio` (null in the final message).
#[derive(Debug, Deserialize)]
struct AudioOutput<'a> {
    #[serde(borrow)]
    audio: Option<Cow<'a, str>>,
}

/// A Scribe client message: its type and audio.
#[derive(Debug, Deserialize)]
struct AudioChunk<'a> {
    #[serde(borrow)]
    message_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    audio_base_64: Option<Cow<'a, str>>,
}

/// What a client message counts for on an `elevenlabs_*` route.
#[inline]
pub(crate) fn client_usage(kind: RouteKind, msg: &Message) -> ClientUsage {
    let Message::Text(text) = msg else {
        return ClientUsage::Nothing;
    };
    let text = text.as_str();
    match kind {
        RouteKind::ElevenLabsStt => {
            if !text.contains("\"audio_base_64\"") {
                return ClientUsage::Nothing;
            }
            match serde_json::from_str::<AudioChunk<'_>>(text) {
                Ok(AudioChunk {
                    message_type: Some(t),
                    audio_base_64: Some(audio),
                }) if t == "input_audio_chunk" && !audio.is_empty() => {
                    ClientUsage::SessionAudio(base64_len(&audio, matches!(audio, Cow::Owned(_))))
                }
                _ => ClientUsage::Nothing,
            }
        }
        _ => {
            if !text.contains("\"text\"") {
                return ClientUsage::Nothing;
            }
            match serde_json::from_str::<TextInput<'_>>(text) {
                Ok(TextInput { text: Some(t) }) => match spoken_chars(&t) {
                    0 => ClientUsage::Nothing,
                    n => ClientUsage::Characters(n),
                },
                _ => ClientUsage::Nothing,
            }
        }
    }
}

/// Characters of a `text` field that count: none for the single space (start of stream,
/// keep-alive) or the empty end of stream.
pub(super) fn spoken_chars(text: &str) -> u64 {
    match text {
        "" | " " => 0,
        t => t.chars().count() as u64,
    }
}

/// What an upstream message counts for: text-to-speech audio (decoded bytes, at the session's
/// output format).
#[inline]
pub(crate) fn upstream_usage(kind: RouteKind, msg: &Message) -> UpstreamUsage {
    let Message::Text(text) = msg else {
        return UpstreamUsage::Nothing;
    };
    let text = text.as_str();
    if kind == RouteKind::ElevenLabsStt || !text.contains("\"audio\"") {
        return UpstreamUsage::Nothing;
    }
    match serde_json::from_str::<AudioOutput<'_>>(text) {
        Ok(AudioOutput { audio: Some(audio) }) if !audio.is_empty() => {
            UpstreamUsage::SessionAudio(base64_len(&audio, matches!(audio, Cow::Owned(_))))
        }
        _ => UpstreamUsage::Nothing,
    }
}
