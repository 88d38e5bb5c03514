//! The generic kind: any WebSocket speech API that needs no message rewriting (Speechmatics,
//! Cartesia's speech-to-text variants, self-hosted models), described by config alone.
//!
//! The upstream gives its URL (`base_url` + `path`, `{name}` filled from the route path's
//! segments) and where the real credential goes: a header (`credential_header`, default
//! `authorization`, written with `auth_scheme` or `credential_prefix`; `sec-websocket-protocol`
//! sends it as a subprotocol) or a query parameter (`credential_query`). Clients authenticate
//! the way any route allows (subprotocols `token, <T>`, `Authorization: Token|Bearer <T>`), or
//! with the credential in any query parameter browser SDKs use (`jwt`, `token`, `api_key`…),
//! which never goes upstream. The route forces or denies parameters as any route does, names
//! its model parameter (`model_param`, if the API has one) and its audio rate
//! (`audio_bytes_per_second`, for metering binary frames); sessions are metered by audio
//! (`listen_usd_per_minute`) and by time (`session_usd_per_minute`).

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{ClientApi, ClientUsage, CredentialForm, Provider};
use crate::config::{AuthScheme, PricesConfig, RouteKind, UpstreamConfig};
use crate::rewrite::CREDENTIAL_PARAMS;

/// The registry entry.
pub(crate) static PROVIDER: Provider = Provider {
    // no default: `base_url` and `path` are required
    base_url: "",
    endpoint,
    path: |_| "",
    route_kinds: &[RouteKind::Generic],
    credential_header: "authorization",
    auth_scheme: AuthScheme::Bearer,
    aliases: &[],
    prices: PricesConfig::UNKNOWN,
    model_prices: None,
    credentials: CredentialForm::NONE,
    model_prefix: None,
    paths: None,
    own_path_routes: None,
    default_headers: &[],
    token_prefix: None,
    rest: None,
};

/// What clients of a generic route get: a plain JSON error, no keep-alive, credentials in any
/// of the usual query parameters.
pub(crate) const CLIENT_API: ClientApi = ClientApi {
    error_body,
    message_error_body: None,
    error_header: None,
    request_id_header: "x-request-id",
    forwarded_headers: &["user-agent"],
    keepalive: "",
    keepalive_by_default: |_| false,
    keepalive_refused: |_| Some("generic routes have no keep-alive message"),
    tts_output: ("linear16", 16_000.0),
    modelless_param: None,
    unsupported: |_| None,
    // the route's `model_param`, if it sets one
    model_param: None,
    query_credentials: &CREDENTIAL_PARAMS,
    message_credentials: &[],
    farewell: None,
    // the upstream's `drain_message`, if its config names one
    finalize: |_| None,
    audio_rate: None,
};

/// `{"error":{"code","message","request_id"}}`.
fn error_body(code: &str, message: &str, request_id: &str) -> Value {
    json!({"error": {"code": code.to_ascii_lowercase(), "message": message,
        "request_id": request_id}})
}

/// Binary frames are audio; text messages are control.
#[inline]
pub(super) fn client_usage(msg: &Message) -> ClientUsage {
    match msg {
        Message::Binary(b) => binary_usage(b.len()),
        _ => ClientUsage::Nothing,
    }
}

/// A binary client message of `len` bytes: audio.
#[inline]
pub(super) fn binary_usage(len: usize) -> ClientUsage {
    super::audio_usage(len)
}

/// `base_url` + `path`; both are required.
fn endpoint(base: &str, u: &UpstreamConfig, at: &str, errors: &mut Vec<String>) -> String {
    if u.base_url.is_none() {
        errors.push(format!("{at}.base_url: a generic upstream needs its URL"));
    }
    match u.path.as_deref() {
        Some(path) if path.starts_with('/') && !path.contains(['?', '#']) => {
            format!("{base}{path}")
        }
        Some(_) => {
            errors.push(format!(
                "{at}.path: must be an absolute path without query or fragment"
            ));
            base.to_owned()
        }
        None => {
            errors.push(format!("{at}.path: a generic upstream needs its path"));
            base.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_plain_json_and_binary_frames_are_audio() {
        let body = (CLIENT_API.error_body)("INVALID_AUTH", "invalid credentials", "r1");
        assert_eq!(body["error"]["code"], "invalid_auth");
        assert_eq!(body["error"]["request_id"], "r1");
        let audio = Message::Binary(vec![0; 640].into());
        assert_eq!(client_usage(&audio), ClientUsage::Audio(640));
        assert_eq!(client_usage(&Message::text("{}")), ClientUsage::Nothing);
        assert!(CLIENT_API.query_credentials.contains(&"jwt"));
    }
}
