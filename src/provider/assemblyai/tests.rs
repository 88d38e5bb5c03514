use axum::http::{HeaderMap, HeaderValue};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::*;
use crate::config::PricesConfig;

fn rate(query: &str) -> Result<Option<f64>, RewriteError> {
    let policy = QueryPolicy {
        default_model: "universal-streaming-english".into(),
        models: std::sync::Arc::new([crate::rewrite::Pattern::new("*")]),
        model_param: Some("speech_model".into()),
        ..QueryPolicy::default()
    };
    let q = ClientQuery::parse(Some(query), &policy).unwrap();
    audio_rate(RouteKind::AssemblyAi, &q, &policy)
}

#[test]
fn the_audio_rate_comes_from_sample_rate_and_encoding() {
    assert_eq!(rate(""), Ok(Some(32_000.0)));
    assert_eq!(rate("sample_rate=8000"), Ok(Some(16_000.0)));
    assert_eq!(
        rate("sample_rate=24000&encoding=pcm_s16le"),
        Ok(Some(48_000.0))
    );
    assert_eq!(
        rate("encoding=pcm_mulaw&sample_rate=8000"),
        Ok(Some(8_000.0))
    );
    // compressed encodings: the bytes tell no duration
    assert_eq!(rate("encoding=opus&sample_rate=nonsense"), Ok(None));
    for bad in ["sample_rate=fast", "sample_rate=100", "sample_rate=-16000"] {
        assert!(
            matches!(
                rate(bad),
                Err(RewriteError::InvalidParam {
                    name: "sample_rate",
                    ..
                })
            ),
            "{bad}"
        );
    }
    assert_eq!(
        rate("sample_rate=8000&sample_rate=48000"),
        Err(RewriteError::DuplicateParam("sample_rate"))
    );
}

#[test]
fn binary_frames_are_audio_and_the_clients_terminate_finishes() {
    let audio = Message::Binary(vec![0; 3200].into());
    assert_eq!(client_usage(&audio), ClientUsage::Audio(3200));
    assert_eq!(
        client_usage(&Message::Binary(Vec::new().into())),
        ClientUsage::Nothing
    );
    for finish in [
        r#"{"type":"Terminate"}"#,
        r#"{ "type" : "Terminate", "x": 1 }"#,
    ] {
        assert_eq!(client_usage(&Message::text(finish)), ClientUsage::Finish);
    }
    for other in [
        r#"{"type":"KeepAlive"}"#,
        r#"{"type":"ForceEndpoint"}"#,
        r#"{"note":"Terminate"}"#,
        r#"{"type":"NotTerminate","text":"\"Terminate\""}"#,
        "\"Terminate\"",
    ] {
        assert_eq!(
            client_usage(&Message::text(other)),
            ClientUsage::Nothing,
            "{other}"
        );
    }
}

#[test]
fn termination_is_the_upstreams_account_and_other_messages_count_nothing() {
    let t = json!({"type":"Termination","audio_duration_seconds":3,"session_duration_seconds":5});
    assert_eq!(
        upstream_usage(&Message::text(t.to_string())),
        UpstreamUsage::Reported {
            audio_seconds: 3.0,
            session_seconds: 5.0
        }
    );
    let fractional =
        r#"{"type":"Termination","audio_duration_seconds":2.5,"session_duration_seconds":4.25}"#;
    assert!(matches!(
        upstream_usage(&Message::text(fractional)),
        UpstreamUsage::Reported { audio_seconds, .. } if audio_seconds == 2.5
    ));
    for other in [
        r#"{"type":"Turn","transcript":"Termination"}"#,
        r#"{"type":"Termination"}"#,
        r#"{"type":"Termination","audio_duration_seconds":"3","session_duration_seconds":1}"#,
        r#"{"type":"Begin","id":"x","expires_at":1}"#,
    ] {
        assert_eq!(
            upstream_usage(&Message::text(other)),
            UpstreamUsage::Nothing,
            "{other}"
        );
    }
    assert_eq!(
        upstream_usage(&Message::Binary(b"\"Termination\"".to_vec().into())),
        UpstreamUsage::Nothing
    );
}

fn raw(value: &str) -> Result<Option<String>, AuthError> {
    let mut h = HeaderMap::new();
    h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
    from_headers(&h).map(|s| s.map(|s| s.expose().to_owned()))
}

#[test]
fn a_raw_authorization_is_the_credential_and_one_with_a_scheme_is_left_to_others() {
    assert_eq!(raw("k-1"), Ok(Some("k-1".into())));
    assert_eq!(raw("  eyJ.a.b "), Ok(Some("eyJ.a.b".into())));
    assert_eq!(raw("Token k-1"), Ok(None));
    assert_eq!(raw("Basic dXNlcg=="), Ok(None));
    assert_eq!(raw(""), Ok(None));
    assert_eq!(from_headers(&HeaderMap::new()), Ok(None));
    assert!(
        (PROVIDER.credentials.from_protocols)(&["token", "k"])
            .unwrap()
            .is_none()
    );
}

#[test]
fn refusals_take_assemblyais_error_shape_and_the_upstream_is_v3_ws_with_the_bare_key() {
    assert_eq!(
        (CLIENT_API.error_body)("INVALID_AUTH", "invalid credentials", "id-1"),
        json!({"error": "invalid credentials"})
    );
    assert_eq!(PROVIDER.base_url, "wss://streaming.assemblyai.com");
    assert_eq!((PROVIDER.path)(RouteKind::AssemblyAi), "/v3/ws");
    assert_eq!(PROVIDER.credential_header, "authorization");
    assert!(matches!(PROVIDER.auth_scheme, AuthScheme::Raw));
    assert_eq!(CLIENT_API.farewell, Some(r#"{"type":"Terminate"}"#));
    assert_eq!(CLIENT_API.keepalive, r#"{"type":"KeepAlive"}"#);
    assert!(!(CLIENT_API.keepalive_by_default)(RouteKind::AssemblyAi));
    assert_eq!((CLIENT_API.keepalive_refused)(RouteKind::AssemblyAi), None);
    assert_eq!(CLIENT_API.model_param, Some("speech_model"));
    assert_eq!(CLIENT_API.query_credentials, &["token"]);
    for name in CLIENT_API.query_credentials {
        assert!(crate::rewrite::params::CREDENTIAL_PARAMS.contains(name));
    }
}

#[test]
fn sessions_are_priced_by_time_per_model_and_audio_is_free() {
    let per_hour = |p: PricesConfig| p.session_usd_per_minute * 60.0;
    assert!((per_hour(PROVIDER.prices) - 0.15).abs() < 1e-12);
    assert_eq!(PROVIDER.prices.listen_usd_per_minute, 0.0);
    let for_model = PROVIDER.model_prices.unwrap();
    assert!((per_hour(for_model("u3-rt-pro").unwrap()) - 0.45).abs() < 1e-12);
    assert!((per_hour(for_model("u3-rt-pro-beta-1").unwrap()) - 0.45).abs() < 1e-12);
    assert_eq!(
        for_model("universal-streaming-multilingual"),
        Some(PROVIDER.prices)
    );
    assert_eq!(for_model("whisper-rt"), None);
    assert_eq!(for_model("u3-rt-professional"), None);
    assert_eq!(
        RouteKind::AssemblyAi.audio_usd_per_minute(&PROVIDER.prices),
        0.0
    );
    assert!(!RouteKind::AssemblyAi.synthesizes() && !RouteKind::AssemblyAi.audio_in_events());
}
