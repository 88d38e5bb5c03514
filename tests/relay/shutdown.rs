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
