//! Frames both ways, close codes both ways, limits, and a vanished browser.

use bytes::Bytes;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use voxrelay::simulate::SimulatorConfig;

use crate::helpers::*;

#[tokio::test]
async fn text_and_binary_cross_both_ways_in_order() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    let mut sent = Vec::new();
    for i in 0..200u32 {
        let m = if i % 10 == 0 {
            Message::Text(format!("{{\"type\":\"KeepAlive\",\"n\":{i}}}").into())
        } else {
            Message::Binary(Bytes::from(i.to_le_bytes().repeat(800)))
        };
        ws.send(m.clone()).await.unwrap();
        sent.push(m);
    }
    ws.send(Message::Ping(Bytes::from_static(b"hi")))
        .await
        .unwrap();
    for m in &sent {
        assert_eq!(&up.next().await, m, "upstream got frames in order");
    }
    for m in &sent {
        assert_eq!(
            recv_data(&mut ws).await.as_ref(),
            Some(m),
            "echo came back in order"
        );
    }
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            r#"voxrelay_messages_total{direction="client_to_upstream",route="listen"} 200"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"voxrelay_messages_total{direction="upstream_to_client",route="listen"} 200"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn client_close_code_and_reason_reach_the_upstream() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    let frame = CloseFrame {
        code: 4000.into(),
        reason: "done here".into(),
    };
    ws.close(Some(frame)).await.unwrap();
    match up.next().await {
        Message::Close(Some(f)) => {
            assert_eq!((u16::from(f.code), f.reason.as_str()), (4000, "done here"))
        }
        other => panic!("expected a close, got {other:?}"),
    }
    assert_eq!(
        recv_close(&mut ws).await,
        Some((4000, "done here".to_owned()))
    );
}

#[tokio::test]
async fn upstream_close_code_and_reason_reach_the_client() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    ws.send(Message::Text("close:1011:NET-0001".into()))
        .await
        .unwrap();
    assert_eq!(
        recv_close(&mut ws).await,
        Some((1011, "NET-0001".to_owned()))
    );
    while recv(&mut ws).await.is_some() {}
    metric_eventually(
        &app,
        r#"outcome="upstream_closed",route="listen",upstream="dg"} 1"#,
    )
    .await;
}

#[tokio::test]
async fn simulator_idle_timeout_reaches_the_browser_as_1011_net_0001() {
    let sim_config = SimulatorConfig {
        idle_timeout: std::time::Duration::from_millis(300),
        api_key: None,
    };
    let base = spawn_simulator(sim_config).await;
    let app = TestApp::start(&config(&base)).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen?encoding=linear16&sample_rate=16000")).await;
    let metadata = recv_data(&mut ws).await.expect("Metadata before the close");
    assert!(metadata.to_text().unwrap().contains("\"Metadata\""));
    let (code, reason) = recv_close(&mut ws).await.expect("a status");
    assert_eq!(code, 1011);
    assert!(reason.contains("net0001"), "{reason}");
}

/// Sends `n` numbered binary frames; returns them.
async fn send_numbered(ws: &mut Client, n: u8) -> Vec<Message> {
    let mut sent = Vec::new();
    for i in 0..n {
        let m = Message::Binary(Bytes::from(vec![i; 640]));
        ws.send(m.clone()).await.unwrap();
        sent.push(m);
    }
    sent
}

/// After a client's bad frame: everything it sent before reached the upstream in order, the
/// upstream got 1001, and the session counts as a client error.
async fn client_fault_spares_what_was_sent(
    app: &TestApp,
    up: &mut FakeUpstream,
    sent: Vec<Message>,
) {
    for m in sent {
        assert_eq!(up.next().await, m);
    }
    assert_eq!(up.close_code().await, Some(1001));
    metric_eventually(
        app,
        r#"{outcome="client_error",route="listen",upstream="dg"} 1"#,
    )
    .await;
}

#[tokio::test]
async fn upstream_dying_mid_stream_gives_the_browser_1011() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    for m in send_numbered(&mut ws, 20).await {
        assert_eq!(
            recv_data(&mut ws).await,
            Some(m),
            "echoes before the fault, in order"
        );
    }
    ws.send(Message::Text("drop".into())).await.unwrap();
    assert_eq!(
        recv_close(&mut ws).await,
        Some((1011, "upstream connection lost".to_owned()))
    );
    while recv(&mut ws).await.is_some() {}
    metric_eventually(
        &app,
        r#"{outcome="upstream_gone",route="listen",upstream="dg"} 1"#,
    )
    .await;
}

#[tokio::test]
async fn vanished_browser_gets_its_upstream_closed_at_once() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    let sent = send_numbered(&mut ws, 20).await;
    drop(ws); // TCP gone, no close frame
    for m in sent {
        assert_eq!(
            up.next().await,
            m,
            "everything sent before the fault arrived, in order"
        );
    }
    let closed = tokio::time::timeout(std::time::Duration::from_secs(1), up.next()).await;
    match closed.expect("upstream closed within a second") {
        Message::Close(Some(f)) => assert_eq!(u16::from(f.code), 1001),
        other => panic!("expected close 1001, got {other:?}"),
    }
    metric_eventually(
        &app,
        r#"{outcome="client_gone",route="listen",upstream="dg"} 1"#,
    )
    .await;
}

#[tokio::test]
async fn oversized_message_gets_1009_and_upstream_is_closed() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    let sent = send_numbered(&mut ws, 5).await;
    ws.send(Message::Binary(Bytes::from(vec![0u8; 100_000])))
        .await
        .unwrap();
    let reason = "message exceeds the 65536-byte limit".to_owned();
    assert_eq!(recv_close(&mut ws).await, Some((1009, reason)));
    client_fault_spares_what_was_sent(&app, &mut up, sent).await;
}

#[tokio::test]
async fn no_empty_binary_frame_is_invented() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    ws.send(Message::Text("{\"type\":\"CloseStream\"}".into()))
        .await
        .unwrap();
    ws.close(None).await.unwrap();
    assert_eq!(
        up.next().await,
        Message::Text("{\"type\":\"CloseStream\"}".into())
    );
    assert_eq!(up.next().await, Message::Close(None));
}

#[tokio::test]
async fn each_hop_answers_its_own_pings() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    ws.send(Message::Ping(Bytes::from_static(b"are you there")))
        .await
        .unwrap();
    assert_eq!(
        recv(&mut ws).await,
        Some(Message::Pong(Bytes::from_static(b"are you there")))
    );
    ws.send(Message::Text("after ping".into())).await.unwrap();
    assert_eq!(
        up.next().await,
        Message::Text("after ping".into()),
        "the ping was not forwarded"
    );
}

#[tokio::test]
async fn invalid_utf8_text_gets_1007_and_upstream_is_closed() {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    let bad = Frame::message(
        Bytes::from_static(&[0xff, 0xfe, 0x41]),
        OpCode::Data(Data::Text),
        true,
    );
    let sent = send_numbered(&mut ws, 5).await;
    ws.send(Message::Frame(bad)).await.unwrap();
    assert_eq!(recv_close(&mut ws).await.map(|c| c.0), Some(1007));
    client_fault_spares_what_was_sent(&app, &mut up, sent).await;
}
