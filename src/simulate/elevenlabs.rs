//! Simulated ElevenLabs WebSocket APIs: TTS `/v1/text-to-speech/{voice_id}/stream-input` and
//! `/multi-stream-input`, and Scribe realtime STT `/v1/speech-to-text/realtime`, under any path prefix.
//!
//! With a configured key the handshake must carry `xi-api-key: <key>`; anything else (including a
//! credential in the query: `token`, `single_use_token`, `xi-api-key`, `authorization`) is refused
//! with 401 and ElevenLabs' `{"detail":{"status","message"}}` body. A keyed simulator also refuses
//! client messages that carry a credential field (`xi-api-key`, `xi_api_key`, `authorization`,
//! `single_use_token`, `singleUseToken`) with an error and close 1008 "credential field in message":
//! that proves a relay in front stripped them. Without a key every credential is accepted anywhere.

mod format;
mod scribe;
mod tts;

#[cfg(test)]
mod tests;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Shared;
use super::gate::{self, Refuse, is_key};
use super::wire::Params;

/// Header ElevenLabs takes the API key in.
const KEY_HEADER: &str = "xi-api-key";
/// Header ElevenLabs answers requests with.
const REQUEST_ID_HEADER: &str = "request-id";
/// Query parameters that carry a credential; a keyed simulator refuses them (a relay must strip them).
const QUERY_CREDENTIALS: [&str; 4] = ["token", "single_use_token", "xi-api-key", "authorization"];
/// Top-level message fields that carry a credential.
const MESSAGE_CREDENTIALS: [&str; 5] = [
    "xi-api-key",
    "xi_api_key",
    "authorization",
    "single_use_token",
    "singleUseToken",
];
/// Close reason (and error text) when a keyed simulator receives a credential field.
pub(super) const CREDENTIAL_FIELD: &str = "credential field in message";

/// Which ElevenLabs endpoint a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// `…/v1/text-to-speech/{voice_id}/stream-input`.
    Tts,
    /// `…/v1/text-to-speech/{voice_id}/multi-stream-input`.
    MultiTts,
    /// `…/v1/speech-to-text/realtime`.
    Scribe,
}

/// The endpoint `path` names, if any (any prefix, optional trailing slash).
fn endpoint(path: &str) -> Option<Endpoint> {
    let path = path.trim_end_matches('/');
    if path.ends_with("/v1/speech-to-text/realtime") {
        return Some(Endpoint::Scribe);
    }
    let (head, last) = path.rsplit_once('/')?;
    let (head, voice) = head.rsplit_once('/')?;
    if voice.is_empty() || !head.ends_with("/v1/text-to-speech") {
        return None;
    }
    match last {
        "stream-input" => Some(Endpoint::Tts),
        "multi-stream-input" => Some(Endpoint::MultiTts),
        _ => None,
    }
}

/// Whether `uri` is an ElevenLabs WebSocket path.
pub(super) fn serves(uri: &Uri) -> bool {
    endpoint(uri.path()).is_some()
}

/// A handshake refused before the upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Refusal {
    /// HTTP status.
    status: StatusCode,
    /// `detail.status`.
    code: &'static str,
    /// `detail.message`.
    message: &'static str,
}

impl Refusal {
    /// Missing or wrong key, or a credential in the query of a keyed simulator.
    const UNAUTHORIZED: Self = Self {
        status: StatusCode::UNAUTHORIZED,
        code: "invalid_api_key",
        message: "Invalid API key",
    };
    /// The right path, but not a WebSocket upgrade request.
    const NOT_UPGRADE: Self = Self {
        status: StatusCode::UPGRADE_REQUIRED,
        code: "upgrade_required",
        message: "Expected a WebSocket upgrade request.",
    };
}

impl Refuse for Refusal {
    fn status(&self) -> StatusCode {
        self.status
    }

    /// `{"detail":{"status","message"}}`, ElevenLabs' HTTP error shape.
    fn into_response(self, _request_id: Uuid) -> Response {
        let body = json!({"detail": {"status": self.code, "message": self.message}});
        gate::json_response(self.status, &body)
    }
}

/// Answers one ElevenLabs request: refuse it, or upgrade into a simulated session.
pub(super) fn handle(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let request_id = Uuid::new_v4();
    let accepted = accept(shared, uri, headers, upgrade, request_id);
    let request_id_header = (REQUEST_ID_HEADER, request_id.simple().to_string());
    gate::answer("elevenlabs", request_id, accepted, Some(request_id_header))
}

/// Checks credential and upgrade, then starts the session of the endpoint.
fn accept(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    request_id: Uuid,
) -> Result<Response, Refusal> {
    let Some(endpoint) = endpoint(uri.path()) else {
        return Err(Refusal::NOT_UPGRADE);
    };
    let params = Params::parse(uri.query());
    let keyed = shared.config.api_key.is_some();
    authorize(headers, &params, shared.config.api_key.as_deref())?;
    let upgrade = upgrade.map_err(|_| Refusal::NOT_UPGRADE)?;
    let response = match endpoint {
        Endpoint::Tts | Endpoint::MultiTts => {
            let multi = endpoint == Endpoint::MultiTts;
            let protocol = tts::Tts::new(&params, multi, keyed);
            let kind = if multi {
                "elevenlabs-multi-tts"
            } else {
                "elevenlabs-tts"
            };
            super::start(shared, upgrade, kind, request_id, protocol)
        }
        Endpoint::Scribe => {
            let protocol = scribe::Scribe::new(&params, keyed);
            super::start(shared, upgrade, "elevenlabs-scribe", request_id, protocol)
        }
    };
    Ok(response)
}

/// Accepts anything without a configured key; otherwise `xi-api-key` must match and the query
/// must carry no credential.
fn authorize(headers: &HeaderMap, params: &Params, key: Option<&str>) -> Result<(), Refusal> {
    let Some(key) = key else {
        return Ok(());
    };
    if QUERY_CREDENTIALS
        .iter()
        .any(|name| params.get(name).is_some())
    {
        return Err(Refusal::UNAUTHORIZED);
    }
    let matches = headers
        .get_all(KEY_HEADER)
        .iter()
        .any(|value| is_key(value.as_bytes().trim_ascii(), key));
    if matches {
        Ok(())
    } else {
        Err(Refusal::UNAUTHORIZED)
    }
}

/// Whether a parsed client message carries a top-level credential field.
pub(super) fn carries_credential(message: &Value) -> bool {
    message.as_object().is_some_and(|fields| {
        MESSAGE_CREDENTIALS
            .iter()
            .any(|name| fields.contains_key(*name))
    })
}
