//! OpenAI Realtime handshake over real sockets: credential forms, subprotocol answer, refusals, beta opt-in.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::{Running, assert_closed, expect_close, next_json, refused};
use crate::simulate::SimulatorConfig;

/// The key the keyed simulator expects.
const KEY: &str = "sk-simulated-right";

/// A simulator that checks credentials.
async fn keyed() -> Running {
    Running::start(SimulatorConfig {
        api_key: Some(KEY.into()),
        ..SimulatorConfig::default()
    })
    .await
}

/// The JSON body of a refused handshake.
fn body(response: &Response) -> Value {
    serde_json::from_slice(response.body().as_deref().unwrap_or_default()).expect("json body")
}

/// Asserts an OpenAI error body with `code` that does not leak `secret`.
fn assert_error_body(response: &Response, code: Value, secret: &str) {
    let raw = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
    assert!(
        !raw.contains(secret),
        "the body never repeats the credential"
    );
    let body = body(response);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["code"], code);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

#[tokio::test]
async fn realtime_accepts_bearer_and_reports_the_url_model() {
    let sim = keyed().await;
    let mut request = sim.request("/v1/realtime?model=gpt-realtime-mini");
    let bearer = HeaderValue::from_str(&format!("Bearer {KEY}")).expect("header");
    request.headers_mut().insert("authorization", bearer);
    let (mut ws, response) = connect_async(request).await.expect("upgrade succeeds");
    assert!(response.headers().get("sec-websocket-protocol").is_none());
    let request_id = response.headers()["x-request-id"].to_str().expect("ascii");
    assert!(request_id.starts_with("req_"), "{request_id}");
    let created = next_json(&mut ws).await;
    assert_eq!(created["type"], "session.created");
    assert!(
        created["event_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("event_"))
    );
    let session = &created["session"];
    assert_eq!(session["type"], "realtime");
    assert_eq!(session["object"], "realtime.session");
    assert_eq!(session["model"], "gpt-realtime-mini");
    assert_eq!(session["audio"]["input"]["format"]["type"], "audio/pcm");
    assert_eq!(session["audio"]["input"]["format"]["rate"], 24_000);
    assert_eq!(session["audio"]["output"]["format"]["rate"], 24_000);
    assert_eq!(
        session["audio"]["input"]["turn_detection"]["type"],
        "server_vad"
    );
}

#[tokio::test]
async fn realtime_accepts_key_subprotocol_and_answers_realtime_only() {
    let sim = keyed().await;
    let mut request = sim.request("/prefix/v1/realtime/?intent=transcription");
    let offered = format!("realtime, openai-insecure-api-key.{KEY}, openai-agents-sdk.0.1.0");
    let offered = HeaderValue::from_str(&offered).expect("header");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", offered);
    let (mut ws, response) = connect_async(request).await.expect("upgrade succeeds");
    assert_eq!(response.headers()["sec-websocket-protocol"], "realtime");
    let created = next_json(&mut ws).await;
    assert_eq!(created["session"]["type"], "transcription");
    assert_eq!(
        created["session"]["object"],
        "realtime.transcription_session"
    );
    assert!(created["session"].get("model").is_none());
}

#[tokio::test]
async fn realtime_refuses_wrong_and_missing_keys_with_401_in_openai_shape() {
    let sim = keyed().await;
    let mut request = sim.request("/v1/realtime?model=gpt-realtime");
    let wrong = HeaderValue::from_static("Bearer sk-wrong-secret");
    request.headers_mut().insert("authorization", wrong);
    let response = refused(request).await;
    assert_eq!(response.status(), 401);
    assert_error_body(&response, "invalid_api_key".into(), "sk-wrong-secret");

    let mut request = sim.request("/v1/realtime?model=gpt-realtime");
    let offered = HeaderValue::from_static("realtime, openai-insecure-api-key.ek_wrong_secret");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", offered);
    let response = refused(request).await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("sec-websocket-protocol").is_none());
    assert_error_body(&response, "invalid_api_key".into(), "ek_wrong_secret");

    let response = refused(sim.request("/v1/realtime?model=gpt-realtime")).await;
    assert_eq!(response.status(), 401);
    assert_error_body(&response, Value::Null, KEY);
}

#[tokio::test]
async fn realtime_refuses_ambiguous_or_unsimulated_targets_with_400() {
    let sim = Running::default().await;
    for query in [
        "?model=gpt-realtime&intent=transcription",
        "?intent=translation",
        "?call_id=rtc_123",
        "?model=",
    ] {
        let response = refused(sim.request(&format!("/v1/realtime{query}"))).await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(body(&response)["error"]["param"], "intent", "{query}");
    }
}

#[tokio::test]
async fn realtime_without_model_defaults_to_gpt_realtime() {
    let sim = Running::default().await;
    let (mut ws, _) = sim.connect("/v1/realtime").await;
    assert_eq!(next_json(&mut ws).await["session"]["model"], "gpt-realtime");
}

#[tokio::test]
async fn realtime_plain_get_gets_426_in_openai_shape() {
    let sim = Running::default().await;
    let mut stream = tokio::net::TcpStream::connect(sim.addr)
        .await
        .expect("connects");
    let request =
        "GET /v1/realtime?model=gpt-realtime HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\r\n";
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request written");
    let mut reply = String::new();
    tokio::time::timeout(super::STEP_TIMEOUT, stream.read_to_string(&mut reply))
        .await
        .expect("reply in time")
        .expect("reply read");
    assert!(reply.starts_with("HTTP/1.1 426"), "{reply}");
    assert!(reply.contains("x-request-id: req_"), "{reply}");
    assert!(
        reply.contains(r#""type":"invalid_request_error""#),
        "{reply}"
    );
}

#[tokio::test]
async fn realtime_beta_opt_in_is_told_beta_api_shape_disabled_and_closed_4000() {
    let sim = Running::default().await;
    let message =
        "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.";

    let mut request = sim.request("/v1/realtime?model=gpt-realtime");
    let beta = HeaderValue::from_static("realtime=v1");
    request.headers_mut().insert("openai-beta", beta);
    let (mut ws, _) = connect_async(request).await.expect("upgrade succeeds");
    let error = next_json(&mut ws).await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["code"], "beta_api_shape_disabled");
    assert_eq!(error["error"]["message"], message);
    assert_closed(expect_close(&mut ws).await, 4000, message);

    let mut request = sim.request("/v1/realtime?model=gpt-realtime");
    let offered = HeaderValue::from_static("realtime, openai-beta.realtime-v1");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", offered);
    let (mut ws, response) = connect_async(request).await.expect("upgrade succeeds");
    assert_eq!(response.headers()["sec-websocket-protocol"], "realtime");
    assert_eq!(
        next_json(&mut ws).await["error"]["code"],
        "beta_api_shape_disabled"
    );
    assert_closed(expect_close(&mut ws).await, 4000, message);
}

#[tokio::test]
async fn realtime_sessions_close_1001_on_shutdown() {
    let mut sim = Running::default().await;
    let (mut ws, _) = sim.connect("/v1/realtime?model=gpt-realtime").await;
    assert_eq!(next_json(&mut ws).await["type"], "session.created");
    sim.signal_stop();
    assert_closed(expect_close(&mut ws).await, 1001, "simulator shutting down");
    sim.join().await.expect("run returns ok");
}
