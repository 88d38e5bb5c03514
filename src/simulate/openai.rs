//! Simulated OpenAI Realtime API (GA): `/v1/realtime?model=…` conversations and `?intent=transcription` sessions.
//!
//! The handshake takes the credential the official SDKs send (`Authorization: Bearer <k>` from servers,
//! subprotocols `realtime, openai-insecure-api-key.<k>` from browsers), answers the `realtime` subprotocol
//! and never the credential item, and refuses bad credentials with OpenAI's error body. A client that opts
//! into the retired beta shape (`OpenAI-Beta: realtime=v1` or subprotocol `openai-beta.realtime-v1`) is
//! upgraded, then told `beta_api_shape_disabled` and closed with 4000, as the GA API does.

mod audio;
mod config;
mod events;
mod realtime;
mod response;
mod turns;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use serde_json::json;
use uuid::Uuid;

use super::Shared;
use super::gate::{self, Refuse, bearer_credentials, is_key};
use super::wire::Params;

pub(super) use self::realtime::Realtime;

/// Header OpenAI answers every request with.
const REQUEST_ID_HEADER: &str = "x-request-id";
/// Subprotocol prefix carrying a browser credential.
const KEY_PROTOCOL_PREFIX: &str = "openai-insecure-api-key.";
/// The subprotocol a GA client offers and the server answers.
const REALTIME_PROTOCOL: &str = "realtime";
/// Subprotocol that opts into the retired beta shape.
const BETA_PROTOCOL: &str = "openai-beta.realtime-v1";
/// Header that opts into the retired beta shape.
const BETA_HEADER: &str = "openai-beta";
/// Model of a conversation whose URL names none.
const DEFAULT_MODEL: &str = "gpt-realtime";

/// Whether `uri` is an OpenAI Realtime path (any prefix before `/v1/realtime`).
pub(super) fn serves(uri: &Uri) -> bool {
    uri.path().trim_end_matches('/').ends_with("/v1/realtime")
}

/// What the URL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// A speech-to-speech conversation with this model.
    Conversation(String),
    /// A transcription-only session (`intent=transcription`).
    Transcription,
}

/// A handshake refused before the upgrade, in OpenAI's error shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refusal {
    /// HTTP status.
    status: StatusCode,
    /// `error.code` (`null` when absent).
    code: Option<&'static str>,
    /// `error.message`.
    message: &'static str,
    /// `error.param` (`null` when absent).
    param: Option<&'static str>,
}

impl Refusal {
    /// No credential at all while the simulator expects one.
    const MISSING_KEY: Self = Self {
        status: StatusCode::UNAUTHORIZED,
        code: None,
        message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        param: None,
    };
    /// A credential that is not the configured key.
    const WRONG_KEY: Self = Self {
        status: StatusCode::UNAUTHORIZED,
        code: Some("invalid_api_key"),
        message: "Incorrect API key provided.",
        param: None,
    };
    /// Not exactly one of `model`, `intent=transcription` (and `call_id`, which is not simulated).
    const BAD_TARGET: Self = Self {
        status: StatusCode::BAD_REQUEST,
        code: Some("invalid_value"),
        message: "Pass exactly one of `model` or `intent=transcription`; `call_id` sessions are not simulated.",
        param: Some("intent"),
    };
    /// The right path, but not a WebSocket upgrade request.
    const NOT_UPGRADE: Self = Self {
        status: StatusCode::UPGRADE_REQUIRED,
        code: None,
        message: "Expected a WebSocket upgrade request.",
        param: None,
    };
}

impl Refuse for Refusal {
    fn status(&self) -> StatusCode {
        self.status
    }

    /// `{"error":{"message","type","param","code"}}`.
    fn into_response(self, _request_id: Uuid) -> Response {
        let body = json!({"error": {
            "message": self.message,
            "type": "invalid_request_error",
            "param": self.param,
            "code": self.code,
        }});
        gate::json_response(self.status, &body)
    }
}

/// Answers one `/v1/realtime` request: refuse it, or upgrade into a simulated session.
pub(super) fn handle(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let request_id = Uuid::new_v4();
    let accepted = accept(shared, uri, headers, upgrade, request_id);
    let request_id_header = (REQUEST_ID_HEADER, format!("req_{}", request_id.simple()));
    gate::answer("openai", request_id, accepted, Some(request_id_header))
}

/// Checks target, credential and upgrade, then starts the session.
fn accept(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    request_id: Uuid,
) -> Result<Response, Refusal> {
    let target = target(&Params::parse(uri.query()))?;
    let offered = crate::auth::offered_protocols(headers);
    authorize(headers, &offered, shared.config.api_key.as_deref())?;
    let mut upgrade = upgrade.map_err(|_| Refusal::NOT_UPGRADE)?;
    if offered.contains(&REALTIME_PROTOCOL) {
        upgrade.set_selected_protocol(HeaderValue::from_static(REALTIME_PROTOCOL));
    }
    let protocol = Realtime::new(target, beta_requested(headers, &offered));
    Ok(super::start(
        shared, upgrade, "realtime", request_id, protocol,
    ))
}

/// Reads `model` / `intent` / `call_id` from the query.
pub(super) fn target(params: &Params) -> Result<Target, Refusal> {
    if params.get("call_id").is_some() {
        return Err(Refusal::BAD_TARGET);
    }
    match (params.get("model"), params.get("intent")) {
        (Some(""), _) | (Some(_), Some(_)) => Err(Refusal::BAD_TARGET),
        (None, Some("transcription")) => Ok(Target::Transcription),
        (None, Some(_)) => Err(Refusal::BAD_TARGET),
        (Some(model), None) => Ok(Target::Conversation(model.to_owned())),
        (None, None) => Ok(Target::Conversation(DEFAULT_MODEL.to_owned())),
    }
}

/// Whether the client opted into the retired beta shape (header or subprotocol).
fn beta_requested(headers: &HeaderMap, offered: &[&str]) -> bool {
    headers.contains_key(BETA_HEADER) || offered.contains(&BETA_PROTOCOL)
}

/// Accepts anything without a configured key; otherwise a Bearer header or key subprotocol must match.
fn authorize(headers: &HeaderMap, offered: &[&str], key: Option<&str>) -> Result<(), Refusal> {
    let Some(key) = key else {
        return Ok(());
    };
    let bearer = bearer_credentials(headers);
    let subprotocol = offered
        .iter()
        .filter_map(|item| item.strip_prefix(KEY_PROTOCOL_PREFIX));
    let mut any = false;
    for credential in bearer.chain(subprotocol) {
        any = true;
        if is_key(credential, key) {
            return Ok(());
        }
    }
    Err(if any {
        Refusal::WRONG_KEY
    } else {
        Refusal::MISSING_KEY
    })
}
