//! Cloudflare AI Gateway's Workers AI realtime endpoint as an upstream:
//! `wss://gateway.ai.cloudflare.com/v1/<account>/<gateway>/workers-ai?model=@cf/deepgram/…`,
//! credential in `cf-aig-authorization`.

use super::Provider;
use crate::config::{AuthScheme, PricesConfig, RouteKind, UpstreamConfig};

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
/// audio minute, Aura-2 $0.03 per 1,000 characters (Workers AI model catalog).
pub(crate) const PRICES: PricesConfig = PricesConfig {
    listen_usd_per_minute: 0.0092,
    flux_usd_per_minute: 0.0077,
    speak_usd_per_1k_chars: 0.03,
};

/// The registry entry.
pub(crate) static PROVIDER: Provider = Provider {
    base_url: BASE_URL,
    endpoint,
    path,
    credential_header: "cf-aig-authorization",
    auth_scheme: AuthScheme::Raw,
    aliases: &ALIASES,
    prices: PRICES,
};

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
