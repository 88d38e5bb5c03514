//! Deepgram's API: as an upstream (`wss://api.deepgram.com`, `/v1/listen`, `/v1/speak`,
//! `/v2/listen`, `Authorization: Token <key>`) and as the API clients speak (its credential
//! forms, error shape, headers, KeepAlive and metering).

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{ClientApi, ClientUsage, CredentialForm, Finalize, FinalsDone, Provider, common};
use crate::auth::{AuthError, Credential};
use crate::config::{AuthScheme, PricesConfig, RouteKind};
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
/// 2026-08-01; the page itself could not be read first-hand); prerecorded Nova-3 (`POST
/// /v1/listen`) $0.0043 per audio minute and channel (the same datasets). Self-hosted Deepgram
/// and contract prices: set `[upstreams.<name>.prices]`.
pub(crate) const PRICES: PricesConfig = PricesConfig {
    listen_usd_per_minute: 0.0048,
    flux_usd_per_minute: 0.0065,
    prerecorded_usd_per_minute: 0.0043,
    speak_usd_per_1k_chars: 0.03,
    ..PricesConfig::UNKNOWN
};

/// The registry entry.
pub(crate) static PROVIDER: Provider = Provider {
    base_url: BASE_URL,
    endpoint: common::base_as_is,
    path,
    route_kinds: &[RouteKind::Listen, RouteKind::Speak, RouteKind::Flux],
    credential_header: "authorization",
    auth_scheme: AuthScheme::Token,
    aliases: &ALIASES,
    prices: PRICES,
    model_prices: None,
    credentials: CredentialForm {
        from_protocols,
        from_headers,
    },
    model_prefix: None,
    // its paths are the routes' own
    paths: None,
    own_path_routes: None,
    default_headers: &[],
    token_prefix: None,
    rest: Some(&REST),
};

/// Deepgram's API as clients speak it.
pub(crate) const CLIENT_API: ClientApi = ClientApi {
    error_body,
    message_error_body: None,
    error_header: Some("dg-error"),
    request_id_header: "dg-request-id",
    forwarded_headers: &["user-agent", "x-deepgram-session-id"],
    keepalive: r#"{"type":"KeepAlive"}"#,
    // `/v1/listen` closes after about 10 s without audio or a KeepAlive; `/v2/listen` has none
    keepalive_by_default: |kind| kind == RouteKind::Listen,
    keepalive_refused: |kind| {
        (kind == RouteKind::Flux).then_some("Flux (/v2/listen) has no KeepAlive message")
    },
    // `/v1/speak` answers linear16 at 24 kHz unless asked otherwise
    tts_output: ("linear16", 24_000.0),
    modelless_param: None,
    unsupported: |_| None,
    model_param: Some("model"),
    query_credentials: &[],
    message_credentials: &[],
    farewell: None,
    finalize,
    audio_rate: None,
};

/// `/v1/listen` and `/v2/listen`: `CloseStream` ("finish processing any cached data, send the
/// response, send a summary metadata object, and then terminate"), which ends in the
/// upstream's own close. `Finalize` would flush too, but leaves the stream open with nothing
/// that marks the end (its `from_finalize` result is "not guaranteed"), so a drain could only
/// wait out its timeout; `CloseStream` also brings the final `Metadata`.
pub(crate) const CLOSE_STREAM: Finalize = Finalize {
    message: r#"{"type":"CloseStream"}"#,
    done: FinalsDone::UpstreamCloses,
};

/// `/v1/speak`: `Flush` synthesizes the text sent so far; `Flushed` follows its audio.
pub(crate) const FLUSH: Finalize = Finalize {
    message: r#"{"type":"Flush"}"#,
    done: FinalsDone::TextContains(&["\"Flushed\""]),
};

/// Deepgram's drains (also Cloudflare's, which relays the same messages).
fn finalize(kind: RouteKind) -> Option<&'static Finalize> {
    match kind {
        RouteKind::Speak => Some(&FLUSH),
        _ => Some(&CLOSE_STREAM),
    }
}

/// Listen and Flux meter binary frames as audio; Speak meters the characters of `Speak`
/// messages.
#[inline]
pub(super) fn client_usage(kind: RouteKind, msg: &Message) -> ClientUsage {
    match (kind, msg) {
        (RouteKind::Speak, Message::Text(t)) => {
            speak_chars(t.as_str()).map_or(ClientUsage::Nothing, ClientUsage::Characters)
        }
        (_, Message::Binary(b)) => binary_usage(kind, b.len()),
        _ => ClientUsage::Nothing,
    }
}

/// A binary client message of `len` bytes: audio on the transcription routes.
#[inline]
pub(super) fn binary_usage(kind: RouteKind, len: usize) -> ClientUsage {
    match kind {
        RouteKind::Listen | RouteKind::Flux => super::audio_usage(len),
        _ => ClientUsage::Nothing,
    }
}

/// Speak's binary frames are its audio.
#[inline]
pub(super) fn tts_audio(kind: RouteKind, msg: &Message) -> Option<usize> {
    match msg {
        Message::Binary(b) => tts_audio_len(kind, b.len()),
        _ => None,
    }
}

/// A binary upstream message of `len` bytes: Speak's audio.
#[inline]
pub(super) fn tts_audio_len(kind: RouteKind, len: usize) -> Option<usize> {
    (kind == RouteKind::Speak).then_some(len)
}

/// The characters of a `{"type":"Speak","text":…}` message; `None` for any other message.
fn speak_chars(text: &str) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Speak<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        #[serde(default, borrow)]
        text: std::borrow::Cow<'a, str>,
    }
    let speak = serde_json::from_str::<Speak<'_>>(text).ok()?;
    (speak.kind == "Speak").then(|| speak.text.chars().count() as u64)
}

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

fn path(kind: RouteKind) -> &'static str {
    match kind {
        RouteKind::Listen => "/v1/listen",
        RouteKind::Speak => "/v1/speak",
        RouteKind::Flux => "/v2/listen",
        // not among its `route_kinds`: no route of another kind reaches a Deepgram upstream
        _ => "",
    }
}

/// The model that spoke, on a `/v1/speak` REST answer.
pub(crate) const MODEL_NAME_HEADER: &str = "dg-model-name";
/// The characters billed, on a `/v1/speak` REST answer.
pub(crate) const CHAR_COUNT_HEADER: &str = "dg-char-count";
/// The headers of a `/v1/speak` REST answer relayed to the client (besides its request id).
pub(crate) const SPEECH_HEADERS: [&str; 3] =
    [MODEL_NAME_HEADER, "dg-model-uuid", CHAR_COUNT_HEADER];

/// Deepgram's REST calls: `POST <endpoint>/v1/listen?<query>` with the audio (or `{"url"}`)
/// as sent, `POST <endpoint>/v1/speak?<query>` with `{"text"}`; answers and errors are
/// already in Deepgram's shape.
pub(crate) static REST: crate::rest::RestApi = crate::rest::RestApi {
    request: |endpoint, path, query, text| {
        let url = if query.is_empty() {
            format!("{endpoint}{path}")
        } else {
            format!("{endpoint}{path}?{query}")
        };
        (url, text.map(|t| json!({ "text": t })))
    },
    bearer_too: false,
    url_bodies: true,
    result: Ok,
    error: |_| None,
};
