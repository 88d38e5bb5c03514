//! Every registry entry is complete and consistent.

use axum::http::HeaderName;

use super::UpstreamKind;
use crate::config::RouteKind;
use crate::rewrite::check_template;

#[test]
fn every_provider_has_a_websocket_base_url_and_a_valid_credential_header() {
    for kind in UpstreamKind::ALL {
        let p = kind.provider();
        // the generic kind has no default: its config must give `base_url`
        assert!(
            p.base_url.starts_with("wss://")
                || (kind == UpstreamKind::Generic && p.base_url.is_empty()),
            "{kind:?}"
        );
        assert!(!p.base_url.ends_with('/'), "{kind:?}");
        HeaderName::from_static(p.credential_header);
    }
}

#[test]
fn every_provider_alias_template_is_valid() {
    for kind in UpstreamKind::ALL {
        for (pattern, template) in kind.provider().aliases {
            assert_eq!(check_template(template), Ok(()), "{kind:?} {pattern}");
        }
    }
}

#[test]
fn every_provider_prices_are_finite_and_its_own_kinds_positive() {
    for kind in UpstreamKind::ALL {
        assert!(
            kind.provider()
                .prices
                .all()
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0)
        );
    }
    let openai = UpstreamKind::OpenAi.provider().prices;
    assert!(
        openai.text_input_usd_per_1m_tokens > 0.0 && openai.audio_output_usd_per_1m_tokens > 0.0
    );
    for kind in [UpstreamKind::Deepgram, UpstreamKind::Cloudflare] {
        let p = kind.provider().prices;
        for v in [
            p.listen_usd_per_minute,
            p.flux_usd_per_minute,
            p.speak_usd_per_1k_chars,
        ] {
            assert!(v.is_finite() && v > 0.0, "{kind:?}");
        }
    }
}

#[test]
fn paths_per_route_kind_are_the_providers_own() {
    let dg = UpstreamKind::Deepgram.provider();
    let cf = UpstreamKind::Cloudflare.provider();
    for (kind, path) in [
        (RouteKind::Listen, "/v1/listen"),
        (RouteKind::Speak, "/v1/speak"),
        (RouteKind::Flux, "/v2/listen"),
    ] {
        assert_eq!((dg.path)(kind), path);
        // the Workers AI endpoint serves every kind; the model picks the API
        assert_eq!((cf.path)(kind), "");
    }
    let openai = UpstreamKind::OpenAi.provider();
    assert_eq!((openai.path)(RouteKind::Realtime), "/v1/realtime");
}

#[test]
fn realtime_routes_reach_only_openai_upstreams() {
    for kind in UpstreamKind::ALL {
        let serves = kind.provider().route_kinds.contains(&RouteKind::Realtime);
        assert_eq!(serves, kind == UpstreamKind::OpenAi, "{kind:?}");
    }
}

