//! OpenAI's Realtime API (GA): as an upstream (`wss://api.openai.com/v1/realtime`,
//! `Authorization: Bearer <key>`, no beta header or subprotocol) and the browser credential
//! form its SDKs use (`realtime, openai-insecure-api-key.<T>`), and its ephemeral-key endpoint
//! (`secrets`).

mod secrets;

mod client;
mod prices;
mod usage;

pub(super) use client::client_message;
pub(super) use usage::upstream_usage;

use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::{ClientApi, CredentialForm, Finalize, FinalsDone, Provider, Unsupported, common};
use crate::auth::{AuthError, Credential};
use crate::config::{AuthScheme, RouteKind};
use crate::secret::Secret;

/// OpenAI's hosted API.
pub(crate) const BASE_URL: &str = "wss://api.openai.com";

/// The Realtime endpoint, for conversations and transcription sessions alike.
const PATH: &str = "/v1/realtime";

/// Subprotocol OpenAI's browser clients offer beside the credential; echoed on the 101.
const REALTIME_PROTOCOL: &str = "realtime";
/// Prefix of the browser credential subprotocol, `openai-insecure-api-key.<T>`.
const KEY_PROTOCOL_PREFIX: &str = "openai-insecure-api-key.";

/// The registry entry.
pub(crate) static PROVIDER: Provider = Provider {
    base_url: BASE_URL,
    endpoint: common::base_as_is,
    path,
    route_kinds: &[RouteKind::Realtime],
    credential_header: "authorization",
    auth_scheme: AuthScheme::Bearer,
    aliases: &[],
    prices: prices::PRICES,
    model_prices: Some(prices::for_model),
    credentials: CredentialForm {
        from_protocols,
        from_headers,
    },
    model_prefix: None,
    paths: Some(secrets::router),
    own_path_routes: Some(secrets::own_path_routes),
    default_headers: &[],
    token_prefix: Some(secrets::TOKEN_PREFIX),
    rest: None,
};

/// OpenAI's Realtime API as clients speak it on `realtime` routes.
pub(crate) const CLIENT_API: ClientApi = ClientApi {
    error_body,
    message_error_body: None,
    error_header: None,
    request_id_header: "x-request-id",
    forwarded_headers: &["user-agent"],
    // never sent: Realtime has no keep-alive message, and routes refuse the setting
    keepalive: "",
    keepalive_by_default: |_| false,
    keepalive_refused: |_| Some("OpenAI Realtime has no KeepAlive message"),
    // `audio/pcm` at 24 kHz both ways unless the session says otherwise
    tts_output: ("linear16", 24_000.0),
    // `?intent=transcription` opens a transcription session, which takes no `model`
    modelless_param: Some("intent"),
    unsupported: beta_opt_in,
    model_param: Some("model"),
    query_credentials: &[],
    message_credentials: &[],
    farewell: None,
    finalize: |_| Some(&COMMIT),
    audio_rate: None,
};

/// Commits the input audio buffer: on a transcription session (or one transcribing its input)
/// the last words' transcript follows; an empty buffer is answered with an error, which ends
/// the drain too. A conversation that transcribes nothing waits out the drain timeout.
const COMMIT: Finalize = Finalize {
    message: r#"{"type":"input_audio_buffer.commit"}"#,
    done: FinalsDone::TextContains(&[
        "input_audio_transcription.completed",
        "input_audio_transcription.failed",
        "\"type\":\"error\"",
    ]),
};

/// The retired beta interface's opt-ins (header `OpenAI-Beta: realtime=v1`, subprotocol
/// `openai-beta.realtime-v1`): refused before the upgrade with OpenAI's own code for it. Not
/// stripped, since the client would then speak beta events to the GA API.
fn beta_opt_in(headers: &HeaderMap) -> Option<Unsupported> {
    let header = headers
        .get_all("openai-beta")
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.contains("realtime")));
    let protocol = crate::auth::offered_protocols(headers)
        .iter()
        .any(|p| p.starts_with("openai-beta."));
    (header || protocol).then_some(Unsupported {
        code: "BETA_API_SHAPE_DISABLED",
        message: "the Realtime beta interface is not supported: remove the OpenAI-Beta header \
                  or openai-beta subprotocol and use the GA interface",
    })
}

