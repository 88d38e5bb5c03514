//! ElevenLabs: as an upstream (`wss://api.elevenlabs.io`, `xi-api-key: <key>`) for text-to-speech
//! (`/v1/text-to-speech/{voice_id}/stream-input` and `/multi-stream-input`) and Scribe realtime
//! speech-to-text (`/v1/speech-to-text/realtime`), and as the API clients speak on the
//! `elevenlabs_*` routes: where its SDKs put the credential (the `xi-api-key` header, `?token=`
//! for Scribe in browsers, `?single_use_token=` or a field of the first message for
//! text-to-speech), its error shapes, its keep-alive and metering.

mod format;
mod usage;

pub(super) use usage::{client_usage, upstream_usage};

use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::{ClientApi, CredentialForm, Finalize, FinalsDone, Provider, common};
use crate::auth::{AuthError, Credential};
use crate::config::{AuthScheme, PricesConfig, RouteKind};
use crate::secret::Secret;

/// ElevenLabs' hosted API.
pub(crate) const BASE_URL: &str = "wss://api.elevenlabs.io";

/// Header ElevenLabs takes the API key in; its Python SDK sends it to voxrelay too.
const KEY_HEADER: &str = "xi-api-key";

/// ElevenLabs' list prices (same per-unit rate on every plan): text-to-speech with the Flash
/// and Turbo models $0.05 per 1,000 characters (the routes' default model is Flash v2.5;
/// Multilingual v2/v3 cost $0.10: set `[upstreams.<name>.prices]` for them), Scribe v2
/// Realtime $0.39 an hour of audio (third-party transcriptions of ElevenLabs' pricing,
/// June 2026).
pub(crate) const PRICES: PricesConfig = PricesConfig {
    listen_usd_per_minute: 0.0065,
    speak_usd_per_1k_chars: 0.05,
    ..PricesConfig::UNKNOWN
};

/// The registry entry.
pub(crate) static PROVIDER: Provider = Provider {
    base_url: BASE_URL,
    endpoint: common::base_as_is,
    path,
    route_kinds: &[
        RouteKind::ElevenLabsTts,
        RouteKind::ElevenLabsTtsMulti,
        RouteKind::ElevenLabsStt,
    ],
    credential_header: KEY_HEADER,
    auth_scheme: AuthScheme::Raw,
    aliases: &[],
    prices: PRICES,
    model_prices: None,
    credentials: CredentialForm {
        from_protocols,
        from_headers,
    },
    model_prefix: None,
    paths: None,
    own_path_routes: None,
    default_headers: &[],
    token_prefix: None,
    rest: None,
};

/// Message fields carrying a credential on text-to-speech: `xi-api-key` (stream-input's
/// first message), `xi_api_key` (multi-context initialisation), `authorization` ("a bearer
/// token"), and the single-use token's spellings.
const MESSAGE_CREDENTIALS: &[&str] = &[
    "xi-api-key",
    "xi_api_key",
    "authorization",
    "single_use_token",
    "singleUseToken",
];

/// ElevenLabs' text-to-speech API as clients speak it on `elevenlabs_tts` and
/// `elevenlabs_tts_multi` routes.
pub(crate) const TTS_API: ClientApi = ClientApi {
    error_body,
    message_error_body: Some(tts_message_error),
    error_header: None,
    request_id_header: "request-id",
    forwarded_headers: &["user-agent"],
    // a single space is ElevenLabs' keep-alive; `""` would end the stream
    keepalive: r#"{"text":" "}"#,
    keepalive_by_default: |_| false,
    keepalive_refused: |kind| {
        (kind == RouteKind::ElevenLabsTtsMulti).then_some(
            "multi-stream-input keeps each context alive with {\"text\":\"\",\"context_id\":…}; \
             a socket-wide keep-alive would open a default context",
        )
    },
    // `mp3_44100_128` unless `output_format` says otherwise: 16,000 bytes a second
    tts_output: ("mp3", 16_000.0),
    modelless_param: None,
    unsupported: |_| None,
    model_param: Some("model_id"),
    query_credentials: &["single_use_token"],
    message_credentials: MESSAGE_CREDENTIALS,
    farewell: None,
    finalize: tts_finalize,
    audio_rate: Some(format::audio_rate),
};

