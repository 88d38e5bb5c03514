//! AssemblyAI Universal Streaming v3: as an upstream (`wss://streaming.assemblyai.com/v3/ws`,
//! `Authorization: <key>` with no scheme) and as the API clients speak on `assemblyai` routes:
//! `speech_model` names the model, browsers carry a temporary token as `?token=`, the Python
//! SDK puts a key or token raw in `Authorization`, audio is binary frames at the handshake's
//! `sample_rate` and `encoding`, and the session is billed by the time it is open, so a client
//! that leaves without `Terminate` gets one sent for it ([`CLIENT_API`]'s farewell) and the
//! `Termination` that answers is the session's account.

mod prices;
#[cfg(test)]
mod tests;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{
    ClientApi, ClientUsage, CredentialForm, Finalize, FinalsDone, Provider, UpstreamUsage, common,
};
use crate::auth::AuthError;
use crate::config::{AuthScheme, RouteKind};
use crate::rewrite::{ClientQuery, QueryPolicy, RewriteError};
use crate::secret::Secret;

/// AssemblyAI's hosted streaming API (the EU one is `wss://streaming.eu.assemblyai.com`).
pub(crate) const BASE_URL: &str = "wss://streaming.assemblyai.com";

/// The Universal Streaming v3 endpoint.
const PATH: &str = "/v3/ws";

/// What the client sends to end the session; AssemblyAI answers `Termination` and closes.
const TERMINATE: &str = r#"{"type":"Terminate"}"#;

/// `sample_rate` when the client names none (AssemblyAI's default).
const DEFAULT_SAMPLE_RATE: u32 = 16_000;

/// The registry entry.
pub(crate) static PROVIDER: Provider = Provider {
    base_url: BASE_URL,
    endpoint: common::base_as_is,
    path,
    route_kinds: &[RouteKind::AssemblyAi],
    credential_header: "authorization",
    auth_scheme: AuthScheme::Raw,
    aliases: &[],
    prices: prices::PRICES,
    model_prices: Some(prices::for_model),
    credentials: CredentialForm {
        // browsers carry a temporary token as `?token=`, never in a subprotocol
        from_protocols: |_| Ok(None),
        from_headers,
    },
    model_prefix: None,
    paths: None,
    own_path_routes: None,
    default_headers: &[],
    token_prefix: None,
    rest: None,
};

/// Universal Streaming v3 as clients speak it on `assemblyai` routes.
pub(crate) const CLIENT_API: ClientApi = ClientApi {
    error_body,
    message_error_body: None,
    error_header: None,
    // AssemblyAI documents no request-id header on the upgrade: the session id goes out here
    request_id_header: "x-request-id",
    // the Python SDK names the API version it speaks
    forwarded_headers: &["user-agent", "assemblyai-version"],
    keepalive: r#"{"type":"KeepAlive"}"#,
    // AssemblyAI keeps a silent session open unless the client set `inactivity_timeout`
    keepalive_by_default: |_| false,
    keepalive_refused: |_| None,
    // no synthesis: unused
    tts_output: ("linear16", 16_000.0),
    modelless_param: None,
    unsupported: |_| None,
    // required upstream ("there is no default"): the route's default model fills it
    model_param: Some("speech_model"),
    query_credentials: &["token"],
    message_credentials: &[],
    farewell: Some(TERMINATE),
    finalize: |_| Some(&TERMINATION),
    audio_rate: Some(audio_rate),
};

/// `Terminate`: the last transcripts, then `Termination` (the upstream's account), then close.
const TERMINATION: Finalize = Finalize {
    message: TERMINATE,
    done: FinalsDone::TextContains(&["\"Termination\""]),
};

/// A binary client message of `len` bytes: audio.
#[inline]
pub(super) fn binary_usage(len: usize) -> ClientUsage {
    super::audio_usage(len)
}

