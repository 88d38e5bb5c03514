//! The HTTP side of the simulator: which protocol a path selects, credential checks, subprotocol echo, error replies.

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use uuid::Uuid;

use super::gate::{Refuse, is_key};
use super::wire::Params;

/// Header carrying the per-request UUID on every response.
pub(super) const REQUEST_ID_HEADER: &str = "dg-request-id";
/// Header repeating the error message of a failed upgrade.
const ERROR_HEADER: &str = "dg-error";
/// Cloudflare AI Gateway's credential header.
pub(super) const CF_AUTH_HEADER: &str = "cf-aig-authorization";
/// Prefix of Deepgram models on Cloudflare Workers AI.
pub(super) const CF_MODEL_PREFIX: &str = "@cf/deepgram/";

/// Which Deepgram API a session speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Live transcription, `/v1/listen`.
    Listen,
    /// Streaming text to speech, `/v1/speak`.
    Speak,
    /// Flux conversational transcription, `/v2/listen`.
    Flux,
}

impl Kind {
    /// Short name for logs.
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Listen => "listen",
            Self::Speak => "speak",
            Self::Flux => "flux",
        }
    }
}

/// A handshake refused before the upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rejection {
    /// HTTP status of the reply.
    pub(super) status: StatusCode,
    /// Deepgram's legacy `err_code`.
    code: &'static str,
    /// Deepgram's legacy `err_msg`, also sent as `dg-error`.
    message: &'static str,
}

impl Rejection {
    /// Missing or wrong credential.
    pub(super) const UNAUTHORIZED: Self = Self {
        status: StatusCode::UNAUTHORIZED,
        code: "INVALID_AUTH",
        message: "Invalid credentials.",
    };
    /// Cloudflare `model` missing or not a Deepgram model the simulator knows.
    pub(super) const BAD_MODEL: Self = Self {
        status: StatusCode::BAD_REQUEST,
        code: "Bad Request",
        message: "No such model/version combination found.",
    };
    /// A path that is none of the simulated APIs.
    pub(super) const NOT_FOUND: Self = Self {
        status: StatusCode::NOT_FOUND,
        code: "NOT_FOUND",
        message: "Not found.",
    };
    /// The right path, but not a WebSocket upgrade request.
    pub(super) const NOT_UPGRADE: Self = Self {
        status: StatusCode::UPGRADE_REQUIRED,
        code: "UPGRADE_REQUIRED",
        message: "Expected a WebSocket upgrade request.",
    };
}

impl Refuse for Rejection {
    fn status(&self) -> StatusCode {
        self.status
    }

    /// The legacy Deepgram error body with a `dg-error` header.
    fn into_response(self, request_id: Uuid) -> Response {
        let body = json!({
            "err_code": self.code,
            "err_msg": self.message,
            "request_id": request_id.to_string(),
        });
        let headers = [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::HeaderName::from_static(ERROR_HEADER),
                HeaderValue::from_static(self.message),
            ),
        ];
        (self.status, headers, body.to_string()).into_response()
    }
}

/// Picks the protocol from the path suffix (or the Cloudflare `model`) and decodes the query.
pub(super) fn resolve(uri: &Uri) -> Result<(Kind, Params), Rejection> {
    let path = uri.path().trim_end_matches('/');
    let params = Params::parse(uri.query());
    let kind = if path.ends_with("/v1/listen") {
        Kind::Listen
    } else if path.ends_with("/v1/speak") {
        Kind::Speak
    } else if path.ends_with("/v2/listen") {
        Kind::Flux
    } else if path.ends_with("/workers-ai") {
        return cloudflare(params);
    } else {
        return Err(Rejection::NOT_FOUND);
    };
    Ok((kind, params))
}

/// The Cloudflare `/workers-ai` shape: `model=@cf/deepgram/<m>` decides the protocol.
fn cloudflare(params: Params) -> Result<(Kind, Params), Rejection> {
    let model = params
        .get("model")
        .and_then(|model| model.strip_prefix(CF_MODEL_PREFIX))
        .ok_or(Rejection::BAD_MODEL)?
        .to_owned();
    let kind = if model.starts_with("nova-") {
        Kind::Listen
    } else if model == "flux" || model.starts_with("flux-") {
        Kind::Flux
    } else if model.starts_with("aura-") {
        Kind::Speak
    } else {
        return Err(Rejection::BAD_MODEL);
    };
    Ok((kind, params.with_model(&model)))
}

/// Whether the request carries `key` in any accepted form (always true without a key).
pub(super) fn authorized(headers: &HeaderMap, key: Option<&str>) -> bool {
    let Some(key) = key else {
        return true;
    };
    let deepgram = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(scheme_credential)
        .any(|credential| is_key(credential, key));
    let cloudflare = headers
        .get_all(CF_AUTH_HEADER)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(|value| scheme_credential(value).unwrap_or(value.trim()))
        .any(|credential| is_key(credential, key));
    deepgram || cloudflare
}

/// Splits `Token <k>` / `Bearer <k>` (scheme in any case) into the credential.
fn scheme_credential(value: &str) -> Option<&str> {
    let (scheme, credential) = value.trim().split_once(char::is_whitespace)?;
    let known = scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer");
    known.then(|| credential.trim())
}

/// The subprotocol to echo: `token` or `bearer` if offered, else the first offered value.
pub(super) fn chosen_protocol(headers: &HeaderMap) -> Option<HeaderValue> {
    let offered: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .collect();
    let preferred = ["token", "bearer"].iter().find_map(|name| {
        offered
            .iter()
            .find(|value| value.eq_ignore_ascii_case(name))
    });
    let chosen = preferred.or(offered.first())?;
    HeaderValue::from_str(chosen).ok()
}
