//! Changing the configuration of a running `voxrelay` without a restart: a key added by a
//! changed file is admitted, a removed one is refused at once and its live sessions end after
//! the grace with 1008, a broken file is refused and the running configuration keeps serving,
//! and SIGHUP reloads on demand.

use std::process::Command;
use std::time::Duration;

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use voxrelay::secret::KeyDigest;

use crate::helpers::*;
use crate::process::{Served, serve, temp_config};

const NEW_KEY: &str = "newcomer-key-31d9";

fn with_reload(base: &str, watch: &str, grace: &str) -> String {
    config(base)
        + &format!("\n[reload]\nwatch_interval = \"{watch}\"\nremoved_key_grace = \"{grace}\"\n")
}

fn with_newcomer(text: &str) -> String {
    format!(
        "{text}\n[[client_keys]]\nid = \"newcomer\"\nsha256 = \"{}\"\n",
        KeyDigest::of(NEW_KEY).to_hex()
    )
}

/// `text` without the `tester` key (the one [`CLIENT_KEY`] is).
fn without_tester(text: &str) -> String {
    let tester = format!(
        "[[client_keys]]\nid = \"tester\"\nsha256 = \"{}\"\n",
        KeyDigest::of(CLIENT_KEY).to_hex()
    );
    assert!(text.contains(&tester));
    text.replace(&tester, "")
}

fn url(served: &Served) -> String {
    format!("ws://{}/v1/listen", served.addr)
}

async fn status_with(served: &Served, key: &str) -> u16 {
    match connect(&url(served), Some(&format!("token, {key}")), &[]).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("handshake failed: {e}"),
    }
}

/// Polls the handshake with `key` until it answers `status` (a reload is applied by a
/// background task; the deadline bounds the wait).
async fn until_status(served: &Served, key: &str, status: u16) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = status_with(served, key).await;
        if now == status {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the handshake with the key still answers {now}, not {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn metrics_until(served: &Served, needle: &str) -> String {
    let addr = served.addr.parse().unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, body) = http_get(addr, "/metrics", &[]).await;
        if body.contains(needle) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/metrics never showed {needle}:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn echoes(ws: &mut Client, text: &str) {
    ws.send(Message::Text(text.into())).await.unwrap();
    assert_eq!(recv_data(ws).await, Some(Message::Text(text.into())));
}

/// The upstream handshake whose query holds `tag` (earlier handshakes are passed over).
async fn tagged(up: &mut FakeUpstream, tag: &str) -> Seen {
    loop {
        let seen = up.handshake().await;
        if seen.uri.contains(tag) {
            return seen;
        }
    }
}

fn hangup(served: &Served) {
    let pid = served.child.id().to_string();
    let sent = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(sent.success());
}

#[tokio::test]
async fn keys_change_in_a_running_relay_without_dropping_sessions() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let start = with_reload(&up.base(), "50ms", "3s");
    let path = temp_config("reload-keys", &start);
    let served = serve(&path, &[]);
    assert_eq!(status_with(&served, NEW_KEY).await, 401);
    let (mut live, _) = connect_ok(&url(&served)).await;
    echoes(&mut live, "before").await;

    // a key added to the file is admitted; the live session is untouched
    let added = with_newcomer(&start);
    std::fs::write(&path, &added).unwrap();
    until_status(&served, NEW_KEY, 101).await;
    echoes(&mut live, "after the key was added").await;

    // a removed key: refused at once, its live session continues through the grace...
    std::fs::write(&path, without_tester(&added)).unwrap();
    until_status(&served, CLIENT_KEY, 401).await;
    echoes(&mut live, "within the grace").await;
    // ...and then ends with 1008 and the reason, both ways
    let close = recv_close(&mut live).await;
    assert_eq!(
        close,
        Some((1008, "client key removed".to_owned())),
        "the removed key's session ends after the grace"
    );

    // a broken file is refused: the running configuration keeps serving
    std::fs::write(&path, "[server\nlisten = ").unwrap();
    let metrics = metrics_until(
        &served,
        "voxrelay_config_reloads_total{result=\"rejected\"} 1",
    )
    .await;
    assert!(
        metrics.contains("voxrelay_config_reloads_total{result=\"applied\"} 2"),
        "{metrics}"
    );
    let (mut newcomer, _) = connect(&url(&served), Some(&format!("token, {NEW_KEY}")), &[])
        .await
        .expect("the running configuration still admits the new key");
    echoes(&mut newcomer, "still served").await;
    assert_eq!(status_with(&served, CLIENT_KEY).await, 401);
    metrics_until(
        &served,
        "voxrelay_sessions_total{outcome=\"revoked\",route=\"listen\",upstream=\"dg\"} 1",
    )
    .await;
    drop(newcomer);
    assert_eq!(served.terminate().await, Some(0));
}

#[tokio::test]
async fn sighup_reloads_and_restart_only_changes_are_flagged() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    // this test's own upstream key file, rotated below
    let key_file = std::env::temp_dir().join(format!("voxrelay-{}-hup.key", std::process::id()));
    std::fs::write(&key_file, "first-upstream-key\n").unwrap();
    // no watching: only SIGHUP reloads
    let start = with_reload(&up.base(), "0s", "30s")
        .replace(&secret_file(), &key_file.display().to_string());
    let path = temp_config("reload-hup", &start);
    let served = serve(&path, &[]);
    let changed = with_newcomer(&start).replace("close_timeout = \"1s\"", "close_timeout = \"2s\"");
    std::fs::write(&path, &changed).unwrap();
    // the file alone changes nothing while nobody watches it
    assert_eq!(status_with(&served, NEW_KEY).await, 401);
    hangup(&served);
    until_status(&served, NEW_KEY, 101).await;
    // a [server] setting changed: it waits for a restart, and /metrics says so
    metrics_until(&served, "voxrelay_config_restart_pending 1").await;
    let (_first, _) = connect_ok(&format!("{}?tag=first", url(&served))).await;
    let seen = tagged(&mut up, "tag=first").await;
    assert_eq!(seen.headers["authorization"], "Token first-upstream-key");
    // a rotated upstream key file: SIGHUP with the same configuration file applies it
    std::fs::write(&key_file, "second-upstream-key\n").unwrap();
    hangup(&served);
    metrics_until(
        &served,
        "voxrelay_config_reloads_total{result=\"applied\"} 2",
    )
    .await;
    let (_second, _) = connect_ok(&format!("{}?tag=second", url(&served))).await;
    let seen = tagged(&mut up, "tag=second").await;
    assert_eq!(seen.headers["authorization"], "Token second-upstream-key");
    assert_eq!(served.terminate().await, Some(0));
}