/// ElevenLabs' Scribe realtime API as clients speak it on `elevenlabs_stt` routes.
pub(crate) const SCRIBE_API: ClientApi = ClientApi {
    error_body,
    message_error_body: Some(scribe_message_error),
    error_header: None,
    request_id_header: "request-id",
    forwarded_headers: &["user-agent"],
    keepalive: "",
    keepalive_by_default: |_| false,
    keepalive_refused: |_| Some("Scribe realtime has no keep-alive message"),
    tts_output: ("linear16", 16_000.0),
    modelless_param: None,
    unsupported: |_| None,
    model_param: Some("model_id"),
    query_credentials: &["token"],
    message_credentials: &[],
    farewell: None,
    finalize: |_| Some(&SCRIBE_COMMIT),
    audio_rate: Some(format::audio_rate),
};

/// stream-input: end of stream, `{"text":""}`: the rest of the text is spoken, `isFinal`
/// follows and the upstream closes.
const EOS: Finalize = Finalize {
    message: r#"{"text":""}"#,
    done: FinalsDone::TextContains(&["\"isFinal\":true"]),
};

/// multi-stream-input: `close_socket` "flushes all contexts and closes the entire WebSocket".
const CLOSE_SOCKET: Finalize = Finalize {
    message: r#"{"close_socket":true}"#,
    done: FinalsDone::UpstreamCloses,
};

/// Scribe: a manual commit (an empty chunk with `commit: true`) turns the audio not yet
/// committed into a `committed_transcript`.
const SCRIBE_COMMIT: Finalize = Finalize {
    message: r#"{"message_type":"input_audio_chunk","audio_base_64":"","commit":true}"#,
    done: FinalsDone::TextContains(&["committed_transcript"]),
};

fn tts_finalize(kind: RouteKind) -> Option<&'static Finalize> {
    match kind {
        RouteKind::ElevenLabsTtsMulti => Some(&CLOSE_SOCKET),
        _ => Some(&EOS),
    }
}

/// The client API of an `elevenlabs_*` route kind.
pub(super) fn client_api(kind: RouteKind) -> &'static ClientApi {
    match kind {
        RouteKind::ElevenLabsStt => &SCRIBE_API,
        _ => &TTS_API,
    }
}

/// `detail.status` for voxrelay's refusal code: ElevenLabs' own where it has one.
fn status(code: &str) -> String {
    match code {
        "INVALID_AUTH" => "invalid_api_key".to_owned(),
        "INSUFFICIENT_PERMISSIONS" => "missing_permissions".to_owned(),
        other => other.to_ascii_lowercase(),
    }
}

/// ElevenLabs' HTTP error shape, `{"detail":{"status","message"}}` (no request id in the body;
/// it travels in the `request-id` header).
fn error_body(code: &str, message: &str, _request_id: &str) -> Value {
    json!({"detail": {"status": status(code), "message": message}})
}

/// A refusal after the upgrade, as ElevenLabs' in-session errors look: text-to-speech
/// `{"message","error","code":1008}` (as its input-timeout error), Scribe
/// `{"message_type":"auth_error"|"error","error"}`.
fn scribe_message_error(code: &str, message: &str) -> Value {
    let message_type = match code {
        "INVALID_AUTH" | "INSUFFICIENT_PERMISSIONS" => "auth_error",
        _ => "error",
    };
    json!({"message_type": message_type, "error": message})
}

/// Text-to-speech's in-session error, as its input timeout reads.
fn tts_message_error(code: &str, message: &str) -> Value {
    json!({"message": message, "error": status(code), "code": 1008})
}

/// ElevenLabs' SDKs offer no credential subprotocol (browsers use `?token=` or
/// `?single_use_token=`); Deepgram's `token, <T>` form works on every route.
fn from_protocols(_: &[&str]) -> Result<Option<Credential>, AuthError> {
    Ok(None)
}

/// `xi-api-key: <T>`, as ElevenLabs' server SDKs send it (an empty one is unusable).
fn from_headers(headers: &HeaderMap) -> Result<Option<Secret>, AuthError> {
    let Some(v) = headers.get(KEY_HEADER) else {
        return Ok(None);
    };
    match v.to_str().map(str::trim) {
        Ok(token) if !token.is_empty() => Ok(Some(Secret::new(token))),
        _ => Err(AuthError::Missing),
    }
}

fn path(kind: RouteKind) -> &'static str {
    match kind {
        RouteKind::ElevenLabsTts => "/v1/text-to-speech/{voice_id}/stream-input",
        RouteKind::ElevenLabsTtsMulti => "/v1/text-to-speech/{voice_id}/multi-stream-input",
        RouteKind::ElevenLabsStt => "/v1/speech-to-text/realtime",
        // not among its `route_kinds`
        _ => "",
    }
}

#[cfg(test)]
mod tests;
