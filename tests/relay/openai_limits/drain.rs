//! Draining on a `realtime` route: readiness fails, new upgrades get OpenAI's 503, live sessions
//! go on through the grace, then get the input buffer committed (an empty one is answered with
//! an error, relayed) and are closed with 1012; SIGTERM does the same.

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use super::*;
use crate::process::{serve, temp_config};

/// Waits (without sleeping) until `/readyz` fails.
async fn wait_until_draining(app: &TestApp) {
    for _ in 0..1000 {
        if app.get("/readyz").await.0 == 503 {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("/readyz never answered 503");
}

/// `input_audio_buffer.clear`, answered by `input_audio_buffer.cleared`: proof the session relays.
async fn round_trip(ws: &mut Client) {
    ws.send(client_event(json!({"type": "input_audio_buffer.clear"})))
        .await
        .unwrap();
    let answer = event(ws).await;
    assert_eq!(answer["type"], "input_audio_buffer.cleared", "{answer}");
}

#[tokio::test]
async fn draining_refuses_new_realtime_upgrades_in_openais_shape_and_closes_live_ones_with_1012() {
    let mut app = relay("", |t| {
        t.replace("shutdown_grace = \"5s\"", "shutdown_grace = \"300ms\"")
    })
    .await;
    assert_eq!(app.get("/readyz").await.0, 200);
    let mut ws = open(&app).await;
    let run = app.begin_shutdown();
    wait_until_draining(&app).await;
    let (status, body, _) = refused_realtime(&app).await;
    assert_eq!(status, 503, "{body}");
    let message = openai_error(&body, "server_error", "service_unavailable");
    assert!(message.contains("shutting down"), "{body}");
    assert_eq!(
        app.get("/healthz").await.0,
        200,
        "still live while draining"
    );
    // the live session still relays during the grace period
    round_trip(&mut ws).await;
    assert_eq!(
        recv_close(&mut ws).await,
        Some((1012, "voxrelay restarting".to_owned()))
    );
    tokio::time::timeout(WAIT, run)
        .await
        .unwrap()
        .unwrap()
        .expect("run returns Ok");
}

#[tokio::test]
async fn a_realtime_session_that_ends_within_the_grace_keeps_its_own_close_code() {
    let mut app = relay("", |t| t).await;
    let mut ws = open(&app).await;
    let run = app.begin_shutdown();
    wait_until_draining(&app).await;
    round_trip(&mut ws).await;
    let frame = CloseFrame {
        code: 1000.into(),
        reason: "done".into(),
    };
    ws.close(Some(frame)).await.unwrap();
    assert_eq!(recv_close(&mut ws).await, Some((1000, "done".to_owned())));
    tokio::time::timeout(WAIT, run)
        .await
        .unwrap()
        .unwrap()
        .expect("run returns Ok");
}

#[tokio::test]
async fn sigterm_drains_a_live_realtime_session_and_exits_zero() {
    let base = simulator(std::time::Duration::from_secs(10)).await;
    let text = realtime_config_with(&base, "")
        .replace("shutdown_grace = \"5s\"", "shutdown_grace = \"200ms\"");
    let served = serve(&temp_config("sigterm-realtime", &text), &[]);
    let url = format!("ws://{}/v1/realtime", served.addr);
    let (mut ws, _) = connect(&url, Some(&offer()), &[]).await.expect("accepted");
    let created = event(&mut ws).await;
    assert_eq!(created["type"], "session.created", "{created}");
    round_trip(&mut ws).await;
    let exit = tokio::spawn(served.terminate());
    assert_eq!(
        recv_close(&mut ws).await,
        Some((1012, "voxrelay restarting".to_owned()))
    );
    assert_eq!(exit.await.unwrap(), Some(0));
}
