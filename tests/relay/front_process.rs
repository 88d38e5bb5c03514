//! The front door with the real binary: a small descriptor limit under idle grant requests,
//! port clashes, and the simulator's start-up messages.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use futures_util::SinkExt;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

use crate::front::{grant_head, response, tcp_from};
use crate::helpers::*;
use crate::process::{BIN, serve_with, temp_config};

/// Idle grant requests opened from one address: well past the descriptor limit below.
const IDLE_REQUESTS: usize = 600;

/// At 512 descriptors, 600 grant requests that send their headers (with a valid key) but never
/// their body used to take every descriptor: `/healthz` and handshakes went unanswered. The
/// per-IP connection cap keeps that address to 64 connections and answers the rest 429.
#[tokio::test]
async fn hundreds_of_idle_grant_requests_leave_healthz_and_handshakes_working_at_512_descriptors() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    // a rate limit that never bites, so only the connection cap stands in the way
    let text = config(&up.base())
        + "\n[limits]\nhandshakes_per_second_per_ip = 100000\nhandshake_burst_per_ip = 100000\n";
    let mut prlimit = Command::new("prlimit");
    // the hard limit too: voxrelay raises its soft limit to the hard one at start
    prlimit.args(["--nofile=512:512", "--", BIN]);
    let served = serve_with(prlimit, &temp_config("fd-limit", &text), &[]);
    let addr: SocketAddr = served.addr.parse().unwrap();
    let head = grant_head(Some(&format!("Token {CLIENT_KEY}")), 100);
    let mut idle = Vec::with_capacity(IDLE_REQUESTS);
    for _ in 0..IDLE_REQUESTS {
        let mut tcp = tcp_from("127.0.0.2", addr).await;
        tcp.write_all(head.as_bytes()).await.unwrap();
        idle.push(tcp);
    }
    let health = tokio::time::timeout(WAIT, http_get(addr, "/healthz", &[])).await;
    assert_eq!(health.expect("/healthz answers").0, 200);
    let (mut ws, _) = connect_ok(&format!("ws://{addr}/v1/listen")).await;
    ws.send(Message::Text("still relaying".into()))
        .await
        .unwrap();
    assert_eq!(
        recv_data(&mut ws).await,
        Some(Message::Text("still relaying".into()))
    );
    // the latest requests were refused at once by the cap
    for tcp in idle.iter_mut().rev().take(100) {
        let (status, _, body) = response(tcp).await;
        assert_eq!(status, 429, "{body}");
        assert!(body.contains("max_connections_per_ip"), "{body}");
    }
    drop(ws);
    assert_eq!(served.terminate().await, Some(0));
}

/// `voxrelay serve` with `env` over the local config; its exit code and stderr.
fn serve_output(env: &[(&str, String)]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .args(["serve", "--config", "config/local.toml"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("RUST_LOG")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_port_clash_names_the_address_and_the_setting_and_exits_non_zero() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let free = "127.0.0.1:0".to_owned();
    let cases = [
        ("server.listen", [addr.clone(), free.clone(), free.clone()]),
        ("metrics.listen", [free.clone(), addr.clone(), free.clone()]),
        (
            "simulator.listen",
            [free.clone(), free.clone(), addr.clone()],
        ),
    ];
    for (key, [server, metrics, simulator]) in cases {
        let env = [
            ("VOXRELAY_SERVER__LISTEN", server),
            ("VOXRELAY_METRICS__LISTEN", metrics),
            ("VOXRELAY_SIMULATOR__LISTEN", simulator),
        ];
        let (code, stderr) = serve_output(&env);
        assert_eq!(code, Some(1), "{key}: {stderr}");
        assert!(stderr.contains(&addr), "{key}: {stderr}");
        assert!(stderr.contains(key), "{key}: {stderr}");
        assert!(!stderr.contains("panicked"), "{key}: {stderr}");
    }
}

#[test]
fn simulate_names_the_missing_api_key_variable() {
    let var = "VOXRELAY_TEST_SIMULATOR_KEY_NOT_SET";
    let out = Command::new(BIN)
        .args(["simulate", "--listen", "127.0.0.1:0", "--api-key-env", var])
        .env_remove(var)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(var), "{stderr}");
    assert!(stderr.contains("not set"), "{stderr}");
}

/// Starts `voxrelay simulate --listen ADDR` and returns its log lines up to the one containing
/// `until` (or all it wrote within [`WAIT`]), then stops it.
fn simulate_logs(listen: &str, until: &str) -> String {
    let mut child = Command::new(BIN)
        .args(["simulate", "--listen", listen])
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = std::time::Instant::now() + WAIT;
    let mut seen = String::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        let Ok(line) = rx.recv_timeout(left) else {
            break;
        };
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(until) {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    seen
}

#[test]
fn the_simulator_says_where_it_listens_and_warns_off_loopback() {
    let logs = simulate_logs("127.0.0.1:0", "simulator listening");
    assert!(logs.contains("127.0.0.1:"), "{logs}");
    let logs = simulate_logs("0.0.0.0:0", "non-loopback");
    assert!(logs.contains("simulator listening"), "{logs}");
    assert!(logs.contains("0.0.0.0:"), "{logs}");
    assert!(logs.contains("WARN"), "{logs}");
}
