//! Refusals before the upgrade: unknown path, not a WebSocket, bad model or parameter, upstream errors.

use crate::helpers::*;

fn err_code(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).expect("JSON body");
    json["err_code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn unknown_path_is_404_json() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let (status, body) = app.get("/v1/nope").await;
    assert_eq!((status, err_code(&body).as_str()), (404, "NOT_FOUND"));
    let (status, _) = refused(&app.ws("/v9/listen"), Some("token, x"), &[]).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn plain_get_without_upgrade_is_426_json() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let (status, body) = app.get("/v1/listen").await;
    assert_eq!(
        (status, err_code(&body).as_str()),
        (426, "UPGRADE_REQUIRED")
    );
}

#[tokio::test]
async fn model_outside_allowlist_is_400_before_upgrade() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let offer = format!("token, {CLIENT_KEY}");
    let (status, body) = refused(&app.ws("/v1/listen?model=whisper"), Some(&offer), &[]).await;
    assert_eq!(status, 400);
    assert!(body.contains("whisper"), "{body}");
    let (status, body) = refused(&app.ws("/v1/listen?callback=http://x"), Some(&offer), &[]).await;
    assert_eq!(status, 400);
    assert!(body.contains("callback"), "{body}");
    assert!(up.seen.try_recv().is_err(), "nothing reached the upstream");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"reason="model_not_allowed",route="listen"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"reason="param_denied",route="listen"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn upstream_4xx_is_returned_with_its_status_and_body() {
    let body = r#"{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials.","request_id":"x"}"#;
    let up = FakeUpstream::start(Behaviour::Refuse(401, body)).await;
    let app = TestApp::against(&up).await;
    let offer = format!("token, {CLIENT_KEY}");
    assert_eq!(
        refused(&app.ws("/v1/listen"), Some(&offer), &[]).await,
        (401, body.to_owned())
    );
    let up = FakeUpstream::start(Behaviour::Refuse(400, r#"{"err_msg":"bad"}"#)).await;
    let app = TestApp::against(&up).await;
    assert_eq!(
        refused(&app.ws("/v1/listen"), Some(&offer), &[]).await.0,
        400
    );
    assert!(
        app.metrics()
            .await
            .contains(r#"reason="upstream_rejected""#)
    );
    let m = app.metrics().await;
    assert!(
        m.contains(r#"voxrelay_upstream_handshakes_total{status_class="4xx",upstream="dg"} 1"#),
        "{m}"
    );
}

#[tokio::test]
async fn upstream_5xx_is_502() {
    let up = FakeUpstream::start(Behaviour::Refuse(503, r#"{"err_msg":"down"}"#)).await;
    let app = TestApp::against(&up).await;
    let offer = format!("token, {CLIENT_KEY}");
    let (status, body) = refused(&app.ws("/v1/listen"), Some(&offer), &[]).await;
    assert_eq!(
        (status, err_code(&body).as_str()),
        (502, "UPSTREAM_UNAVAILABLE")
    );
}

#[tokio::test]
async fn unreachable_upstream_is_502_json() {
    // bind then drop: nothing listens on that port any more
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::start(&config(&format!("ws://127.0.0.1:{port}"))).await;
    let offer = format!("token, {CLIENT_KEY}");
    let (status, body) = refused(&app.ws("/v1/listen"), Some(&offer), &[]).await;
    assert_eq!(
        (status, err_code(&body).as_str()),
        (502, "UPSTREAM_UNAVAILABLE")
    );
    assert!(
        app.metrics()
            .await
            .contains(r#"reason="upstream_unreachable""#)
    );
}

#[tokio::test]
async fn upstream_that_never_answers_is_504_json() {
    let up = FakeUpstream::start(Behaviour::Hang).await;
    let app = TestApp::start(&config(&up.base()).replace(
        "upstream_connect_timeout = \"2s\"",
        "upstream_connect_timeout = \"300ms\"",
    ))
    .await;
    let offer = format!("token, {CLIENT_KEY}");
    let (status, body) = refused(&app.ws("/v1/listen"), Some(&offer), &[]).await;
    assert_eq!(
        (status, err_code(&body).as_str()),
        (504, "UPSTREAM_TIMEOUT")
    );
    assert!(app.metrics().await.contains(r#"reason="upstream_timeout""#));
}

#[tokio::test]
async fn upgrade_with_another_method_is_405_json() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let req = "POST /v1/listen HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
               Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
               Content-Length: 0\r\nConnection: close\r\n\r\n";
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 405"), "{out}");
    assert!(out.contains("METHOD_NOT_ALLOWED"), "{out}");
}
