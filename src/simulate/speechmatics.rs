//! Simulated Speechmatics real-time API (`/v2` under any prefix): `StartRecognition`, binary audio acknowledged
//! by `AudioAdded`, partial and final transcripts from a fixed sentence, `EndOfStream` → `EndOfTranscript`.
//!
//! Speechmatics authenticates servers with `Authorization: Bearer <key>` and browsers with a temporary key in
//! `?jwt=`. With a configured key the simulator plays an upstream behind a relay: only the Bearer header is
//! accepted, and a `jwt` query parameter is refused (a relay must strip the browser credential). Without a
//! key anything is accepted, `?jwt=` included, so the official clients can talk to it directly.

mod recognition;
mod transcript;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::json;
use uuid::Uuid;

use super::Shared;
use super::gate::{self, Refuse, bearer_credentials, is_key};
use super::wire::Params;

pub(super) use self::recognition::Recognition;

/// Query parameter carrying a browser's temporary key.
const JWT_PARAM: &str = "jwt";

/// Whether `uri` is a Speechmatics real-time path: exactly `/v2` or `/v2/` at the end, after any prefix
/// (so Deepgram's `/v2/listen` stays Deepgram's).
pub(super) fn serves(uri: &Uri) -> bool {
    let path = uri.path();
    let path = path.strip_suffix('/').unwrap_or(path);
    path == "/v2" || path.ends_with("/v2")
}

/// A handshake refused before the upgrade, answered with a JSON body in Speechmatics' `Error` shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refusal {
    /// HTTP status.
    status: StatusCode,
    /// `type` of the error body.
    kind: &'static str,
    /// `reason` of the error body.
    reason: &'static str,
}

impl Refusal {
    /// No Bearer credential, or not the configured key.
    const NOT_AUTHORISED: Self = Self {
        status: StatusCode::UNAUTHORIZED,
        kind: "not_authorised",
        reason: "Missing or invalid credentials: send Authorization: Bearer <api key>.",
    };
    /// A browser credential in the query while the simulator plays an upstream behind a relay.
    const JWT_NOT_STRIPPED: Self = Self {
        status: StatusCode::UNAUTHORIZED,
        kind: "not_authorised",
        reason: "A `jwt` query parameter is not accepted here; a relay must remove it and send Authorization: Bearer <api key>.",
    };
    /// The right path, but not a WebSocket upgrade request.
    const NOT_UPGRADE: Self = Self {
        status: StatusCode::UPGRADE_REQUIRED,
        kind: "invalid_message",
        reason: "Expected a WebSocket upgrade request.",
    };
}

impl Refuse for Refusal {
    fn status(&self) -> StatusCode {
        self.status
    }

    /// `{"message":"Error","type":…,"reason":…}` with the status.
    fn into_response(self, _request_id: Uuid) -> Response {
        let body = json!({"message": "Error", "type": self.kind, "reason": self.reason});
        gate::json_response(self.status, &body)
    }
}

/// Answers one `/v2` request: refuse it, or upgrade into a simulated recognition session.
pub(super) fn handle(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let request_id = Uuid::new_v4();
    let params = Params::parse(uri.query());
    let accepted = authorize(headers, &params, shared.config.api_key.as_deref())
        .and_then(|()| upgrade.map_err(|_| Refusal::NOT_UPGRADE))
        .map(|upgrade| {
            let protocol = Recognition::new(request_id);
            super::start(shared, upgrade, "speechmatics", request_id, protocol)
        });
    gate::answer("speechmatics", request_id, accepted, None)
}

/// Accepts anything without a configured key; otherwise a matching Bearer header and no `jwt` parameter.
pub(super) fn authorize(
    headers: &HeaderMap,
    params: &Params,
    key: Option<&str>,
) -> Result<(), Refusal> {
    let Some(key) = key else {
        return Ok(());
    };
    if params.get(JWT_PARAM).is_some() {
        return Err(Refusal::JWT_NOT_STRIPPED);
    }
    let matched = bearer_credentials(headers).any(|credential| is_key(credential, key));
    if matched {
        Ok(())
    } else {
        Err(Refusal::NOT_AUTHORISED)
    }
}
