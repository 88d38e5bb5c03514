//! Memory under large messages, on the real binary: 1 MiB binary messages stream through
//! without being held whole, what the sessions took goes back to the system when they end,
//! round after round; and the start-up warning when
//! `max_sessions` sessions could exceed the memory limit at their worst.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_voxrelay");
/// Sessions per round, each relaying one 1 MiB message each way.
const SESSIONS: usize = 40;
const ROUNDS: usize = 3;
const MIB: u64 = 1024 * 1024;

/// A running `voxrelay serve`, its address and every JSON log line it printed so far.
struct Child_ {
    child: Child,
    addr: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Drop for Child_ {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(config: &str, env: &[(&str, &str)]) -> Child_ {
    let path = std::env::temp_dir().join(format!("voxrelay-mem-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&path)
        .envs(env.iter().copied())
        .env("VOXRELAY_LOG__FORMAT", "json")
        .env("VOXRELAY_LOG__LEVEL", "info")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = out.next().expect("voxrelay logs its address").unwrap();
        lines.lock().unwrap().push(line.clone());
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        if json["message"] == "voxrelay listening" {
            break json["addr"].as_str().unwrap().to_owned();
        }
    };
    let keep = lines.clone();
    std::thread::spawn(move || out.for_each(|l| keep.lock().unwrap().extend(l.ok())));
    Child_ { child, addr, lines }
}

fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    kib * 1024
}

/// Polls the child's `/metrics` until no session is active.
async fn sessions_ended(addr: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let metrics = http_get(addr, "/metrics").await;
        let active: f64 = metrics
            .lines()
            .filter(|l| l.starts_with("voxrelay_sessions_active{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if active == 0.0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "sessions never ended"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn http_get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn large_binary_messages_stream_through_unheld_and_memory_returns_when_sessions_end() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let relay = start(
        &config(&up.base()),
        &[
            ("VOXRELAY_SERVER__MAX_MESSAGE_BYTES", "1048576"),
            ("VOXRELAY_LIMITS__HANDSHAKES_PER_SECOND_PER_IP", "1000"),
            ("VOXRELAY_LIMITS__HANDSHAKE_BURST_PER_IP", "1000"),
        ],
    );
    let pid = relay.child.id();
    let url = format!("ws://{}/v1/listen", relay.addr);
    let baseline = rss(pid);
    for round in 0..ROUNDS {
        let mut clients = Vec::new();
        for _ in 0..SESSIONS {
            let (mut ws, _) = connect_ok(&url).await;
            ws.send(Message::Binary(Bytes::from(vec![7u8; MIB as usize - 64])))
                .await
                .unwrap();
            clients.push(ws);
        }
        for ws in &mut clients {
            assert!(
                matches!(recv_data(ws).await, Some(Message::Binary(b)) if b.len() as u64 == MIB - 64)
            );
        }
        let loaded = rss(pid);
        for mut ws in clients {
            ws.close(None).await.unwrap();
            while recv(&mut ws).await.is_some() {}
        }
        sessions_ended(&relay.addr).await;
        let ended = rss(pid);
        eprintln!(
            "round {round}: baseline {} MiB, loaded {} MiB, after the sessions ended {} MiB",
            baseline / MIB,
            loaded / MIB,
            ended / MIB
        );
        // binary messages are relayed frame by frame as they arrive: no session holds one
        // whole (that would be SESSIONS MiB) ...
        assert!(
            loaded < baseline + SESSIONS as u64 * MIB / 4,
            "round {round}: {} MiB loaded for {SESSIONS} sessions of 1 MiB messages (baseline {} MiB)",
            loaded / MIB,
            baseline / MIB
        );
        // ... and what a session did take goes back when it ends
        assert!(
            ended < baseline + 16 * MIB,
            "round {round}: {} MiB kept after {SESSIONS} sessions ended (baseline {} MiB)",
            ended / MIB,
            baseline / MIB
        );
    }
}

#[tokio::test]
async fn start_warns_when_max_sessions_could_exceed_the_memory_limit() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let warned = |relay: &Child_| {
        relay
            .lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("worst_case_per_session_mib"))
    };
    // 10 sessions at about 6 MiB each fit anywhere a test runs
    let small = start(
        &config(&up.base()),
        &[("VOXRELAY_LIMITS__MAX_SESSIONS", "10")],
    );
    assert!(!warned(&small));
    // ten million sessions at their worst exceed any machine's memory
    let big = start(
        &config(&up.base()),
        &[
            ("VOXRELAY_LIMITS__MAX_SESSIONS", "10000000"),
            ("VOXRELAY_SERVER__MAX_MESSAGE_BYTES", "1048576"),
        ],
    );
    let lines = big.lines.lock().unwrap().clone();
    let warning = lines
        .iter()
        .find(|l| l.contains("worst_case_per_session_mib"))
        .unwrap_or_else(|| panic!("no memory warning in {lines:?}"));
    let json: serde_json::Value = serde_json::from_str(warning).unwrap();
    assert_eq!(json["level"], "WARN");
    // 2 × (2 MiB of text message + 4 KiB read buffer) + 8 KiB
    assert_eq!(json["worst_case_per_session_mib"], 4);
    assert!(json["memory_limit_mib"].as_u64().unwrap() > 0);
}
