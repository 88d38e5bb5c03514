//! Cartesia's WebSockets: text to speech (`/tts/websocket`, route kind `cartesia_tts`) and
//! speech to text (`/stt/websocket`, `cartesia_stt`; with turn detection
//! `/stt/turns/websocket`, `cartesia_turns`), as an upstream (`wss://api.cartesia.ai`,
//! `Authorization: Bearer <key>` plus the required `Cartesia-Version`) and as the API clients
//! speak (its error shape, the browser SDK's query credentials, metering).
//!
//! The API version: a client's `cartesia-version` header is forwarded, and a client's
//! `cartesia_version` query parameter stays in the query (Cartesia reads the query over the
//! header). When the client names none, the upstream's `extra_headers` `cartesia-version`
//! applies, else [`DEFAULT_VERSION`] (the one cartesia-js 3.5 sends).

mod stt;
mod tts;

pub(super) use stt::{binary_usage as stt_binary_usage, client_usage as stt_usage};
pub(super) use tts::{client_message as tts_message, upstream_usage as tts_usage};

use serde_json::{Value, json};

use super::{ClientApi, CredentialForm, Finalize, FinalsDone, Provider, common};
use crate::config::{AuthScheme, PricesConfig, RouteKind};

/// Cartesia's hosted API.
pub(crate) const BASE_URL: &str = "wss://api.cartesia.ai";

/// The API version sent when neither the client nor the config names one.
pub(crate) const DEFAULT_VERSION: &str = "2026-08-14";
/// The header naming the API version (lower case).
const VERSION_HEADER: &str = "cartesia-version";

/// USD per credit on the Pro plan ($5 per 100,000 credits, docs.cartesia.ai/pricing as
/// transcribed by apio.sh, 2026; larger plans cost less per credit: set `prices`).
const USD_PER_CREDIT: f64 = 5.0 / 100_000.0;

/// Cartesia's list prices at the Pro plan: text to speech 1 credit per character ($0.05 per
/// 1,000), speech to text with ink-2 3 credits per audio second ($0.009 per minute).
pub(crate) const PRICES: PricesConfig = PricesConfig {
    listen_usd_per_minute: 3.0 * 60.0 * USD_PER_CREDIT,
    speak_usd_per_1k_chars: 1000.0 * USD_PER_CREDIT,
    ..PricesConfig::UNKNOWN
};

/// The registry entry.
pub(crate) static PROVIDER: Provider = Provider {
    base_url: BASE_URL,
    endpoint: common::base_as_is,
    path,
    route_kinds: &[
        RouteKind::CartesiaTts,
        RouteKind::CartesiaStt,
        RouteKind::CartesiaTurns,
    ],
    credential_header: "authorization",
    auth_scheme: AuthScheme::Bearer,
    aliases: &[],
    prices: PRICES,
    model_prices: Some(model_prices),
    // `Authorization: Bearer <T>` (Node and Python SDKs) is a header form every route takes;
    // browsers put it in the query (`query_credentials`)
    credentials: CredentialForm::NONE,
    model_prefix: None,
    paths: None,
    own_path_routes: None,
    default_headers: &[(VERSION_HEADER, DEFAULT_VERSION)],
    token_prefix: None,
    rest: None,
};

/// What every Cartesia route shares; the route kinds differ in the model parameter.
const API: ClientApi = ClientApi {
    error_body,
    message_error_body: None,
    error_header: None,
    request_id_header: "x-request-id",
    forwarded_headers: &["user-agent", VERSION_HEADER, "x-cartesia-client"],
    // Cartesia has no keep-alive message (it closes a socket idle for minutes)
    keepalive: "",
    keepalive_by_default: |_| false,
    keepalive_refused: |_| Some("Cartesia has no keep-alive message"),
    // every generation request names its `output_format`; this is only the meter's start
    tts_output: ("linear16", 44_100.0),
    modelless_param: None,
    unsupported: |_| None,
    model_param: None,
    query_credentials: &["access_token", "api_key"],
    message_credentials: &[],
    farewell: None,
    finalize,
    audio_rate: Some(stt::audio_rate),
};

/// Manual-finalize STT: the plain-text `close` finalizes the pending audio, sends `done` and
/// closes.
const STT_CLOSE: Finalize = Finalize {
    message: "close",
    done: FinalsDone::UpstreamCloses,
};

/// STT with turns: `{"type":"close"}` ends an open turn and closes.
const TURNS_CLOSE: Finalize = Finalize {
    message: r#"{"type":"close"}"#,
    done: FinalsDone::UpstreamCloses,
};

/// TTS has no socket-wide flush (each context flushes by its own id): closed at once.
fn finalize(kind: RouteKind) -> Option<&'static Finalize> {
    match kind {
        RouteKind::CartesiaStt => Some(&STT_CLOSE),
        RouteKind::CartesiaTurns => Some(&TURNS_CLOSE),
        _ => None,
    }
}

/// Text to speech: the model is `model_id` in every generation request, checked there.
pub(crate) const TTS_API: ClientApi = API;

/// Speech to text: the model is the `model` query parameter.
pub(crate) const STT_API: ClientApi = ClientApi {
    model_param: Some("model"),
    ..API
};

/// Cartesia's structured error, `{"error_code","title","message","request_id"}`, from
/// voxrelay's refusal code.
fn error_body(code: &str, message: &str, request_id: &str) -> Value {
    let (error_code, title) = match code {
        "INVALID_AUTH" => ("invalid_api_key".to_owned(), "Unauthorized"),
        "INSUFFICIENT_PERMISSIONS" | "ORIGIN_NOT_ALLOWED" => {
            (code.to_ascii_lowercase(), "Forbidden")
        }
        "NOT_FOUND" => ("not_found".to_owned(), "Not Found"),
        "TOO_MANY_REQUESTS" => ("rate_limited".to_owned(), "Too Many Requests"),
        "SERVICE_UNAVAILABLE" | "UPSTREAM_UNAVAILABLE" | "UPSTREAM_TIMEOUT" => {
            (code.to_ascii_lowercase(), "Service Unavailable")
        }
        other => (other.to_ascii_lowercase(), "Bad Request"),
    };
    json!({"error_code": error_code, "title": title, "message": message,
        "request_id": request_id})
}

/// Each route kind's WebSocket.
fn path(kind: RouteKind) -> &'static str {
    match kind {
        RouteKind::CartesiaStt => "/stt/websocket",
        RouteKind::CartesiaTurns => "/stt/turns/websocket",
        _ => "/tts/websocket",
    }
}

/// ink-whisper costs 1 credit per second, a third of ink-2.
fn model_prices(model: &str) -> Option<PricesConfig> {
    model.starts_with("ink-whisper").then_some(PricesConfig {
        listen_usd_per_minute: 60.0 * USD_PER_CREDIT,
        ..PRICES
    })
}

/// Bytes per sample of Cartesia's raw encodings.
pub(super) fn bytes_per_sample(encoding: &str) -> Option<f64> {
    match encoding {
        "pcm_s16le" | "pcm_f16le" => Some(2.0),
        "pcm_s32le" | "pcm_f32le" => Some(4.0),
        "pcm_mulaw" | "pcm_alaw" => Some(1.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
