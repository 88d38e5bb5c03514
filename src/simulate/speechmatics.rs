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
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use subtle::ConstantTimeEq;
use tracing::info;
use uuid::Uuid;

use super::Shared;
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

    /// `{"message":"Error","type":…,"reason":…}` with the status.
    fn into_response(self) -> Response {
        let body = json!({"message": "Error", "type": self.kind, "reason": self.reason});
        let content_type = [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )];
        (self.status, content_type, body.to_string()).into_response()
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
        .and_then(|()| upgrade.map_err(|_| Refusal::NOT_UPGRADE));
    match accepted {
        Ok(upgrade) => super::start(
            shared,
            upgrade,
            "speechmatics",
            request_id,
            Recognition::new(request_id),
        ),
        Err(refusal) => {
            info!(status = refusal.status.as_u16(), %request_id, "speechmatics handshake refused");
            refusal.into_response()
        }
    }
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
    let matched = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| {
            let (scheme, credential) = value.trim().split_once(char::is_whitespace)?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| credential.trim())
        })
        .any(|credential| bool::from(credential.as_bytes().ct_eq(key.as_bytes())));
    if matched {
        Ok(())
    } else {
        Err(Refusal::NOT_AUTHORISED)
    }
}
