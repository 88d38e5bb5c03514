//! Cartesia text to speech on a relayed session: every generation request names its model
//! (`model_id`, checked against the session's model rules, refused for its `context_id` with a
//! Cartesia error message without being forwarded; the session goes on), its text
//! (`transcript`, metered in characters) and its `output_format` (the rate the audio that
//! follows is metered at); `chunk` messages carry the audio in base64 (`data`).
//!
//! The session's output format is the latest request's: contexts interleaving different formats
//! are metered at whichever was named last.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::bytes_per_sample;
use crate::provider::{ClientUsage, UpstreamUsage};
use crate::route::ModelRules;
use crate::usage::Rates;
use crate::usage::format::{MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};

/// Longest client `context_id` echoed in an error message.
const MAX_CONTEXT_ID: usize = 128;

/// A client message as far as voxrelay reads it: a generation request or a cancel.
#[derive(Debug, Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    context_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    model_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    transcript: Option<Cow<'a, str>>,
    #[serde(borrow)]
    output_format: Option<OutputFormat<'a>>,
}

/// `output_format`: `{container, encoding, sample_rate}`.
#[derive(Debug, Deserialize)]
struct OutputFormat<'a> {
    #[serde(borrow)]
    encoding: Option<Cow<'a, str>>,
    sample_rate: Option<f64>,
}

impl OutputFormat<'_> {
    /// Bytes per second of raw audio in a format Cartesia produces.
    fn bytes_per_second(&self) -> Option<f64> {
        let width = bytes_per_sample(self.encoding.as_deref()?)?;
        let rate = self.sample_rate?;
        let sane = (f64::from(MIN_SAMPLE_RATE)..=f64::from(MAX_SAMPLE_RATE)).contains(&rate);
        sane.then_some(width * rate)
    }
}

/// An upstream message as far as voxrelay reads it.
#[derive(Debug, Deserialize)]
struct Response<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<Cow<'a, str>>,
}

/// What a client message counts for, or the error message that refuses it.
pub(in crate::provider) fn client_message(
    msg: &Message,
    rules: &ModelRules,
) -> Result<ClientUsage, Message> {
    let Message::Text(text) = msg else {
        return Ok(ClientUsage::Nothing);
    };
    // the TTS WebSocket takes JSON objects only; anything voxrelay cannot read (not JSON, two
    // objects in one frame, a field repeated or of the wrong type) could be read otherwise
    // upstream, past the model rules
    let Ok(request) = serde_json::from_str::<Request<'_>>(text.as_str()) else {
        return Err(refusal(
            None,
            "invalid_request",
            "voxrelay could not read this message as a generation request: send one JSON \
             object, no field repeated or of the wrong type",
        ));
    };
    let context = request.context_id.as_deref();
    match (&request.model_id, &request.transcript) {
        (Some(model), _) => {
            rules
                .check(model)
                .map_err(|message| refusal(context, "model_not_allowed", &message))?;
        }
        (None, Some(_)) => {
            return Err(refusal(
                context,
                "invalid_request",
                "a generation request must name its model_id",
            ));
        }
        // a cancel or another control message
        (None, None) => return Ok(ClientUsage::Nothing),
    }
    let characters = request
        .transcript
        .as_deref()
        .map_or(0, |t| t.chars().count() as u64);
    let output = request
        .output_format
        .as_ref()
        .and_then(OutputFormat::bytes_per_second);
    Ok(match output {
        Some(rate) => ClientUsage::Speech(
            characters,
            Rates {
                input: None,
                output: Some(rate),
            },
        ),
        None => ClientUsage::Characters(characters),
    })
}

/// Cartesia's error message for a context: `{"type":"error","status_code","title","message",
/// "error_code","context_id","done"}`.
fn refusal(context: Option<&str>, code: &str, message: &str) -> Message {
    let mut error = json!({
        "type": "error", "status_code": 400, "title": "Bad Request", "message": message,
        "error_code": code, "done": true,
    });
    if let Some(id) = context.filter(|id| id.len() <= MAX_CONTEXT_ID) {
        error["context_id"] = json!(id);
    }
    Message::text(error.to_string())
}

/// `chunk` messages: their decoded audio bytes, at the session's output format.
pub(in crate::provider) fn upstream_usage(msg: &Message) -> UpstreamUsage {
    let Message::Text(text) = msg else {
        return UpstreamUsage::Nothing;
    };
    if !text.as_str().contains("\"chunk\"") {
        return UpstreamUsage::Nothing;
    }
    match serde_json::from_str::<Response<'_>>(text.as_str()) {
        Ok(Response {
            kind: Some(kind),
            data: Some(data),
        }) if kind == "chunk" => {
            UpstreamUsage::SessionAudio(base64_len(&data, matches!(data, Cow::Owned(_))))
        }
        _ => UpstreamUsage::Nothing,
    }
}

/// Bytes that base64 text decodes to, from its length (no decoding). Text that had JSON escapes
/// (`\/`, so it arrives unescaped and owned) counts only its alphabet characters.
fn base64_len(text: &str, escaped: bool) -> usize {
    let symbols = match escaped {
        false => text.trim_end_matches('=').len(),
        true => text
            .bytes()
            .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
            .count(),
    };
    symbols / 4 * 3 + [0, 0, 1, 2][symbols % 4]
}

#[cfg(test)]
mod tests;
