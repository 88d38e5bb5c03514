use axum::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use super::usage::{base64_len, spoken_chars};
use super::*;
use crate::provider::{ClientUsage, UpstreamUsage};

const TTS: RouteKind = RouteKind::ElevenLabsTts;
const STT: RouteKind = RouteKind::ElevenLabsStt;

#[test]
fn the_upstream_takes_the_raw_key_in_xi_api_key_on_its_own_paths() {
    assert_eq!(PROVIDER.base_url, "wss://api.elevenlabs.io");
    assert_eq!(PROVIDER.credential_header, "xi-api-key");
    assert!(matches!(PROVIDER.auth_scheme, AuthScheme::Raw));
    assert_eq!(
        (PROVIDER.path)(RouteKind::ElevenLabsTtsMulti),
        "/v1/text-to-speech/{voice_id}/multi-stream-input"
    );
    assert_eq!((PROVIDER.path)(STT), "/v1/speech-to-text/realtime");
}

#[test]
fn the_xi_api_key_header_is_a_credential_and_an_empty_one_is_refused() {
    let mut headers = HeaderMap::new();
    assert!(from_headers(&headers).unwrap().is_none());
    headers.insert("xi-api-key", HeaderValue::from_static("vk-1"));
    assert_eq!(from_headers(&headers).unwrap().unwrap().expose(), "vk-1");
    headers.insert("xi-api-key", HeaderValue::from_static(" "));
    assert!(from_headers(&headers).is_err());
}

#[test]
fn refusals_take_elevenlabs_shapes_before_and_after_the_upgrade() {
    assert_eq!(
        (TTS_API.error_body)("INVALID_AUTH", "invalid credentials", "id"),
        json!({"detail": {"status": "invalid_api_key", "message": "invalid credentials"}})
    );
    assert_eq!(
        crate::provider::message_error_body(TTS, "INVALID_AUTH", "invalid credentials", "id"),
        json!({"message": "invalid credentials", "error": "invalid_api_key", "code": 1008})
    );
    assert_eq!(
        crate::provider::message_error_body(STT, "INVALID_AUTH", "no", "id"),
        json!({"message_type": "auth_error", "error": "no"})
    );
    assert_eq!(
        crate::provider::message_error_body(STT, "BAD_REQUEST", "no", "id")["message_type"],
        "error"
    );
}

#[test]
fn credentials_live_where_each_api_puts_them() {
    assert_eq!(TTS_API.query_credentials, ["single_use_token"]);
    assert_eq!(SCRIBE_API.query_credentials, ["token"]);
    assert!(TTS_API.message_credentials.contains(&"xi_api_key"));
    assert!(SCRIBE_API.message_credentials.is_empty());
    for name in TTS_API
        .query_credentials
        .iter()
        .chain(SCRIBE_API.query_credentials)
    {
        assert!(crate::rewrite::params::is_credential(name), "{name}");
    }
    assert!((TTS_API.keepalive_refused)(TTS).is_none());
    assert!((TTS_API.keepalive_refused)(RouteKind::ElevenLabsTtsMulti).is_some());
    assert!((SCRIBE_API.keepalive_refused)(STT).is_some());
}

#[test]
fn text_counts_except_the_single_space_and_the_end() {
    assert_eq!(spoken_chars(" "), 0);
    assert_eq!(spoken_chars(""), 0);
    assert_eq!(spoken_chars("Hello wörld "), 12);
    let msg = |s: &str| Message::text(s.to_owned());
    assert_eq!(
        client_usage(TTS, &msg(r#"{"text":"Hi there ","flush":true}"#)),
        ClientUsage::Characters(9)
    );
    assert_eq!(
        client_usage(TTS, &msg(r#"{"text":" ","voice_settings":{}}"#)),
        ClientUsage::Nothing
    );
    assert_eq!(
        client_usage(TTS, &msg(r#"{"text":"","context_id":"a"}"#)),
        ClientUsage::Nothing
    );
    assert_eq!(
        client_usage(TTS, &msg("not json \"text\"")),
        ClientUsage::Nothing
    );
    assert_eq!(
        client_usage(TTS, &Message::binary(vec![1, 2])),
        ClientUsage::Nothing
    );
}

#[test]
fn audio_is_measured_from_base64_both_ways() {
    assert_eq!(base64_len("AAAA", false), 3);
    assert_eq!(base64_len("AAA=", false), 2);
    assert_eq!(base64_len("AA==", false), 1);
    assert_eq!(base64_len("A\\/A=", true), 2);
    let msg = |s: &str| Message::text(s.to_owned());
    assert_eq!(
        client_usage(
            STT,
            &msg(
                r#"{"message_type":"input_audio_chunk","audio_base_64":"AAAAAAAA","commit":false}"#
            )
        ),
        ClientUsage::SessionAudio(6)
    );
    assert_eq!(
        client_usage(
            STT,
            &msg(r#"{"message_type":"input_audio_chunk","audio_base_64":"","commit":true}"#)
        ),
        ClientUsage::Nothing
    );
    assert_eq!(
        upstream_usage(
            TTS,
            &msg(r#"{"audio":"AAAA","isFinal":null,"alignment":{"chars":["a"]}}"#)
        ),
        UpstreamUsage::SessionAudio(3)
    );
    assert_eq!(
        upstream_usage(TTS, &msg(r#"{"audio":null,"isFinal":true}"#)),
        UpstreamUsage::Nothing
    );
    assert_eq!(
        upstream_usage(STT, &msg(r#"{"audio":"AAAA"}"#)),
        UpstreamUsage::Nothing
    );
}
