//! Metrics of a Realtime session, labelled by its route and upstream like any other session's.

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use super::*;

/// Data messages and payload bytes a client received.
#[derive(Default)]
struct Received {
    messages: usize,
    bytes: usize,
}

impl Received {
    /// Counts `m` if it is a data message; returns its JSON when it is text.
    fn count(&mut self, m: &Message) -> Option<Value> {
        match m {
            Message::Text(t) => {
                self.messages += 1;
                self.bytes += t.len();
                serde_json::from_str(t.as_str()).ok()
            }
            Message::Binary(b) => {
                self.messages += 1;
                self.bytes += b.len();
                None
            }
            _ => None,
        }
    }
}

/// Asserts every `needle` is in `metrics`.
fn assert_has(metrics: &str, needles: &[String]) {
    for needle in needles {
        assert!(
            metrics.contains(needle.as_str()),
            "missing {needle} in\n{metrics}"
        );
    }
}

#[tokio::test]
async fn a_realtime_session_is_counted_under_its_route_in_every_session_metric() {
    let app = relay("", |t| t).await;
    let (mut ws, _) = connect(&app.ws("/v1/realtime"), Some(&offer()), &[])
        .await
        .expect("relay accepts");
    let mut got = Received::default();
    let create = client_event(json!({"type": "response.create"}));
    let mut sent = false;
    // session.created, then a whole response up to response.done
    loop {
        let m = recv_data(&mut ws).await.expect("an event");
        let e = got.count(&m).expect("JSON text events");
        match e["type"].as_str().unwrap_or_default() {
            "session.created" if !sent => {
                ws.send(create.clone()).await.unwrap();
                sent = true;
            }
            "response.done" => break,
            "error" => panic!("error event: {e}"),
            _ => {}
        }
        assert!(got.messages < 1000, "no response.done within 1000 events");
    }
    let live = app.metrics().await;
    assert_has(
        &live,
        &[
            r#"voxrelay_sessions_active{route="realtime"} 1"#.into(),
            r#"voxrelay_client_sessions_total{client="tester",route="realtime"} 1"#.into(),
            r#"voxrelay_client_sessions_active{client="tester"} 1"#.into(),
            r#"voxrelay_upstream_connect_duration_seconds_count{upstream="oa"} 1"#.into(),
            r#"voxrelay_upstream_handshakes_total{status_class="101",upstream="oa"} 1"#.into(),
            r#"voxrelay_upstream_attempts_total{outcome="ok",upstream="oa"} 1"#.into(),
            r#"voxrelay_first_response_seconds_count{route="realtime"} 1"#.into(),
        ],
    );
    let frame = CloseFrame {
        code: 1000.into(),
        reason: "bye".into(),
    };
    ws.close(Some(frame)).await.unwrap();
    while let Some(m) = recv(&mut ws).await {
        got.count(&m);
    }
    let ended = metric_eventually(&app, r#"voxrelay_sessions_active{route="realtime"} 0"#).await;
    let direction = |d: &str, what: &str, n: usize| {
        format!(r#"voxrelay_{what}{{direction="{d}",route="realtime"}} {n}"#)
    };
    assert_has(
        &ended,
        &[
            direction("client_to_upstream", "messages_total", 1),
            direction("client_to_upstream", "message_bytes_total", create.len()),
            direction("upstream_to_client", "messages_total", got.messages),
            direction("upstream_to_client", "message_bytes_total", got.bytes),
            r#"voxrelay_sessions_total{outcome="client_closed",route="realtime",upstream="oa"} 1"#
                .into(),
            r#"voxrelay_session_duration_seconds_count{route="realtime"} 1"#.into(),
            r#"voxrelay_close_codes_total{code="1000",side="client"} 1"#.into(),
            r#"voxrelay_client_sessions_active{client="tester"} 0"#.into(),
        ],
    );
    // nothing is labelled with another route's name or a credential
    assert!(!ended.contains(r#"route="listen""#), "{ended}");
    for secret in [CLIENT_KEY, UPSTREAM_SECRET] {
        assert!(!ended.contains(secret), "a secret reached the metrics");
    }
}
