//! Simulated Cartesia WebSockets: TTS (`/tts/websocket`), manual-finalize STT (`/stt/websocket`) and STT with
//! turn detection (`/stt/turns/websocket`).
//!
//! The handshake takes the credential the official SDKs send: `Authorization: Bearer <k>` plus a
//! `Cartesia-Version` header from servers, `?access_token=` / `?api_key=` plus `?cartesia_version=` from
//! browsers. With a configured key only the server form is accepted (a relay must move a browser
//! credential into the header), and refusals carry Cartesia's structured error body.

mod audio;
mod auth;
mod stt;
mod tts;
mod turns;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::json;
use uuid::Uuid;

use super::Shared;
use super::gate::{self, Refuse};
use super::wire::Params;

pub(super) use self::audio::Encoding;
pub(super) use self::auth::Refusal;
pub(super) use self::stt::Stt;
pub(super) use self::tts::Tts;
pub(super) use self::turns::Turns;

/// Path suffix of the TTS WebSocket.
const TTS_PATH: &str = "/tts/websocket";
/// Path suffix of the manual-finalize STT WebSocket.
const STT_PATH: &str = "/stt/websocket";
/// Path suffix of the turn-detecting STT WebSocket.
const TURNS_PATH: &str = "/stt/turns/websocket";

/// Which Cartesia WebSocket a path selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// Streaming text to speech.
    Tts,
    /// Speech to text, finalized by the client.
    Stt,
    /// Speech to text with turn detection.
    Turns,
}

/// The endpoint `uri` names (any prefix before it), if any.
fn endpoint(uri: &Uri) -> Option<Endpoint> {
    let path = uri.path().trim_end_matches('/');
    if path.ends_with(TTS_PATH) {
        Some(Endpoint::Tts)
    } else if path.ends_with(STT_PATH) {
        Some(Endpoint::Stt)
    } else if path.ends_with(TURNS_PATH) {
        Some(Endpoint::Turns)
    } else {
        None
    }
}

/// Whether `uri` is a Cartesia WebSocket path.
pub(super) fn serves(uri: &Uri) -> bool {
    endpoint(uri).is_some()
}

impl Refuse for Refusal {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn code(&self) -> Option<&'static str> {
        Some(self.code)
    }

    /// `{"error_code","title","message","request_id"}` as JSON.
    fn into_response(self, request_id: Uuid) -> Response {
        let body = json!({
            "error_code": self.code,
            "title": self.title,
            "message": self.message,
            "request_id": request_id.to_string(),
        });
        gate::json_response(self.status, &body)
    }
}

/// Answers one Cartesia request: refuse it, or upgrade into a simulated session.
pub(super) fn handle(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let request_id = Uuid::new_v4();
    let accepted = accept(shared, uri, headers, upgrade, request_id);
    gate::answer("cartesia", request_id, accepted, None)
}

/// Checks credential, version, query and upgrade, then starts the session.
fn accept(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    request_id: Uuid,
) -> Result<Response, Refusal> {
    let endpoint = endpoint(uri).ok_or(Refusal::NOT_FOUND)?;
    let params = Params::parse(uri.query());
    auth::check(headers, &params, shared.config.api_key.as_deref())?;
    let response = match endpoint {
        Endpoint::Tts => {
            let upgrade = upgrade.map_err(|_| Refusal::NOT_UPGRADE)?;
            super::start(
                shared,
                upgrade,
                "cartesia-tts",
                request_id,
                Tts::new(request_id),
            )
        }
        Endpoint::Stt => {
            let stt = Stt::from_query(&params, request_id)?;
            let upgrade = upgrade.map_err(|_| Refusal::NOT_UPGRADE)?;
            super::start(shared, upgrade, "cartesia-stt", request_id, stt)
        }
        Endpoint::Turns => {
            let turns = Turns::from_query(&params, request_id)?;
            let upgrade = upgrade.map_err(|_| Refusal::NOT_UPGRADE)?;
            super::start(shared, upgrade, "cartesia-turns", request_id, turns)
        }
    };
    Ok(response)
}

impl Refusal {
    /// A query the STT endpoint cannot work with.
    pub(super) const fn bad_query(message: &'static str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            title: "Invalid request",
            message,
        }
    }
}
