//! Connecting a `realtime` route's upstream: refusals, unreachable and silent upstreams reach
//! the client in OpenAI's error shape and are counted under the `openai` upstream's name.

use super::*;

/// A relay whose `oa` upstream is at `base` (its Deepgram upstreams too), after `edit`.
async fn relay_to(base: &str, edit: impl FnOnce(String) -> String) -> TestApp {
    TestApp::start(&edit(realtime_config_with(base, ""))).await
}

#[tokio::test]
async fn an_openai_refusal_of_the_upstream_key_reaches_the_client_as_openais_401() {
    let base = spawn_simulator(SimulatorConfig {
        api_key: Some("a-different-upstream-key".into()),
        ..SimulatorConfig::default()
    })
    .await;
    let app = relay_to(&base, |t| t).await;
    let (status, body, _) = refused_realtime(&app).await;
    assert_eq!(status, 401, "{body}");
    // the upstream's own OpenAI error, passed through (scrubbed of the injected key)
    assert_eq!(body["error"]["code"], "invalid_api_key", "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert!(!body.to_string().contains(UPSTREAM_SECRET), "{body}");
    let m = app.metrics().await;
    for needle in [
        r#"voxrelay_upstream_attempts_total{outcome="rejected",upstream="oa"} 1"#,
        r#"voxrelay_upstream_handshakes_total{status_class="4xx",upstream="oa"} 1"#,
        r#"voxrelay_handshake_rejections_total{reason="upstream_rejected",route="realtime"} 1"#,
    ] {
        assert!(m.contains(needle), "missing {needle} in\n{m}");
    }
}

#[tokio::test]
async fn an_unreachable_openai_upstream_gives_openais_502() {
    // a port that was just free: nothing listens there
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("ws://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = relay_to(&base, |t| t).await;
    let (status, body, _) = refused_realtime(&app).await;
    assert_eq!(status, 502, "{body}");
    openai_error(&body, "server_error", "upstream_unavailable");
    let m = app.metrics().await;
    for needle in [
        r#"voxrelay_upstream_attempts_total{outcome="unreachable",upstream="oa"} 1"#,
        r#"voxrelay_upstream_handshakes_total{status_class="network_error",upstream="oa"} 1"#,
        r#"voxrelay_upstream_connect_duration_seconds_count{upstream="oa"} 1"#,
        r#"voxrelay_handshake_rejections_total{reason="upstream_unreachable",route="realtime"} 1"#,
    ] {
        assert!(m.contains(needle), "missing {needle} in\n{m}");
    }
}

#[tokio::test]
async fn a_silent_openai_upstream_gives_openais_504_at_the_connect_deadline() {
    let up = FakeUpstream::start(Behaviour::Hang).await;
    let app = relay_to(&up.base(), |t| {
        t.replace(
            "upstream_connect_timeout = \"2s\"",
            "upstream_connect_timeout = \"300ms\"",
        )
    })
    .await;
    let (status, body, _) = refused_realtime(&app).await;
    assert_eq!(status, 504, "{body}");
    openai_error(&body, "server_error", "upstream_timeout");
    let m = app.metrics().await;
    for needle in [
        r#"voxrelay_upstream_attempts_total{outcome="timeout",upstream="oa"} 1"#,
        r#"voxrelay_handshake_rejections_total{reason="upstream_timeout",route="realtime"} 1"#,
    ] {
        assert!(m.contains(needle), "missing {needle} in\n{m}");
    }
}