/// Binary frames are audio; the client's own `Terminate` means no farewell is needed.
#[inline]
pub(super) fn client_usage(msg: &Message) -> ClientUsage {
    match msg {
        Message::Binary(b) => binary_usage(b.len()),
        Message::Text(t) if t.as_str().contains("\"Terminate\"") && is_terminate(t.as_str()) => {
            ClientUsage::Finish
        }
        _ => ClientUsage::Nothing,
    }
}

/// Whether a text message is `{"type":"Terminate"}` (any spacing or other fields).
fn is_terminate(text: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Typed<'a> {
        #[serde(rename = "type", borrow)]
        kind: std::borrow::Cow<'a, str>,
    }
    serde_json::from_str::<Typed<'_>>(text).is_ok_and(|m| m.kind == "Terminate")
}

/// `Termination{audio_duration_seconds, session_duration_seconds}`: the upstream's own account
/// of the session; every other message counts for nothing.
#[inline]
pub(super) fn upstream_usage(msg: &Message) -> UpstreamUsage {
    match msg {
        Message::Text(t) if t.as_str().contains("\"Termination\"") => {
            termination(t.as_str()).unwrap_or(UpstreamUsage::Nothing)
        }
        _ => UpstreamUsage::Nothing,
    }
}

/// The figures of a `Termination` message (integers in the spec; fractions are taken too).
fn termination(text: &str) -> Option<UpstreamUsage> {
    #[derive(serde::Deserialize)]
    struct Termination<'a> {
        #[serde(rename = "type", borrow)]
        kind: std::borrow::Cow<'a, str>,
        audio_duration_seconds: f64,
        session_duration_seconds: f64,
    }
    let t = serde_json::from_str::<Termination<'_>>(text).ok()?;
    (t.kind == "Termination").then_some(UpstreamUsage::Reported {
        audio_seconds: t.audio_duration_seconds,
        session_seconds: t.session_duration_seconds,
    })
}

/// Bytes per second of the session's audio: `sample_rate` (default 16000) times 2 for
/// `pcm_s16le` (the default) or 1 for `pcm_mulaw`; `None` for compressed encodings (the Python
/// SDK's `opus`, `ogg_opus`, `aac`), whose rate the bytes do not tell.
fn audio_rate(
    _: RouteKind,
    query: &ClientQuery<'_>,
    policy: &QueryPolicy,
) -> Result<Option<f64>, RewriteError> {
    let single = |name: &'static str| -> Result<Option<String>, RewriteError> {
        let mut values = query.values(name, policy);
        match values.len() {
            0 | 1 => Ok(values.pop()),
            _ => Err(RewriteError::DuplicateParam(name)),
        }
    };
    let width = match single("encoding")?.as_deref() {
        None | Some("pcm_s16le") => 2.0,
        Some("pcm_mulaw") => 1.0,
        Some(_) => return Ok(None),
    };
    let rate = match single("sample_rate")? {
        None => DEFAULT_SAMPLE_RATE,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|r| (8_000..=384_000).contains(r))
            .ok_or(RewriteError::InvalidParam {
                name: "sample_rate",
                expected: "must be a whole number of Hz from 8000 to 384000",
            })?,
    };
    Ok(Some(f64::from(rate) * width))
}

/// AssemblyAI's error shape, `{"error": "<message>"}` (its HTTP API's, and what both SDKs
/// read as an error when it arrives as a message).
fn error_body(_code: &str, message: &str, _request_id: &str) -> Value {
    json!({ "error": message })
}

/// The Python SDK's form: `Authorization: <key or token>` with no scheme. A value with a
/// scheme (`Token <T>`, `Bearer <T>`) is left to the forms that know it, so this one is tried
/// first and takes only a single bare word.
fn from_headers(headers: &HeaderMap) -> Result<Option<Secret>, AuthError> {
    let Some(v) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let v = v.trim();
    if v.is_empty() || v.contains(char::is_whitespace) {
        return Ok(None);
    }
    Ok(Some(Secret::new(v)))
}

/// Every route this provider serves is a Universal Streaming route.
fn path(_: RouteKind) -> &'static str {
    PATH
}
