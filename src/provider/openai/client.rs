//! What OpenAI Realtime client events do on a relayed session: `input_audio_buffer.append`
//! carries input audio, and every `session.update` passes the session's model rules (its
//! `session.model` and input transcription model) or is refused with an OpenAI-shaped error
//! event, after which the session goes on (OpenAI's own errors are recoverable too).

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::usage::{Session, base64_len};
use crate::provider::ClientUsage;
use crate::route::ModelRules;

/// `error.code` of a refused model.
const MODEL_NOT_ALLOWED: &str = "model_not_allowed";
/// `error.code` of an event voxrelay must read but cannot.
const UNREADABLE: &str = "invalid_event";
/// The events whose content is metered or checked.
const READ_EVENTS: [&str; 2] = ["session.update", "input_audio_buffer.append"];
/// Longest client `event_id` echoed in an error event.
const MAX_EVENT_ID: usize = 64;

/// A client event: its type and the fields voxrelay reads.
#[derive(Debug, Deserialize)]
struct ClientEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    event_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    audio: Option<Cow<'a, str>>,
    #[serde(borrow)]
    session: Option<Session<'a>>,
}

/// Only the type, when the whole event is unreadable.
#[derive(Debug, Deserialize)]
struct TypeOnly<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

/// What a client message counts for, or the error event that refuses it.
pub(crate) fn client_message(msg: &Message, rules: &ModelRules) -> Result<ClientUsage, Message> {
    let Message::Text(text) = msg else {
        return Ok(ClientUsage::Nothing);
    };
    match serde_json::from_str::<ClientEvent<'_>>(text.as_str()) {
        Ok(event) => read(&event, rules),
        Err(_) => unreadable(text.as_str()),
    }
}

fn read(event: &ClientEvent<'_>, rules: &ModelRules) -> Result<ClientUsage, Message> {
    match event.kind.as_ref() {
        "input_audio_buffer.append" => Ok(event.audio.as_ref().map_or(ClientUsage::Nothing, |a| {
            ClientUsage::SessionAudio(base64_len(a, matches!(a, Cow::Owned(_))))
        })),
        "session.update" => {
            let Some(session) = &event.session else {
                return Ok(ClientUsage::Nothing);
            };
            let transcription = session
                .audio
                .as_ref()
                .and_then(|a| a.input.as_ref()?.transcription.as_ref()?.model.as_deref());
            // the transcription model is a helper beside a conversation: the credential's
            // grants narrow it only in a transcription session
            let models = [
                (session.model.as_deref(), "session.model", false),
                (
                    transcription,
                    "session.audio.input.transcription.model",
                    true,
                ),
            ];
            for (model, param, helper) in models {
                if let Some(model) = model {
                    let checked = if helper {
                        rules.check_helper(model)
                    } else {
                        rules.check(model)
                    };
                    checked.map_err(|message| {
                        refusal(
                            MODEL_NOT_ALLOWED,
                            &message,
                            Some(param),
                            event.event_id.as_deref(),
                        )
                    })?;
                }
            }
            Ok(ClientUsage::Formats(session.rates(false)))
        }
        _ => Ok(ClientUsage::Nothing),
    }
}

/// An event that is not what voxrelay reads it as. Not JSON at all, or another type: passed
/// on (the upstream answers it as it would). JSON voxrelay cannot read as a session update or
/// an append (a repeated field, a field of the wrong type, no readable type) is refused, since
/// the upstream might read it otherwise and the rules or the meter would be bypassed.
fn unreadable(text: &str) -> Result<ClientUsage, Message> {
    if serde_json::from_str::<IgnoredAny>(text).is_err() {
        return Ok(ClientUsage::Nothing);
    }
    match serde_json::from_str::<TypeOnly<'_>>(text) {
        Ok(t) if !READ_EVENTS.contains(&t.kind.as_ref()) => Ok(ClientUsage::Nothing),
        _ => Err(refusal(
            UNREADABLE,
            "voxrelay could not read this event: a field is repeated or of the wrong type",
            None,
            None,
        )),
    }
}

/// OpenAI's error event: `{"type":"error","event_id","error":{"type","code","message","param",
/// "event_id"}}`, `error.event_id` naming the client event refused.
fn refusal(code: &str, message: &str, param: Option<&str>, client_event: Option<&str>) -> Message {
    let client_event = client_event.filter(|id| id.len() <= MAX_EVENT_ID);
    let event = json!({
        "type": "error",
        "event_id": format!("event_{}", uuid::Uuid::new_v4().simple()),
        "error": {
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event,
        },
    });
    Message::text(event.to_string())
}

#[cfg(test)]
mod tests;
