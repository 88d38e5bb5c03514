//! Message limits on a `realtime` route: an event over `max_message_bytes` ends the session with
//! 1009, invalid UTF-8 with 1007, and what was sent before reached the simulator.

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::*;

/// `input_audio_buffer.append` of `pcm_bytes` bytes of silence (PCM16).
fn append(pcm_bytes: usize) -> Message {
    use base64::Engine;
    let audio = base64::engine::general_purpose::STANDARD.encode(vec![0u8; pcm_bytes]);
    client_event(json!({"type": "input_audio_buffer.append", "audio": audio}))
}

#[tokio::test]
async fn a_realtime_event_over_the_message_limit_gets_1009_and_one_under_it_is_relayed() {
    let app = relay("", |t| t).await;
    let mut ws = open(&app).await;
    // about 60 KB of JSON: under the 65536-byte limit, so the simulator buffers it
    let under = append(45_000);
    assert!(under.len() < 65_536);
    ws.send(under.clone()).await.unwrap();
    let commit = client_event(json!({"type": "input_audio_buffer.commit"}));
    ws.send(commit.clone()).await.unwrap();
    let committed = event(&mut ws).await;
    assert_eq!(
        committed["type"], "input_audio_buffer.committed",
        "{committed}"
    );
    ws.send(append(75_000)).await.unwrap();
    let reason = "message exceeds the 65536-byte limit".to_owned();
    assert_eq!(recv_close(&mut ws).await, Some((1009, reason)));
    let m = metric_eventually(
        &app,
        r#"voxrelay_sessions_total{outcome="client_error",route="realtime",upstream="oa"} 1"#,
    )
    .await;
    // what was relayed is what was under the limit; the oversized event never went upstream
    let bytes = format!(
        r#"voxrelay_message_bytes_total{{direction="client_to_upstream",route="realtime"}} {}"#,
        under.len() + commit.len()
    );
    assert!(m.contains(&bytes), "missing {bytes} in\n{m}");
    assert_client_fault_closes(&m, 1009);
}

/// The client got `code` and the simulator 1001, both from the relay.
fn assert_client_fault_closes(metrics: &str, code: u16) {
    for (code, n) in [(code, 1), (1001, 1)] {
        let needle = format!(r#"voxrelay_close_codes_total{{code="{code}",side="relay"}} {n}"#);
        assert!(metrics.contains(&needle), "missing {needle} in\n{metrics}");
    }
}

#[tokio::test]
async fn invalid_utf8_in_a_realtime_text_frame_gets_1007_after_what_came_before_is_relayed() {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let app = relay("", |t| t).await;
    let mut ws = open(&app).await;
    ws.send(client_event(json!({"type": "input_audio_buffer.clear"})))
        .await
        .unwrap();
    let cleared = event(&mut ws).await;
    assert_eq!(cleared["type"], "input_audio_buffer.cleared", "{cleared}");
    let bad = Frame::message(
        bytes::Bytes::from_static(&[0x7b, 0xff, 0xfe, 0x7d]),
        OpCode::Data(Data::Text),
        true,
    );
    ws.send(Message::Frame(bad)).await.unwrap();
    assert_eq!(
        recv_close(&mut ws).await,
        Some((1007, "invalid UTF-8 in text frame".to_owned()))
    );
    let m = metric_eventually(
        &app,
        r#"voxrelay_sessions_total{outcome="client_error",route="realtime",upstream="oa"} 1"#,
    )
    .await;
    let sent = r#"voxrelay_messages_total{direction="client_to_upstream",route="realtime"} 1"#;
    assert!(m.contains(sent), "{m}");
    assert_client_fault_closes(&m, 1007);
}
