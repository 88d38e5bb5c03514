//! OpenAI Realtime's retired beta interface: its opt-ins are refused before the upgrade, in
//! OpenAI's error shape with OpenAI's own code, and nothing reaches the upstream.

use crate::helpers::*;
use crate::openai::realtime_config;

async fn refused_as_beta(app: &TestApp, protocols: Option<&str>, headers: &[(&str, &str)]) {
    let (status, body) = refused(
        &app.ws("/v1/realtime?model=gpt-realtime"),
        protocols,
        headers,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert_eq!(body["error"]["code"], "beta_api_shape_disabled", "{body}");
    assert!(!body.to_string().contains(CLIENT_KEY), "{body}");
}

#[tokio::test]
async fn the_beta_header_or_subprotocol_is_refused_and_the_ga_form_still_connects() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::start(&realtime_config(&up.base())).await;
    let bearer = format!("Bearer {CLIENT_KEY}");
    refused_as_beta(
        &app,
        None,
        &[("authorization", &bearer), ("openai-beta", "realtime=v1")],
    )
    .await;
    let beta_browser =
        format!("realtime, openai-insecure-api-key.{CLIENT_KEY}, openai-beta.realtime-v1");
    refused_as_beta(&app, Some(&beta_browser), &[]).await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            r#"voxrelay_handshake_rejections_total{reason="unsupported",route="realtime"} 2"#
        ),
        "{metrics}"
    );
    // nothing reached the upstream: the next handshake it sees is the GA one
    let ga = format!("realtime, openai-insecure-api-key.{CLIENT_KEY}");
    let (_ws, resp) = connect(&app.ws("/v1/realtime?model=gpt-realtime"), Some(&ga), &[])
        .await
        .expect("the GA form connects");
    assert_eq!(resp.headers()["sec-websocket-protocol"], "realtime");
    let seen = up.handshake().await;
    assert!(seen.headers.get("openai-beta").is_none());
    assert!(!seen.uri.contains("beta"), "{}", seen.uri);
}
