//! Churn: thousands of sessions opened and ended every way leave no file descriptors, tasks or
//! gauge counts behind.

use std::time::Duration;

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

/// Sessions per concurrent batch, and batches.
const BATCH: usize = 50;
const BATCHES: usize = 60;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// One session ended one of three ways: clean close, abort (TCP dropped), or refusal.
async fn session(app: &TestApp, n: usize) {
    let url = app.ws("/v1/listen");
    match n % 3 {
        0 => {
            let (mut ws, _) = connect_ok(&url).await;
            ws.send(Message::Text("hello".into())).await.unwrap();
            recv_data(&mut ws).await;
            ws.close(None).await.unwrap();
            while recv(&mut ws).await.is_some() {}
        }
        1 => {
            let (mut ws, _) = connect_ok(&url).await;
            ws.send(Message::Binary(vec![0u8; 320].into()))
                .await
                .unwrap();
            drop(ws);
        }
        _ => {
            refused(&url, Some("token, not-a-key"), &[]).await;
        }
    }
}

/// Polls `probe` until it is at most `limit` (bounded by [`WAIT`]).
async fn settles(what: &str, limit: usize, probe: impl Fn() -> usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while probe() > limit {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} stayed at {} (baseline {limit})",
            probe()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_sessions_return_fds_tasks_and_gauges_to_baseline() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let toml = config(&up.base())
        + "\n[limits]\nhandshakes_per_second_per_ip = 100000\nhandshake_burst_per_ip = 100000\n";
    let app = TestApp::start(&toml).await;
    session(&app, 0).await;
    metric_eventually(&app, r#"voxrelay_sessions_active{route="listen"} 0"#).await;
    let (fds, tasks) = (open_fds(), alive_tasks());
    for batch in 0..BATCHES {
        let sessions = (0..BATCH).map(|i| session(&app, batch * BATCH + i));
        futures_util::future::join_all(sessions).await;
    }
    let ended = BATCHES * BATCH / 3 * 2 + 1;
    let m = metric_eventually(&app, r#"voxrelay_sessions_active{route="listen"} 0"#).await;
    let total: usize = m
        .lines()
        .filter(|l| l.starts_with("voxrelay_sessions_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<usize>().ok())
        .sum();
    assert_eq!(total, ended, "every session's end was recorded\n{m}");
    assert!(m.contains(&format!(
        r#"voxrelay_handshake_rejections_total{{reason="invalid_credentials",route="listen"}} {}"#,
        BATCHES * BATCH / 3
    )));
    // the upstream side of aborted sessions closes within the close timeout
    settles("open file descriptors", fds, open_fds).await;
    settles("live tokio tasks", tasks, alive_tasks).await;
}