/// OpenAI's error shape, `{"error":{"type","code","message","param"}}`, from voxrelay's refusal
/// code (OpenAI's has no request id in the body).
fn error_body(code: &str, message: &str, _request_id: &str) -> Value {
    let (kind, code) = match code {
        "INVALID_AUTH" => ("invalid_request_error", "invalid_api_key".to_owned()),
        "TOO_MANY_REQUESTS" => ("requests", "rate_limit_exceeded".to_owned()),
        "SERVICE_UNAVAILABLE" | "UPSTREAM_TIMEOUT" | "UPSTREAM_UNAVAILABLE" => {
            ("server_error", code.to_ascii_lowercase())
        }
        other => ("invalid_request_error", other.to_ascii_lowercase()),
    };
    json!({"error": {"type": kind, "code": code, "message": message, "param": null}})
}

/// OpenAI's browser form: the subprotocol `openai-insecure-api-key.<T>`, offered beside
/// `realtime`; `realtime` is echoed, never the credential item.
fn from_protocols(offered: &[&str]) -> Result<Option<Credential>, AuthError> {
    let Some(token) = offered
        .iter()
        .find_map(|p| p.strip_prefix(KEY_PROTOCOL_PREFIX))
    else {
        return Ok(None);
    };
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(Some(Credential {
        token: Secret::new(token),
        echo: offered
            .iter()
            .find(|p| **p == REALTIME_PROTOCOL)
            .map(|p| (*p).to_owned()),
    }))
}

/// `Authorization: Bearer <T>` is Deepgram's header form too, which is tried first: nothing of
/// OpenAI's own.
fn from_headers(_: &HeaderMap) -> Result<Option<Secret>, AuthError> {
    Ok(None)
}

/// Every route this provider serves is a Realtime route.
fn path(_: RouteKind) -> &'static str {
    PATH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_subprotocol_gives_the_token_and_realtime_is_echoed() {
        let c = from_protocols(&["realtime", "openai-insecure-api-key.sk-1"])
            .unwrap()
            .unwrap();
        assert_eq!(c.token.expose(), "sk-1");
        assert_eq!(c.echo.as_deref(), Some("realtime"));
        // the credential item is never echoed, even when it is the only one offered
        let c = from_protocols(&["openai-insecure-api-key.sk-1"])
            .unwrap()
            .unwrap();
        assert_eq!(c.echo, None);
    }

    #[test]
    fn other_subprotocols_are_not_openais_and_an_empty_key_is_refused() {
        assert!(from_protocols(&["realtime"]).unwrap().is_none());
        assert!(from_protocols(&["token", "k"]).unwrap().is_none());
        assert!(from_protocols(&["realtime", "openai-insecure-api-key."]).is_err());
    }

    #[test]
    fn refusals_take_openais_error_shape() {
        assert_eq!(
            (CLIENT_API.error_body)("INVALID_AUTH", "invalid credentials", "id-1"),
            json!({"error": {"type": "invalid_request_error", "code": "invalid_api_key",
                "message": "invalid credentials", "param": null}})
        );
        let busy = (CLIENT_API.error_body)("UPSTREAM_UNAVAILABLE", "upstream unreachable", "id");
        assert_eq!(busy["error"]["type"], "server_error");
        assert_eq!(CLIENT_API.error_header, None);
        assert!((CLIENT_API.keepalive_refused)(RouteKind::Realtime).is_some());
    }

    #[test]
    fn the_upstream_is_v1_realtime_with_a_bearer_key() {
        assert_eq!(PROVIDER.base_url, "wss://api.openai.com");
        assert_eq!((PROVIDER.path)(RouteKind::Realtime), "/v1/realtime");
        assert_eq!(PROVIDER.credential_header, "authorization");
        assert!(matches!(PROVIDER.auth_scheme, AuthScheme::Bearer));
    }
}
