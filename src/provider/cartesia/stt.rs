//! Cartesia speech to text: binary frames are audio at the handshake's `encoding` and
//! `sample_rate`; text frames (`finalize`, `close`, turn configuration) are control.

use tokio_tungstenite::tungstenite::Message;

use super::bytes_per_sample;
use crate::config::RouteKind;
use crate::provider::ClientUsage;
use crate::rewrite::{ClientQuery, QueryPolicy, RewriteError};
use crate::usage::format::AudioFormat;

/// What an unknown `encoding` must be instead.
const ENCODINGS: &str =
    "must be one of pcm_s16le, pcm_s32le, pcm_f16le, pcm_f32le, pcm_mulaw, pcm_alaw";

/// Bytes per second of a speech-to-text session's audio: `encoding` and `sample_rate` (each at
/// most once, checked); `None` (timed by the clock) when either is missing. Text-to-speech
/// sessions name their formats per request.
pub(in crate::provider) fn audio_rate(
    kind: RouteKind,
    query: &ClientQuery<'_>,
    policy: &QueryPolicy,
) -> Result<Option<f64>, RewriteError> {
    if kind == RouteKind::CartesiaTts {
        return Ok(None);
    }
    let format = AudioFormat::read(query, policy)?;
    let width = match format.encoding.as_deref() {
        Some(encoding) => Some(
            bytes_per_sample(encoding).ok_or(RewriteError::InvalidParam {
                name: "encoding",
                expected: ENCODINGS,
            })?,
        ),
        None => None,
    };
    // mono: Cartesia takes no `channels`
    Ok(width
        .zip(format.sample_rate)
        .map(|(width, rate)| width * f64::from(rate)))
}

/// Binary frames are audio; text frames are commands.
#[inline]
pub(in crate::provider) fn client_usage(msg: &Message) -> ClientUsage {
    match msg {
        Message::Binary(b) => binary_usage(b.len()),
        _ => ClientUsage::Nothing,
    }
}

/// A binary client message of `len` bytes: audio.
#[inline]
pub(in crate::provider) fn binary_usage(len: usize) -> ClientUsage {
    crate::provider::audio_usage(len)
}
