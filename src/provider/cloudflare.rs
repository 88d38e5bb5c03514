//! Cloudflare AI Gateway's Workers AI realtime endpoint: as an upstream
//! (`wss://gateway.ai.cloudflare.com/v1/<account>/<gateway>/workers-ai?model=@cf/deepgram/…`,
//! credential in `cf-aig-authorization`), and the same path shape and credential forms offered
//! to clients written against the gateway.

mod rest;
mod serving;
mod workers_ai;

use axum::http::HeaderMap;

use super::{CredentialForm, Provider};
use crate::auth::{AuthError, Credential};
use crate::config::{AuthScheme, PricesConfig, RouteKind, UpstreamConfig};
use crate::secret::Secret;

/// Prefix of Workers AI model names for Deepgram models.
pub(crate) const MODEL_PREFIX: &str = "@cf/deepgram/";

/// Cloudflare's credential header, also the upstream's.
const HEADER: &str = "cf-aig-authorization";
/// Prefix of Cloudflare's browser subprotocol form, `cf-aig-authorization.<T>`.
const SUBPROTOCOL_PREFIX: &str = "cf-aig-authorization.";

/// Cloudflare AI Gateway.
pub(crate) const BASE_URL: &str = "wss://gateway.ai.cloudflare.com";

/// Built-in aliases for Cloudflare Workers AI: add the `@cf/deepgram/` prefix; Deepgram's Aura
/// voice names become the Workers AI model plus `speaker`. Names already in Workers AI form
/// match nothing and pass through.
pub const ALIASES: [(&str, &str); 10] = [
    ("nova-3", "@cf/deepgram/nova-3"),
    ("flux", "@cf/deepgram/flux"),
    ("flux-general-en", "@cf/deepgram/flux"),
    ("@cf/deepgram/flux-general-en", "@cf/deepgram/flux"),
    ("aura-1", "@cf/deepgram/aura-1"),
    ("aura-2-en", "@cf/deepgram/aura-2-en"),
    ("aura-2-es", "@cf/deepgram/aura-2-es"),
    ("aura-2-*-en", "@cf/deepgram/aura-2-en?speaker=*"),
    ("aura-2-*-es", "@cf/deepgram/aura-2-es?speaker=*"),
    ("aura-*-en", "@cf/deepgram/aura-1?speaker=*"),
];

/// Cloudflare Workers AI's published WebSocket prices: Nova-3 $0.0092 and Flux $0.0077 per
/// audio minute, Aura-2 $0.03 per 1,000 characters; Nova-3 by REST (batch) $0.0052 per audio
/// minute (Workers AI model catalog).
pub(crate) const PRICES: PricesConfig = PricesConfig {
    listen_usd_per_minute: 0.0092,
    flux_usd_per_minute: 0.0077,
    prerecorded_usd_per_minute: 0.0052,
    speak_usd_per_1k_chars: 0.03,
    ..PricesConfig::UNKNOWN
};

/// The registry entry.
pub(crate) static PROVIDER: Provider = Provider {
    base_url: BASE_URL,
    endpoint,
    path,
    route_kinds: &[RouteKind::Listen, RouteKind::Speak, RouteKind::Flux],
    credential_header: HEADER,
    auth_scheme: AuthScheme::Raw,
    aliases: &ALIASES,
    prices: PRICES,
    model_prices: None,
    credentials: CredentialForm {
        from_protocols,
        from_headers,
    },
    model_prefix: Some(MODEL_PREFIX),
    paths: Some(workers_ai::router),
    own_path_routes: Some(serving::serving),
    default_headers: &[],
    token_prefix: None,
    rest: Some(&rest::REST),
};

/// Cloudflare's browser form: the subprotocol `cf-aig-authorization.<T>` (prefix in any case),
/// echoed whole as Cloudflare does.
fn from_protocols(offered: &[&str]) -> Result<Option<Credential>, AuthError> {
    let found = offered.iter().find_map(|p| {
        let head = p.get(..SUBPROTOCOL_PREFIX.len())?;
        head.eq_ignore_ascii_case(SUBPROTOCOL_PREFIX)
            .then(|| (*p, &p[SUBPROTOCOL_PREFIX.len()..]))
    });
    Ok(found.map(|(whole, token)| Credential {
        token: Secret::new(token),
        echo: Some(whole.to_owned()),
    }))
}

/// `cf-aig-authorization: <T>` or `cf-aig-authorization: Bearer <T>`.
fn from_headers(headers: &HeaderMap) -> Result<Option<Secret>, AuthError> {
    let Some(v) = headers.get(HEADER).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let v = v.trim();
    let token = match v.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
        _ => v,
    };
    Ok(Some(Secret::new(token)))
}

/// `<base>/v1/<account_id>/<gateway_id>/workers-ai`; both ids are required.
fn endpoint(base: &str, u: &UpstreamConfig, at: &str, errors: &mut Vec<String>) -> String {
    let id = |v: &Option<String>, key: &str, errors: &mut Vec<String>| match v {
        Some(v)
            if !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            v.clone()
        }
        _ => {
            errors.push(format!(
                "{at}.{key}: required for cloudflare (letters, digits, '-', '_')"
            ));
            String::new()
        }
    };
    let account = id(&u.account_id, "account_id", errors);
    let gateway = id(&u.gateway_id, "gateway_id", errors);
    format!("{base}/v1/{account}/{gateway}/workers-ai")
}

/// The model in the query picks the API: every kind uses the endpoint itself.
fn path(_: RouteKind) -> &'static str {
    ""
}
