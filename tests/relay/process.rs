//! The real `voxrelay` binary: check-config, hash-key, and SIGTERM with a live session.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_voxrelay");

fn temp_config(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("voxrelay-{}-{name}.toml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn check_config_accepts_the_local_config_and_rejects_a_bad_one() {
    let local = Command::new(BIN)
        .args(["check-config", "--config", "config/local.toml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        local.status.success(),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );
    let bad = temp_config("bad", "[server]\nlisten = 5\n[[routes]]\nname = \"x\"\n");
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("server.listen"), "{stderr}");
    assert!(stderr.contains("routes[0]"), "{stderr}");
}

#[test]
fn hash_key_prints_the_sha256_digest_from_stdin() {
    let mut child = Command::new(BIN)
        .arg("hash-key")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"abc\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[tokio::test]
async fn sigterm_drains_live_sessions_and_exits_zero() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let text = config(&up.base()).replace("shutdown_grace = \"5s\"", "shutdown_grace = \"200ms\"")
        + "\n[log]\nformat = \"json\"\nlevel = \"info\"\n";
    let path = temp_config("sigterm", &text);
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("voxrelay logs its address").unwrap();
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        if json["message"] == "voxrelay listening" {
            break json["addr"].as_str().unwrap().to_owned();
        }
    };
    let (mut ws, _) = connect_ok(&format!("ws://{addr}/v1/listen")).await;
    ws.send(Message::Text("hi".into())).await.unwrap();
    assert_eq!(recv_data(&mut ws).await, Some(Message::Text("hi".into())));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(recv_close(&mut ws).await.map(|c| c.0), Some(1001));
    up.handshake().await;
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
}
