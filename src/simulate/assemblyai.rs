//! Simulated AssemblyAI Universal Streaming v3 (`/v3/ws` under any path prefix).
//!
//! Servers authenticate with `Authorization: <raw API key>` (no scheme), browsers with `?token=<temporary token>`.
//! When [`SimulatorConfig::api_key`](super::SimulatorConfig) is set the raw header must match it and a `token`
//! query parameter is refused (a relay must strip it); without a key anything is accepted. A refused credential
//! is answered the way AssemblyAI documents it: the upgrade completes, then the socket closes with 1008 and an
//! `Unauthorized Connection: …` reason, which both official SDKs surface as an error carrying that reason (an
//! HTTP 401 instead would reach browsers as a bare 1006 and make the Node SDK retry it as a network failure).
//! Query errors (no `speech_model`, a bad `sample_rate` or `encoding`) upgrade, send
//! `{"type":"Error","error_code":3006,…}` and close with 3006, as the v3 error table describes.

mod settings;
mod streaming;
mod turns;

#[cfg(test)]
mod tests;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::json;
use tracing::info;
use uuid::Uuid;

use super::Shared;
use super::gate::{self, is_key};
use super::wire::Params;

pub(super) use self::settings::{Refusal, Settings};
pub(super) use self::streaming::Streaming;

/// Query parameter carrying a browser's temporary token.
const TOKEN_PARAM: &str = "token";
/// Close code for a refused credential (AssemblyAI's "Unauthorized Connection").
pub(super) const UNAUTHORIZED_CODE: u16 = 1008;
/// Close reason when no `Authorization` header came with the handshake.
const MISSING_REASON: &str = "Unauthorized Connection: Missing Authorization header";
/// Close reason when the header does not carry the configured key.
const INVALID_REASON: &str = "Unauthorized Connection: Invalid API key";
/// Close reason for a `token` query parameter while the simulator expects the key.
const TOKEN_REASON: &str = "Unauthorized Connection: Invalid temporary token";

/// Whether `uri` is a Universal Streaming path (any prefix before `/v3/ws`).
pub(super) fn serves(uri: &Uri) -> bool {
    uri.path().trim_end_matches('/').ends_with("/v3/ws")
}

/// Answers one `/v3/ws` request: a plain HTTP error without an upgrade, otherwise a session that either runs
/// or reports why it was refused and closes.
pub(super) fn handle(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Ok(upgrade) = upgrade else {
        let body = json!({"error": "Expected a WebSocket upgrade request."});
        return gate::json_response(StatusCode::UPGRADE_REQUIRED, &body);
    };
    let request_id = Uuid::new_v4();
    let params = Params::parse(uri.query());
    let protocol = match authorize(headers, &params, shared.config.api_key.as_deref()) {
        Err(reason) => {
            info!(%request_id, code = UNAUTHORIZED_CODE, reason, "assemblyai handshake refused");
            Streaming::refused(Refusal::unauthorized(reason))
        }
        Ok(()) => match Settings::from_params(&params) {
            Ok(settings) => Streaming::new(request_id, settings),
            Err(refusal) => {
                info!(%request_id, error = %refusal.message, "assemblyai query refused");
                Streaming::refused(refusal)
            }
        },
    };
    super::start(shared, upgrade, "assemblyai", request_id, protocol)
}

/// Accepts anything without a configured key; otherwise the raw `Authorization` header must equal it and
/// no `token` may be offered. The error is the close reason.
fn authorize(headers: &HeaderMap, params: &Params, key: Option<&str>) -> Result<(), &'static str> {
    let Some(key) = key else {
        return Ok(());
    };
    if params.get(TOKEN_PARAM).is_some() {
        return Err(TOKEN_REASON);
    }
    let mut offered = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(str::trim)
        .peekable();
    if offered.peek().is_none() {
        return Err(MISSING_REASON);
    }
    if offered.any(|credential| is_key(credential, key)) {
        Ok(())
    } else {
        Err(INVALID_REASON)
    }
}
