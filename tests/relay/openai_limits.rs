//! Limits, session time limit, idle timeout and message size on a `realtime` route, through the
//! relay to the OpenAI Realtime simulator: the same rules as every route, refusals in OpenAI's
//! error shape, close codes and reasons as for other routes.

mod drain;
mod messages;
mod metrics;
mod tokens;
mod upstream;

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use voxrelay::simulate::SimulatorConfig;

use crate::helpers::*;
use crate::openai::realtime_config_with;

/// A simulator that only accepts [`UPSTREAM_SECRET`], its `/v1/listen` idle window `idle`; its base URL.
async fn simulator(idle: Duration) -> String {
    spawn_simulator(SimulatorConfig {
        api_key: Some(UPSTREAM_SECRET.into()),
        idle_timeout: idle,
    })
    .await
}

/// A relay in front of a fresh simulator, for `realtime_config` as `edit` changes it.
async fn relay(route_extra: &str, edit: impl FnOnce(String) -> String) -> TestApp {
    let base = simulator(Duration::from_secs(10)).await;
    TestApp::start(&edit(realtime_config_with(&base, route_extra))).await
}

/// OpenAI's browser credential form with the test client key.
fn offer() -> String {
    format!("realtime, openai-insecure-api-key.{CLIENT_KEY}")
}

/// The next text event's JSON.
async fn event(ws: &mut Client) -> Value {
    match recv_data(ws).await.expect("an event") {
        Message::Text(t) => serde_json::from_str(t.as_str()).expect("JSON event"),
        other => panic!("expected a text event, got {other:?}"),
    }
}

/// A realtime session through the relay, once `session.created` arrived.
async fn open(app: &TestApp) -> Client {
    let (mut ws, _) = connect(&app.ws("/v1/realtime"), Some(&offer()), &[])
        .await
        .expect("relay accepts");
    let created = event(&mut ws).await;
    assert_eq!(created["type"], "session.created", "{created}");
    ws
}

/// A refused realtime handshake with the test client key: status, the parsed body, the whole
/// response.
async fn refused_realtime(app: &TestApp) -> (u16, Value, Response) {
    refused_offering(app, &offer()).await
}

/// A refused realtime handshake offering these subprotocols.
async fn refused_offering(app: &TestApp, offer: &str) -> (u16, Value, Response) {
    let resp = refusal(&app.ws("/v1/realtime"), Some(offer), &[]).await;
    let body = resp.body().clone().unwrap_or_default();
    let body: Value = serde_json::from_slice(&body).expect("a JSON body");
    (resp.status().as_u16(), body, resp)
}

/// Asserts OpenAI's error shape with this `type` and `code`; returns the message.
fn openai_error<'a>(body: &'a Value, kind: &str, code: &str) -> &'a str {
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("no error object: {body}"));
    assert_eq!(error["type"], kind, "{body}");
    assert_eq!(error["code"], code, "{body}");
    assert_eq!(error["param"], Value::Null, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "only `error`: {body}");
    error["message"].as_str().expect("a message")
}

/// A client event as a text frame.
fn client_event(value: Value) -> Message {
    Message::text(value.to_string())
}

