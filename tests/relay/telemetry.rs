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
    metric_eventually(&app, r#"voxrelay_sessions_active{route="listen"} 0"#).await;
    let logs = logs();
    let ended = logs
        .lines()
        .find(|l| l.contains("session usage") && l.contains("route=listen"))
        .expect("a session-end line was logged");
    for field in ["session_id=", "client=tester", "upstream=dg", "outcome="] {
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

/// The fields of the last usage record logged for `session_id`.
fn usage_record(session_id: &str) -> std::collections::HashMap<String, String> {
    let logs = logs();
    let line = logs
        .lines()
        .rev()
        .find(|l| l.contains("session usage") && l.contains(&format!("session_id={session_id}")))
        .unwrap_or_else(|| panic!("no usage record for {session_id}"));
    let fields = line.split("session usage").nth(1).unwrap();
    fields
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
        .collect()
}

#[tokio::test]
async fn one_usage_record_per_session_with_audio_and_cost() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let url = app.ws("/cf/v1/listen?encoding=linear16&sample_rate=16000&channels=1");
    let (mut ws, _) = connect_ok(&url).await;
    // 1.5 s of 16 kHz mono linear16 in 100 ms frames, each echoed back
    for _ in 0..15 {
        ws.send(Message::Binary(Bytes::from(vec![0u8; 3200])))
            .await
            .unwrap();
        recv_data(&mut ws).await;
    }
    ws.close(None).await.unwrap();
    while recv(&mut ws).await.is_some() {}
    metric_eventually(&app, r#"voxrelay_sessions_active{route="cf-listen"} 0"#).await;
    // the fake upstream's request id is a constant: find the record by route instead
    let logs = logs();
    let line = logs
        .lines()
        .rev()
        .find(|l| l.contains("session usage") && l.contains("route=cf-listen"))
        .expect("a usage record");
    let id = line
        .split("session_id=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let r = usage_record(id);
    assert_eq!(r["client"], "tester");
    assert_eq!(r["upstream"], "cf");
    assert_eq!(r["model"], "@cf/deepgram/nova-3");
    assert_eq!(r["bytes_in"], "48000");
    assert_eq!(r["bytes_out"], "48000");
    assert_eq!(r["messages_in"], "15");
    assert_eq!(r["messages_out"], "15");
    assert_eq!(r["audio_seconds"].parse::<f64>().unwrap(), 1.5);
    let cost: f64 = r["estimated_cost_usd"].parse().unwrap();
    assert!((cost - 1.5 * 0.0092 / 60.0).abs() < 1e-12, "{cost}");
    assert_eq!(r["outcome"], "client_closed");
    assert_eq!(r["closed_by"], "client");
    assert!(r.contains_key("duration_seconds") && r.contains_key("first_response_seconds"));
    for secret in [CLIENT_KEY, UPSTREAM_SECRET] {
        assert!(!line.contains(secret));
    }
    let m = app.metrics().await;
    assert!(
        m.contains(r#"voxrelay_audio_seconds_total{client="tester",route="cf-listen"} 1.5"#),
        "{m}"
    );
    assert!(
        m.contains(r#"voxrelay_close_codes_total{code="none",side="client"}"#),
        "{m}"
    );
    assert!(
        m.contains(r#"voxrelay_first_response_seconds_count{route="cf-listen"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"voxrelay_client_sessions_total{client="tester",route="cf-listen"} 1"#),
        "{m}"
    );
    let handshake = r#"voxrelay_upstream_handshakes_total{status_class="101",upstream="cf"} 1"#;
    assert!(m.contains(handshake), "{m}");
}

#[tokio::test]
async fn frame_payloads_never_reach_trace_logs() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    let words = "the user said words-8d1e7f";
    let audio = b"raw-audio-c4b2a9".to_vec();
    ws.send(Message::Text(words.into())).await.unwrap();
    recv_data(&mut ws).await;
    ws.send(Message::Binary(Bytes::from(audio.clone())))
        .await
        .unwrap();
    recv_data(&mut ws).await;
    ws.close(None).await.unwrap();
    while recv(&mut ws).await.is_some() {}
    metric_eventually(&app, r#"voxrelay_sessions_active{route="listen"} 0"#).await;
    let logs = logs();
    // the test subscriber logs everything at TRACE, as `level = "trace"` would
    assert!(logs.contains("session usage"));
    assert!(
        !logs.contains("words-8d1e7f"),
        "TTS/transcript text reached the logs"
    );
    assert!(
        !logs.contains(&hex::encode(&audio)),
        "audio bytes reached the logs"
    );
    assert!(
        !logs.contains("raw-audio-c4b2a9"),
        "audio bytes reached the logs"
    );
}
