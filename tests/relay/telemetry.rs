//! Health, metrics exposition and labels, and secrets kept out of logs and metrics.

use bytes::Bytes;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

#[tokio::test]
async fn health_and_metrics_endpoints_answer() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    assert_eq!(app.get("/healthz").await.0, 200);
    assert_eq!(app.get("/readyz").await.0, 200);
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    ws.send(Message::Binary(Bytes::from(vec![0u8; 3200])))
        .await
        .unwrap();
    recv_data(&mut ws).await;
    let metrics = app.metrics().await;
    for needle in [
        r#"voxrelay_sessions_active{route="listen"} 1"#,
        r#"voxrelay_message_bytes_total{direction="client_to_upstream",route="listen"} 3200"#,
        "voxrelay_upstream_connect_duration_seconds_count{upstream=\"dg\"} 1",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }
    ws.close(None).await.unwrap();
    while recv(&mut ws).await.is_some() {}
    // the session's end is recorded once the relay task finishes
    let metrics = metric_eventually(&app, r#"voxrelay_sessions_active{route="listen"} 0"#).await;
    assert!(
        metrics.contains(
            r#"voxrelay_sessions_total{outcome="client_closed",route="listen",upstream="dg"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("voxrelay_session_duration_seconds_count{route=\"listen\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn secrets_never_reach_logs_or_metrics() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    // every auth form, a credential in the query, a refusal, and a full session
    let url = app.ws(&format!(
        "/v1/listen?token={CLIENT_KEY}&access_token={CLIENT_KEY}"
    ));
    for offer in [
        format!("token, {CLIENT_KEY}"),
        format!("bearer, {CLIENT_KEY}"),
        format!("cf-aig-authorization.{CLIENT_KEY}"),
    ] {
        let (mut ws, _) = connect(&url, Some(&offer), &[]).await.unwrap();
        ws.send(Message::Text("hello".into())).await.unwrap();
        recv_data(&mut ws).await;
        ws.close(None).await.unwrap();
        while recv(&mut ws).await.is_some() {}
    }
    let auth = format!("Token {CLIENT_KEY}");
    connect(&url, None, &[("authorization", &auth)])
        .await
        .unwrap();
    refused(&url, Some("token, not-a-valid-key-3141"), &[]).await;
    let logs = logs();
    let ended = logs
        .lines()
        .find(|l| l.contains("session ended") && l.contains("route=listen"))
        .expect("a session-end line was logged");
    for field in [
        "session_id=",
        "client=\"tester\"",
        "upstream=\"dg\"",
        "outcome=",
    ] {
        assert!(ended.contains(field), "session span lacks {field}: {ended}");
    }
    for secret in [CLIENT_KEY, UPSTREAM_SECRET, "not-a-valid-key-3141"] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
    let metrics = app.metrics().await;
    for secret in [CLIENT_KEY, UPSTREAM_SECRET, "not-a-valid-key-3141"] {
        assert!(!metrics.contains(secret), "a secret reached the metrics");
    }
}
