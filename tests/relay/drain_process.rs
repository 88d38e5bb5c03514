//! The drain with the real binary and its built-in simulator as the upstream: SIGTERM while
//! sessions stream audio to `/v1/listen`. Each keeps relaying through the grace, then, at its
//! own moment in the spread, gets `CloseStream` sent upstream, receives the final `Results`
//! and `Metadata` that answer it, and only then close 1012; none closes before the grace is
//! over, all close within the drain's bound.

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;
use crate::process::serve;

const SESSIONS: usize = 4;
const GRACE: Duration = Duration::from_secs(1);
const SPREAD: Duration = Duration::from_secs(1);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// 16-bit PCM at 16 kHz.
const BYTES_PER_SECOND: usize = 32_000;

/// What one session saw after SIGTERM.
struct Seen {
    /// The `Results` and `Metadata` messages, in order.
    messages: Vec<Value>,
    close: Option<(u16, String)>,
    closed_at: Instant,
}

fn json(m: &Message) -> Value {
    match m {
        Message::Text(t) => serde_json::from_str(t.as_str()).expect("JSON"),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// One streaming session: 1.5 s of audio before SIGTERM (its first second is transcribed at
/// once), a quarter second more during the grace; `ready` once the first `Results` is in.
async fn session(
    url: String,
    ready: mpsc::Sender<()>,
    go: tokio::sync::watch::Receiver<bool>,
) -> Seen {
    let (mut ws, _) = connect(&url, Some("token, voxrelay-demo-key"), &[])
        .await
        .expect("accepted");
    ws.send(Message::Binary(vec![0u8; BYTES_PER_SECOND * 3 / 2].into()))
        .await
        .unwrap();
    let first = json(&recv_data(&mut ws).await.expect("a first Results"));
    assert_eq!(first["type"], "Results", "{first}");
    assert_eq!(first["duration"], 1.0, "{first}");
    ready.send(()).await.unwrap();
    let mut go = go;
    go.wait_for(|sent| *sent).await.unwrap();
    // SIGTERM was sent: the session still relays through the grace
    ws.send(Message::Binary(vec![0u8; BYTES_PER_SECOND / 4].into()))
        .await
        .unwrap();
    let mut messages = Vec::new();
    loop {
        match recv(&mut ws).await.expect("a close frame before the end") {
            Message::Close(f) => {
                return Seen {
                    messages,
                    close: f.map(|f| (f.code.into(), f.reason.to_string())),
                    closed_at: Instant::now(),
                };
            }
            m @ Message::Text(_) => messages.push(json(&m)),
            _ => {}
        }
    }
}

#[tokio::test]
async fn sigterm_drains_streaming_sessions_with_their_final_transcripts_then_1012_spread_after_the_grace()
 {
    let secs = |d: Duration| format!("{}ms", d.as_millis());
    let env = [
        ("VOXRELAY_SERVER__LISTEN", "127.0.0.1:0".to_owned()),
        ("VOXRELAY_SIMULATOR__LISTEN", "127.0.0.1:0".to_owned()),
        ("VOXRELAY_SERVER__SHUTDOWN_GRACE", secs(GRACE)),
        ("VOXRELAY_SERVER__DRAIN_SPREAD", secs(SPREAD)),
        ("VOXRELAY_SERVER__DRAIN_TIMEOUT", secs(DRAIN_TIMEOUT)),
        ("VOXRELAY_SERVER__CLOSE_TIMEOUT", secs(CLOSE_TIMEOUT)),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let served = serve(std::path::Path::new("config/local.toml"), &env);
    let url = format!(
        "ws://{}/v1/listen?encoding=linear16&sample_rate=16000",
        served.addr
    );
    let (ready_tx, mut ready) = mpsc::channel(SESSIONS);
    let (go_tx, go) = tokio::sync::watch::channel(false);
    let sessions: Vec<_> = (0..SESSIONS)
        .map(|_| tokio::spawn(session(url.clone(), ready_tx.clone(), go.clone())))
        .collect();
    for _ in 0..SESSIONS {
        tokio::time::timeout(WAIT, ready.recv())
            .await
            .expect("every session relays")
            .unwrap();
    }
    let terminated = Instant::now();
    let exit = tokio::spawn(served.terminate());
    go_tx.send(true).unwrap();
    let bound = GRACE + SPREAD + DRAIN_TIMEOUT + CLOSE_TIMEOUT;
    for s in sessions {
        let seen = tokio::time::timeout(bound + WAIT, s)
            .await
            .expect("the session ends")
            .unwrap();
        assert_eq!(
            seen.close,
            Some((1012, "voxrelay restarting".to_owned())),
            "{:?}",
            seen.messages
        );
        let types: Vec<&str> = seen
            .messages
            .iter()
            .map(|m| m["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["Results", "Metadata"], "{:?}", seen.messages);
        // the quarter second sent after SIGTERM and the half second before it: CloseStream's
        // final result, relayed before the close
        let finals = &seen.messages[0];
        assert_eq!(finals["is_final"], true, "{finals}");
        assert_eq!(finals["duration"], 0.75, "{finals}");
        let words = finals["channel"]["alternatives"][0]["transcript"]
            .as_str()
            .unwrap();
        assert!(!words.is_empty(), "{finals}");
        assert_eq!(seen.messages[1]["duration"], 1.75, "{}", seen.messages[1]);
        let after = seen.closed_at - terminated;
        assert!(
            after >= GRACE,
            "closed {after:?} after SIGTERM, within the grace"
        );
        assert!(
            after < bound,
            "closed {after:?} after SIGTERM, past the drain's bound"
        );
    }
    let code = tokio::time::timeout(WAIT, exit)
        .await
        .expect("exits")
        .unwrap();
    assert_eq!(code, Some(0));
    assert!(
        terminated.elapsed() < bound + Duration::from_secs(1),
        "{:?}",
        terminated.elapsed()
    );
}
