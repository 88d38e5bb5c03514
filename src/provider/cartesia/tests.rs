//! Cartesia's registry entry, client API and handshake metering.

use axum::http::{HeaderName, HeaderValue};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::*;
use crate::provider::{ClientUsage, client_api};
use crate::rewrite::{ClientQuery, Pattern, QueryPolicy};

#[test]
fn the_upstream_is_bearer_with_a_path_per_route_kind() {
    assert_eq!(PROVIDER.base_url, "wss://api.cartesia.ai");
    assert_eq!(PROVIDER.credential_header, "authorization");
    assert!(matches!(PROVIDER.auth_scheme, AuthScheme::Bearer));
    assert_eq!((PROVIDER.path)(RouteKind::CartesiaTts), "/tts/websocket");
    assert_eq!((PROVIDER.path)(RouteKind::CartesiaStt), "/stt/websocket");
    assert_eq!(
        (PROVIDER.path)(RouteKind::CartesiaTurns),
        "/stt/turns/websocket"
    );
    for kind in PROVIDER.route_kinds {
        assert!(kind.as_str().starts_with("cartesia_"));
    }
}

#[test]
fn refusals_take_cartesias_structured_error_shape() {
    assert_eq!(
        (TTS_API.error_body)("INVALID_AUTH", "invalid credentials", "id-1"),
        json!({"error_code": "invalid_api_key", "title": "Unauthorized",
            "message": "invalid credentials", "request_id": "id-1"})
    );
    let bad = (STT_API.error_body)("BAD_REQUEST", "model 'x' is not allowed", "id-2");
    assert_eq!(bad["error_code"], "bad_request");
    assert_eq!(bad["title"], "Bad Request");
    assert!((TTS_API.keepalive_refused)(RouteKind::CartesiaTts).is_some());
    assert_eq!(TTS_API.model_param, None);
    assert_eq!(STT_API.model_param, Some("model"));
    for name in TTS_API.query_credentials {
        assert!(crate::rewrite::params::is_credential(name), "{name}");
    }
    assert!(std::ptr::eq(
        client_api(RouteKind::CartesiaTurns),
        client_api(RouteKind::CartesiaStt)
    ));
}

#[test]
fn the_default_version_is_added_unless_the_config_names_one() {
    use crate::provider::UpstreamKind;
    let default_headers = |kind: UpstreamKind, headers: &mut Vec<_>| {
        crate::provider::add_default_headers(kind.provider(), headers)
    };
    let mut headers = Vec::new();
    default_headers(UpstreamKind::Cartesia, &mut headers);
    assert_eq!(headers.len(), 1);
    assert_eq!(headers[0].1, DEFAULT_VERSION);
    let mut configured = vec![(
        HeaderName::from_static("cartesia-version"),
        HeaderValue::from_static("2025-04-16"),
    )];
    default_headers(UpstreamKind::Cartesia, &mut configured);
    assert_eq!(configured.len(), 1);
    assert_eq!(configured[0].1, "2025-04-16");
    let mut other = Vec::new();
    default_headers(UpstreamKind::Deepgram, &mut other);
    assert!(other.is_empty());
}

#[test]
fn prices_follow_the_pro_plan_and_ink_whisper_is_a_third_of_ink_2() {
    assert!((PRICES.speak_usd_per_1k_chars - 0.05).abs() < 1e-12);
    assert!((PRICES.listen_usd_per_minute - 0.009).abs() < 1e-12);
    let whisper = model_prices("ink-whisper").unwrap();
    assert!((whisper.listen_usd_per_minute - 0.003).abs() < 1e-12);
    assert!(model_prices("ink-2").is_none());
}

fn rate(kind: RouteKind, raw: &str) -> Result<Option<f64>, crate::rewrite::RewriteError> {
    let policy = QueryPolicy {
        default_model: "ink-2".into(),
        models: vec![Pattern::new("*")].into(),
        ..QueryPolicy::default()
    };
    let query = ClientQuery::parse(Some(raw), &policy)?;
    stt::audio_rate(kind, &query, &policy)
}

#[test]
fn stt_audio_is_metered_at_its_encoding_and_sample_rate() {
    let stt = RouteKind::CartesiaStt;
    for (query, want) in [
        ("encoding=pcm_s16le&sample_rate=16000", 32_000.0),
        ("encoding=pcm_f16le&sample_rate=16000", 32_000.0),
        ("encoding=pcm_s32le&sample_rate=8000", 32_000.0),
        ("encoding=pcm_f32le&sample_rate=24000", 96_000.0),
        ("encoding=pcm_mulaw&sample_rate=8000", 8_000.0),
        ("encoding=pcm_alaw&sample_rate=8000", 8_000.0),
    ] {
        assert_eq!(rate(stt, query).unwrap(), Some(want), "{query}");
    }
    assert_eq!(rate(stt, "encoding=pcm_s16le").unwrap(), None);
    assert!(rate(stt, "encoding=opus&sample_rate=16000").is_err());
    assert!(rate(stt, "encoding=pcm_s16le&sample_rate=16000&sample_rate=8000").is_err());
    assert!(rate(stt, "encoding=pcm_s16le&sample_rate=-1").is_err());
    // text to speech names its formats per request
    assert_eq!(rate(RouteKind::CartesiaTts, "").unwrap(), None);
}

#[test]
fn stt_binary_frames_are_audio_and_commands_are_not() {
    assert_eq!(
        stt::client_usage(&Message::Binary(vec![0; 3200].into())),
        ClientUsage::Audio(3200)
    );
    assert_eq!(
        stt::client_usage(&Message::text("finalize")),
        ClientUsage::Nothing
    );
}