#[tokio::test]
async fn per_key_sessions_are_capped_across_routes_with_openais_429_on_realtime() {
    let app = relay("", |t| {
        t.replace(
            "id = \"tester\"",
            "id = \"tester\"\nmax_concurrent_sessions = 2",
        )
    })
    .await;
    // a Deepgram session and a Realtime session count against the same key
    let (listen, _) = connect_ok(&app.ws("/v1/listen?encoding=linear16&sample_rate=16000")).await;
    let _realtime = open(&app).await;
    let (status, body, _) = refused_realtime(&app).await;
    assert_eq!(status, 429, "{body}");
    let message = openai_error(&body, "requests", "rate_limit_exceeded");
    assert!(message.contains("client session limit of 2"), "{body}");
    drop(listen);
    metric_eventually(&app, r#"voxrelay_sessions_active{route="listen"} 0"#).await;
    let _again = open(&app).await;
    let m = app.metrics().await;
    let refusals =
        r#"voxrelay_handshake_rejections_total{reason="client_session_limit",route="realtime"} 1"#;
    assert!(m.contains(refusals), "{m}");
    assert!(
        m.contains(r#"voxrelay_sessions_active{route="realtime"} 2"#),
        "{m}"
    );
}

#[tokio::test]
async fn the_replica_session_cap_refuses_realtime_with_openais_503() {
    let app = relay("", |t| format!("{t}\n[limits]\nmax_sessions = 1\n")).await;
    let _held = open(&app).await;
    let (status, body, _) = refused_realtime(&app).await;
    assert_eq!(status, 503, "{body}");
    openai_error(&body, "server_error", "service_unavailable");
    let m = app.metrics().await;
    assert!(
        m.contains(
            r#"voxrelay_handshake_rejections_total{reason="session_limit",route="realtime"} 1"#
        ),
        "{m}"
    );
}

#[tokio::test]
async fn realtime_handshakes_per_ip_are_rate_limited_with_retry_after_in_openais_shape() {
    let limits = "\n[limits]\nhandshakes_per_second_per_ip = 1\nhandshake_burst_per_ip = 2\n";
    let app = relay("", |t| format!("{t}{limits}")).await;
    for _ in 0..2 {
        connect(&app.ws("/v1/realtime"), Some(&offer()), &[])
            .await
            .expect("within the burst");
    }
    let (status, body, resp) = refused_realtime(&app).await;
    assert_eq!(status, 429, "{body}");
    openai_error(&body, "requests", "rate_limit_exceeded");
    let retry = resp.headers()["retry-after"].to_str().unwrap();
    assert!(retry.parse::<u64>().unwrap() >= 1, "{retry}");
    let m = app.metrics().await;
    assert!(
        m.contains(
            r#"voxrelay_handshake_rejections_total{reason="rate_limited",route="realtime"} 1"#
        ),
        "{m}"
    );
}

#[tokio::test]
async fn a_cross_site_page_is_refused_on_a_realtime_route_in_openais_shape() {
    let app = relay("allowed_origins = [\"https://app.example.com\"]", |t| t).await;
    let url = app.ws("/v1/realtime");
    connect(
        &url,
        Some(&offer()),
        &[("origin", "https://app.example.com")],
    )
    .await
    .expect("an allowed origin");
    let resp = refusal(&url, Some(&offer()), &[("origin", "https://evil.com")]).await;
    assert_eq!(resp.status(), 403);
    let body: Value = serde_json::from_slice(resp.body().as_deref().unwrap()).unwrap();
    openai_error(&body, "invalid_request_error", "origin_not_allowed");
    let m = app.metrics().await;
    let refusals =
        r#"voxrelay_handshake_rejections_total{reason="origin_not_allowed",route="realtime"} 1"#;
    assert!(m.contains(refusals), "{m}");
}

#[tokio::test]
async fn the_session_time_limit_closes_a_realtime_session_on_both_sides_with_1008() {
    let app = relay("max_session = \"300ms\"", |t| t).await;
    let mut ws = open(&app).await;
    assert_eq!(
        recv_close(&mut ws).await,
        Some((1008, "session time limit of 300ms reached".to_owned()))
    );
    let m = metric_eventually(
        &app,
        r#"voxrelay_sessions_total{outcome="time_limit",route="realtime",upstream="oa"} 1"#,
    )
    .await;
    // one close frame to the browser, one to the simulator
    assert!(
        m.contains(r#"voxrelay_close_codes_total{code="1008",side="relay"} 2"#),
        "{m}"
    );
}

#[tokio::test]
async fn idle_realtime_sessions_close_both_sides_with_the_idle_reason() {
    let app = relay("", |t| {
        t.replace("[server]\n", "[server]\nidle_timeout = \"300ms\"\n")
    })
    .await;
    let mut ws = open(&app).await;
    assert_eq!(
        recv_close(&mut ws).await,
        Some((1001, "idle timeout: no data for 300ms".to_owned()))
    );
    let m = metric_eventually(
        &app,
        r#"voxrelay_sessions_total{outcome="idle_timeout",route="realtime",upstream="oa"} 1"#,
    )
    .await;
    assert!(
        m.contains(r#"voxrelay_close_codes_total{code="1001",side="relay"} 2"#),
        "{m}"
    );
}

#[tokio::test]
async fn no_keepalive_ever_reaches_a_silent_realtime_session_past_deepgrams_idle_window() {
    // the simulator ends a silent `/v1/listen` session after 300 ms, as Deepgram does after 10 s
    let base = simulator(Duration::from_millis(300)).await;
    // a keep-alive interval far inside that window: were one sent, the simulator would answer it
    // with an `error` event
    let app = TestApp::start(&realtime_config_with(
        &base,
        "keepalive_interval = \"20ms\"",
    ))
    .await;
    let mut realtime = open(&app).await;
    // the Deepgram session opened after it closing for silence shows the window has passed
    let url = app.ws("/v1/listen?encoding=linear16&sample_rate=16000");
    let (mut listen, _) = connect_ok(&url).await;
    let (code, reason) = recv_close(&mut listen).await.expect("a status");
    assert_eq!(code, 1011, "{reason}");
    assert!(reason.contains("net0001"), "{reason}");
    // events arrive in order: an error answering a keep-alive would come before this answer
    realtime
        .send(client_event(json!({"type": "input_audio_buffer.clear"})))
        .await
        .unwrap();
    let answer = event(&mut realtime).await;
    assert_eq!(answer["type"], "input_audio_buffer.cleared", "{answer}");
    let m = app.metrics().await;
    assert!(
        !m.contains(r#"voxrelay_keepalives_injected_total{route="realtime"}"#),
        "{m}"
    );
    let sent = r#"voxrelay_messages_total{direction="client_to_upstream",route="realtime"} 1"#;
    assert!(m.contains(sent), "{m}");
}