#[test]
fn the_client_api_refuses_in_deepgrams_error_shape() {
    let api = super::CLIENT_API;
    assert_eq!(
        (api.error_body)("INVALID_AUTH", "invalid credentials", "id-1"),
        serde_json::json!({"err_code": "INVALID_AUTH", "err_msg": "invalid credentials", "request_id": "id-1"})
    );
    assert_eq!(api.error_header, Some("dg-error"));
    assert_eq!(api.request_id_header, "dg-request-id");
    assert_eq!(api.keepalive, r#"{"type":"KeepAlive"}"#);
    for name in api.forwarded_headers {
        HeaderName::from_static(name);
        assert!(
            !name.contains("auth"),
            "credentials are never forwarded: {name}"
        );
    }
}

#[test]
fn every_route_kind_drains_with_its_apis_finalize_or_closes_at_once() {
    use crate::relay::FinalsDone::{TextContains, UpstreamCloses};
    let drain =
        |kind: RouteKind| (super::client_api(kind).finalize)(kind).map(|f| (f.message, &f.done));
    let close_stream = Some((r#"{"type":"CloseStream"}"#, &UpstreamCloses));
    assert_eq!(drain(RouteKind::Listen), close_stream);
    assert_eq!(drain(RouteKind::Flux), close_stream);
    assert_eq!(
        drain(RouteKind::Speak),
        Some((r#"{"type":"Flush"}"#, &TextContains(&["\"Flushed\""])))
    );
    assert_eq!(
        drain(RouteKind::AssemblyAi),
        Some((
            r#"{"type":"Terminate"}"#,
            &TextContains(&["\"Termination\""])
        ))
    );
    assert_eq!(
        drain(RouteKind::ElevenLabsTts),
        Some((r#"{"text":""}"#, &TextContains(&["\"isFinal\":true"])))
    );
    assert_eq!(
        drain(RouteKind::ElevenLabsTtsMulti).map(|d| d.0),
        Some(r#"{"close_socket":true}"#)
    );
    assert!(drain(RouteKind::ElevenLabsStt).is_some_and(|d| d.0.contains("\"commit\":true")));
    assert_eq!(
        drain(RouteKind::CartesiaStt),
        Some(("close", &UpstreamCloses))
    );
    assert_eq!(
        drain(RouteKind::CartesiaTurns),
        Some((r#"{"type":"close"}"#, &UpstreamCloses))
    );
    assert!(drain(RouteKind::Realtime).is_some_and(|d| d.0.contains("input_audio_buffer.commit")));
    // no socket-wide flush, or nothing known about the API: 1012 at once
    assert_eq!(drain(RouteKind::CartesiaTts), None);
    assert_eq!(drain(RouteKind::Generic), None);
    // every finalize is a JSON object except Cartesia's plain-text command
    for kind in [
        RouteKind::Listen,
        RouteKind::Speak,
        RouteKind::Realtime,
        RouteKind::ElevenLabsStt,
    ] {
        let (message, _) = drain(kind).unwrap();
        assert!(serde_json::from_str::<serde_json::Value>(message).is_ok_and(|v| v.is_object()));
    }
}

#[test]
fn bare_model_strips_any_registered_model_prefix_once() {
    assert_eq!(super::bare_model("@cf/deepgram/nova-3"), "nova-3");
    assert_eq!(super::bare_model("nova-3"), "nova-3");
    assert_eq!(
        super::bare_model("@cf/openai/whisper"),
        "@cf/openai/whisper"
    );
    assert_eq!(
        super::bare_model("@cf/deepgram/@cf/deepgram/x"),
        "@cf/deepgram/x"
    );
}

#[test]
fn the_client_api_meters_audio_frames_and_speak_characters() {
    use super::{ClientUsage, UpstreamUsage, client_message, upstream_usage};
    use crate::route::ModelRules;
    use tokio_tungstenite::tungstenite::Message;
    let rules = ModelRules::default();
    let client_usage =
        |kind, msg: &Message| client_message(kind, &mut msg.clone(), &rules).unwrap();
    let audio = Message::Binary(vec![0; 320].into());
    let speak = Message::Text(r#"{"type":"Speak","text":"Héllo"}"#.into());
    let flush = Message::Text(r#"{"type":"Flush"}"#.into());
    assert_eq!(
        client_usage(RouteKind::Listen, &audio),
        ClientUsage::Audio(320)
    );
    assert_eq!(
        client_usage(RouteKind::Flux, &audio),
        ClientUsage::Audio(320)
    );
    let empty = Message::Binary(Vec::new().into());
    assert_eq!(
        client_usage(RouteKind::Listen, &empty),
        ClientUsage::Nothing
    );
    assert_eq!(
        client_usage(RouteKind::Speak, &speak),
        ClientUsage::Characters(5)
    );
    assert_eq!(client_usage(RouteKind::Speak, &flush), ClientUsage::Nothing);
    assert_eq!(
        client_usage(RouteKind::Listen, &speak),
        ClientUsage::Nothing
    );
    assert_eq!(
        upstream_usage(RouteKind::Speak, &audio),
        UpstreamUsage::Audio(320)
    );
    assert_eq!(
        upstream_usage(RouteKind::Listen, &audio),
        UpstreamUsage::Nothing
    );
    // Deepgram's routes read no model out of messages: nothing is refused, even with no rules
    let update = Message::Text(r#"{"type":"session.update","session":{"model":"x"}}"#.into());
    assert_eq!(
        client_usage(RouteKind::Listen, &update),
        ClientUsage::Nothing
    );
}

#[test]
fn keep_alive_is_on_by_default_for_listen_and_refused_on_flux() {
    let api = super::CLIENT_API;
    assert!((api.keepalive_by_default)(RouteKind::Listen));
    assert!(!(api.keepalive_by_default)(RouteKind::Speak));
    assert!(!(api.keepalive_by_default)(RouteKind::Flux));
    assert_eq!((api.keepalive_refused)(RouteKind::Listen), None);
    assert_eq!((api.keepalive_refused)(RouteKind::Speak), None);
    assert!((api.keepalive_refused)(RouteKind::Flux).is_some());
}

/// The provider-agnostic modules, as compiled.
const AGNOSTIC: [(&str, &str); 30] = [
    ("app.rs", include_str!("../app.rs")),
    ("auth.rs", include_str!("../auth.rs")),
    ("config/load.rs", include_str!("../config/load.rs")),
    ("config/validate.rs", include_str!("../config/validate.rs")),
    (
        "config/validate/limits.rs",
        include_str!("../config/validate/limits.rs"),
    ),
    (
        "config/validate/routes.rs",
        include_str!("../config/validate/routes.rs"),
    ),
    (
        "config/validate/upstreams.rs",
        include_str!("../config/validate/upstreams.rs"),
    ),
    ("conns.rs", include_str!("../conns.rs")),
    ("error.rs", include_str!("../error.rs")),
    ("http.rs", include_str!("../http.rs")),
    ("limits.rs", include_str!("../limits.rs")),
    (
        "limits/client_ip.rs",
        include_str!("../limits/client_ip.rs"),
    ),
    ("metrics.rs", include_str!("../metrics.rs")),
    ("metrics/builder.rs", include_str!("../metrics/builder.rs")),
    ("relay.rs", include_str!("../relay.rs")),
    ("relay/pump.rs", include_str!("../relay/pump.rs")),
    ("serve.rs", include_str!("../serve.rs")),
    ("session.rs", include_str!("../session.rs")),
    ("session/connect.rs", include_str!("../session/connect.rs")),
    ("session/run.rs", include_str!("../session/run.rs")),
    ("state.rs", include_str!("../state.rs")),
    ("upstream.rs", include_str!("../upstream.rs")),
    (
        "upstream/breaker.rs",
        include_str!("../upstream/breaker.rs"),
    ),
    (
        "upstream/refusal.rs",
        include_str!("../upstream/refusal.rs"),
    ),
    ("usage.rs", include_str!("../usage.rs")),
    ("usage/format.rs", include_str!("../usage/format.rs")),
    ("usage/guard.rs", include_str!("../usage/guard.rs")),
    ("usage/events.rs", include_str!("../usage/events.rs")),
    ("usage/tokens.rs", include_str!("../usage/tokens.rs")),
    ("route.rs", include_str!("../route.rs")),
];

#[test]
fn session_auth_limits_relay_metrics_and_config_loading_name_no_provider() {
    let marks = [
        "deepgram",
        "cloudflare",
        "cf-aig",
        "openai",
        "assemblyai",
        "dg-",
        "@cf/",
        "\"keepalive\"",
        "\"speak\"",
    ];
    for (file, text) in AGNOSTIC {
        let text = text.to_ascii_lowercase();
        for mark in marks {
            assert!(!text.contains(mark), "src/{file} names a provider: {mark}");
        }
    }
}
