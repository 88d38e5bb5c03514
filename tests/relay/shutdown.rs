//! Graceful shutdown: readiness flips, new upgrades refused, live sessions go on through the
//! grace, then drain: the finalize goes upstream, what it answers reaches the client, and the
//! client gets 1012 (the upstream 1000).

use bytes::Bytes;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

async fn wait_until_draining(app: &TestApp) {
    for _ in 0..1000 {
        if app.get("/readyz").await.0 == 503 {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("/readyz never answered 503");
}

#[tokio::test]
async fn live_sessions_get_the_finalize_upstream_then_1012_after_the_grace() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let toml = config(&up.base()).replace("shutdown_grace = \"5s\"", "shutdown_grace = \"300ms\"");
    let mut app = TestApp::start(&toml).await;
    assert_eq!(app.get("/readyz").await.0, 200);
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    let run = app.begin_shutdown();
    wait_until_draining(&app).await;
    let (status, body) = refused(
        &app.ws("/v1/listen"),
        Some(&format!("token, {CLIENT_KEY}")),
        &[],
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        app.get("/healthz").await.0,
        200,
        "still live while draining"
    );
    // the live session still relays during the grace period
    ws.send(Message::Binary(Bytes::from_static(&[5])))
        .await
        .unwrap();
    assert_eq!(
        recv_data(&mut ws).await,
        Some(Message::Binary(Bytes::from_static(&[5])))
    );
    assert_eq!(up.next().await, Message::Binary(Bytes::from_static(&[5])));
    // the grace is over: CloseStream goes upstream, and the echo of it is relayed (the fake
    // never closes, so the drain timeout ends the wait)
    let close_stream = Message::Text(r#"{"type":"CloseStream"}"#.into());
    assert_eq!(up.next().await, close_stream);
    assert_eq!(recv_data(&mut ws).await, Some(close_stream));
    assert_eq!(
        recv_close(&mut ws).await,
        Some((1012, "voxrelay restarting".to_owned()))
    );
    assert_eq!(up.close_code().await, Some(1000));
    tokio::time::timeout(WAIT, run)
        .await
        .unwrap()
        .unwrap()
        .expect("run returns Ok");
}

#[tokio::test]
async fn sessions_that_finish_within_the_grace_are_not_cut() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let mut app = TestApp::against(&up).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    let run = app.begin_shutdown();
    wait_until_draining(&app).await;
    ws.send(Message::Text("last words".into())).await.unwrap();
    assert_eq!(
        recv_data(&mut ws).await,
        Some(Message::Text("last words".into()))
    );
    ws.close(None).await.unwrap();
    while recv(&mut ws).await.is_some() {}
    tokio::time::timeout(WAIT, run)
        .await
        .unwrap()
        .unwrap()
        .expect("run returns Ok");
}

/// A relay in front of the simulator whose grace is short; the client's socket on `path`.
async fn drained_session(path: &str) -> (TestApp, Client) {
    let base = simulator().await;
    let toml = config(&base).replace("shutdown_grace = \"5s\"", "shutdown_grace = \"100ms\"");
    let app = TestApp::start(&toml).await;
    let (ws, _) = connect_ok(&app.ws(path)).await;
    (app, ws)
}

/// Everything the client receives until the close: the data messages, then the close.
async fn until_close(ws: &mut Client) -> (Vec<Message>, Option<(u16, String)>) {
    let mut data = Vec::new();
    loop {
        match recv(ws).await.expect("a close frame before the end") {
            Message::Close(f) => return (data, f.map(|f| (f.code.into(), f.reason.to_string()))),
            m @ (Message::Text(_) | Message::Binary(_)) => data.push(m),
            _ => {}
        }
    }
}

fn kind_of(m: &Message) -> String {
    match m {
        Message::Text(t) => {
            let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
            v["type"].as_str().unwrap_or_default().to_owned()
        }
        _ => "audio".to_owned(),
    }
}

/// `/v1/speak`: text sent but not yet flushed is spoken by the drain's `Flush`; its audio and
/// `Flushed` reach the client before 1012.
#[tokio::test]
async fn a_speak_session_gets_its_pending_text_flushed_and_the_audio_relayed_before_1012() {
    let (mut app, mut ws) = drained_session("/v1/speak?encoding=linear16&sample_rate=24000").await;
    assert_eq!(kind_of(&recv_data(&mut ws).await.unwrap()), "Metadata");
    ws.send(Message::Text(
        r#"{"type":"Speak","text":"Hello there, world."}"#.into(),
    ))
    .await
    .unwrap();
    let run = app.begin_shutdown();
    let (data, close) = until_close(&mut ws).await;
    let kinds: Vec<String> = data.iter().map(kind_of).collect();
    assert_eq!(
        close,
        Some((1012, "voxrelay restarting".to_owned())),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("Flushed"),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "audio"), "{kinds:?}");
    tokio::time::timeout(WAIT, run)
        .await
        .unwrap()
        .unwrap()
        .expect("run returns Ok");
}

/// `/v2/listen` (Flux): `CloseStream` turns the audio not yet reported into an `Update`, then the
/// upstream closes with no status; the client still gets 1012 after the `Update`.
#[tokio::test]
async fn a_flux_session_gets_its_last_update_before_1012() {
    let (mut app, mut ws) = drained_session("/v2/listen?encoding=linear16&sample_rate=16000").await;
    assert_eq!(kind_of(&recv_data(&mut ws).await.unwrap()), "Connected");
    // a tenth of a second: less than the quarter Flux reports on its own
    ws.send(Message::Binary(vec![0u8; 3_200].into()))
        .await
        .unwrap();
    let run = app.begin_shutdown();
    let (data, close) = until_close(&mut ws).await;
    let kinds: Vec<String> = data.iter().map(kind_of).collect();
    assert_eq!(
        close,
        Some((1012, "voxrelay restarting".to_owned())),
        "{kinds:?}"
    );
    assert_eq!(kinds, ["TurnInfo"], "{kinds:?}");
    tokio::time::timeout(WAIT, run)
        .await
        .unwrap()
        .unwrap()
        .expect("run returns Ok");
}
