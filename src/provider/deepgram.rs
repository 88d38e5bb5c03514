//! Deepgram's own API as an upstream: `wss://api.deepgram.com`, `/v1/listen`, `/v1/speak`,
//! `/v2/listen`, `Authorization: Token <key>`.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use serde_json::{Value, json};

use super::{ClientApi, CredentialForm, Provider};
use crate::auth::{AuthError, Credential};
use crate::config::{AuthScheme, PricesConfig, RouteKind, UpstreamConfig};
use crate::secret::Secret;

/// Deepgram's hosted API.
pub(crate) const BASE_URL: &str = "wss://api.deepgram.com";

/// Built-in aliases for Deepgram direct: strip Cloudflare's prefix; Flux's full name; Cloudflare's
/// Aura models become the Deepgram voice named by `speaker`, or Cloudflare's default voice for
/// that model (so a session sounds the same whichever upstream serves it).
pub const ALIASES: [(&str, &str); 9] = [
    ("@cf/deepgram/*", "*"),
    ("@cf/deepgram/flux", "flux-general-en"),
    ("flux", "flux-general-en"),
    ("aura-1", "aura-{speaker:angus}-en"),
    ("@cf/deepgram/aura-1", "aura-{speaker:angus}-en"),
    ("aura-2-en", "aura-2-{speaker:luna}-en"),
    ("@cf/deepgram/aura-2-en", "aura-2-{speaker:luna}-en"),
    ("aura-2-es", "aura-2-{speaker:aquila}-es"),
    ("@cf/deepgram/aura-2-es", "aura-2-{speaker:aquila}-es"),
];

/// Deepgram's published pay-as-you-go list prices for streaming: Nova-3 (monolingual)
/// $0.0048 and Flux (English) $0.0065 per audio minute, Aura-2 $0.030 per 1,000 characters
/// (deepgram.com/pricing as transcribed in public price datasets verified 2026-07-19 and
/// 2026-08-01; the page itself could not be read first-hand). Self-hosted Deepgram and
/// contract prices: set `[upstreams.<name>.prices]`.
pub(crate) const PRICES: PricesConfig = PricesConfig {
    listen_usd_per_minute: 0.0048,
    flux_usd_per_minute: 0.0065,
    speak_usd_per_1k_chars: 0.03,
};

/// The registry entry.
pub(crate) static PROVIDER: Provider = Provider {
    base_url: BASE_URL,
    endpoint,
    path,
    credential_header: "authorization",
    auth_scheme: AuthScheme::Token,
    aliases: &ALIASES,
    prices: PRICES,
    credentials: CredentialForm {
        from_protocols,
        from_headers,
    },
    model_prefix: None,
    // its paths are the routes' own
    paths: None,
};

/// Deepgram's API as clients speak it.
pub(crate) const CLIENT_API: ClientApi = ClientApi {
    error_body,
    error_header: Some("dg-error"),
    request_id_header: "dg-request-id",
    forwarded_headers: &["user-agent", "x-deepgram-session-id"],
    keepalive: r#"{"type":"KeepAlive"}"#,
};

/// Deepgram's error shape: `{"err_code", "err_msg", "request_id"}`.
fn error_body(code: &str, message: &str, request_id: &str) -> Value {
    json!({"err_code": code, "err_msg": message, "request_id": request_id})
}

/// Whether `scheme` is one of Deepgram's: `token` or `bearer`, any case.
fn known_scheme(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer")
}

/// Deepgram's browser form: the subprotocols `token, <T>` or `bearer, <T>`; the scheme is echoed,
/// never the token.
fn from_protocols(offered: &[&str]) -> Result<Option<Credential>, AuthError> {
    let Some(i) = offered.iter().position(|p| known_scheme(p)) else {
        return Ok(None);
    };
    let token = offered.get(i + 1).ok_or(AuthError::Missing)?;
    Ok(Some(Credential {
        token: Secret::new(*token),
        echo: Some(offered[i].to_owned()),
    }))
}

/// `Authorization: Token <T>` or `Bearer <T>`; any other `Authorization` is unusable.
fn from_headers(headers: &HeaderMap) -> Result<Option<Secret>, AuthError> {
    let Some(v) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    match v.trim().split_once(' ') {
        Some((scheme, token)) if known_scheme(scheme) => Ok(Some(Secret::new(token.trim()))),
        _ => Err(AuthError::Missing),
    }
}

/// The base URL as is: Deepgram's paths hang directly under it.
fn endpoint(base: &str, _: &UpstreamConfig, _: &str, _: &mut Vec<String>) -> String {
    base.to_owned()
}

fn path(kind: RouteKind) -> &'static str {
    match kind {
        RouteKind::Listen => "/v1/listen",
        RouteKind::Speak => "/v1/speak",
        RouteKind::Flux => "/v2/listen",
    }
}
