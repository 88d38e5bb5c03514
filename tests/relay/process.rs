//! The real `voxrelay` binary: check-config, hash-key, and SIGTERM with a live session.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_voxrelay");

pub fn temp_config(name: &str, text: &str) -> std::path::PathBuf {
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
    let local_stderr = String::from_utf8_lossy(&local.stderr);
    assert!(local.status.success(), "{local_stderr}");
    assert!(!local_stderr.contains("warning"), "{local_stderr}");
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

/// Every error once (a missing credential is not also six "unknown upstream" errors for the
/// routes naming that upstream), and warnings for what is valid but not meant.
#[test]
fn check_config_reports_each_error_once_and_warns() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/voxrelay.toml"),
    )
    .unwrap();
    let shipped = temp_config("shipped", &text);
    let check = |env: &[(&str, &str)]| {
        Command::new(BIN)
            .args(["check-config", "--config"])
            .arg(&shipped)
            .env_remove("CLOUDFLARE_AIG_TOKEN")
            .env_remove("DEEPGRAM_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .env_remove("ASSEMBLYAI_API_KEY")
            .env_remove("CARTESIA_API_KEY")
            .env_remove("VOXRELAY_SIGNING_SECRET")
            .env("ELEVENLABS_API_KEY", "el-key")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let warnings = [
        "warning: client_keys: none configured",
        "warning: upstreams.cloudflare.account_id: \"your-account-id\" looks like a placeholder",
        "warning: routes[0].allowed_origins[0]: \"https://app.example.com\" looks like a placeholder",
    ];
    let secret = (
        "VOXRELAY_SIGNING_SECRET",
        "0123456789abcdef0123456789abcdef",
    );
    let openai = ("OPENAI_API_KEY", "oa-key");
    let assemblyai = ("ASSEMBLYAI_API_KEY", "aai-key");
    let cartesia = ("CARTESIA_API_KEY", "ca-key");
    let out = check(&[
        ("DEEPGRAM_API_KEY", "dg-key"),
        openai,
        assemblyai,
        cartesia,
        secret,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains(
            "1 configuration error(s):\n  upstreams.cloudflare.key_env: environment variable \
             CLOUDFLARE_AIG_TOKEN is not set"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("unknown upstream"), "{stderr}");
    for w in warnings {
        assert!(stderr.contains(w), "missing {w:?} in:\n{stderr}");
    }
    let out = check(&[
        ("DEEPGRAM_API_KEY", "dg-key"),
        ("CLOUDFLARE_AIG_TOKEN", "cf-token"),
        openai,
        assemblyai,
        cartesia,
        secret,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok (10 routes"));
    for w in warnings {
        assert!(stderr.contains(w), "missing {w:?} in:\n{stderr}");
    }
    assert_eq!(
        stderr.lines().count(),
        stderr.matches("warning: ").count(),
        "{stderr}"
    );
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

/// A running `voxrelay serve` and the address it logged.
pub struct Served {
    pub child: std::process::Child,
    pub addr: String,
}

/// Starts `voxrelay serve --config PATH` with JSON logs and waits for its "listening" line.
pub fn serve(config: &std::path::Path, env: &[(&str, &str)]) -> Served {
    serve_with(Command::new(BIN), config, env)
}

/// Like [`serve`], with `command` running the binary (e.g. `prlimit … -- voxrelay`).
pub fn serve_with(mut command: Command, config: &std::path::Path, env: &[(&str, &str)]) -> Served {
    let mut child = command
        .args(["serve", "--config"])
        .arg(config)
        .envs(env.iter().copied())
        .env("VOXRELAY_LOG__FORMAT", "json")
        .env_remove("RUST_LOG")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
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
    // keep draining stdout so the child never blocks on a full pipe
    std::thread::spawn(move || lines.for_each(drop));
    Served { child, addr }
}

/// A test that fails before [`Served::terminate`] must not leave the relay running.
impl Drop for Served {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Served {
    /// Sends SIGTERM and returns the exit code.
    pub async fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = tokio::task::spawn_blocking(move || self.child.wait())
            .await
            .unwrap();
        status.unwrap().code()
    }
}

#[tokio::test]
async fn sigterm_drains_live_sessions_and_exits_zero() {
    let mut up = FakeUpstream::start(Behaviour::Echo).await;
    let text = config(&up.base()).replace("shutdown_grace = \"5s\"", "shutdown_grace = \"200ms\"");
    let served = serve(&temp_config("sigterm", &text), &[]);
    let (mut ws, _) = connect_ok(&format!("ws://{}/v1/listen", served.addr)).await;
    ws.send(Message::Text("hi".into())).await.unwrap();
    assert_eq!(recv_data(&mut ws).await, Some(Message::Text("hi".into())));
    up.handshake().await;
    let exit = tokio::spawn(served.terminate());
    assert_eq!(recv_close(&mut ws).await.map(|c| c.0), Some(1012));
    assert_eq!(exit.await.unwrap(), Some(0));
}

/// The README's run command: local mode with the built-in simulator and the demo key.
#[tokio::test]
async fn local_mode_shows_transcripts_without_any_credentials() {
    let env = [
        ("VOXRELAY_SERVER__LISTEN", "127.0.0.1:0"),
        ("VOXRELAY_SIMULATOR__LISTEN", "127.0.0.1:0"),
    ];
    let served = serve(std::path::Path::new("config/local.toml"), &env);
    let url = format!(
        "ws://{}/v1/listen?encoding=linear16&sample_rate=16000",
        served.addr
    );
    let (mut ws, _) = connect(&url, Some("token, voxrelay-demo-key"), &[])
        .await
        .unwrap();
    ws.send(Message::Binary(vec![0u8; 32000].into()))
        .await
        .unwrap();
    ws.send(Message::Text(r#"{"type":"CloseStream"}"#.into()))
        .await
        .unwrap();
    let mut transcript = String::new();
    while let Some(Message::Text(t)) = recv_data(&mut ws).await {
        let json: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
        if json["type"] == "Results" {
            transcript += json["channel"]["alternatives"][0]["transcript"]
                .as_str()
                .unwrap();
        }
    }
    assert!(
        !transcript.is_empty(),
        "the simulator's transcript came through"
    );
    assert_eq!(served.terminate().await, Some(0));
}

#[tokio::test]
async fn healthcheck_probes_the_running_relay() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let app = TestApp::against(&up).await;
    let addr = app.addr.to_string();
    let ok = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["healthcheck", "--addr", &addr])
            .status()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(ok.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let down = Command::new(BIN)
        .args(["healthcheck", "--addr", &port.to_string()])
        .status()
        .unwrap();
    assert!(!down.success(), "nothing listens there");
}

#[tokio::test]
async fn the_demo_page_is_served_only_when_enabled() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let off = TestApp::against(&up).await;
    assert_eq!(off.get("/demo/").await.0, 404);
    let on = TestApp::start(
        &(config(&up.base()) + "\n[demo]\nenabled = true\npublic_key = \"demo-k\"\n"),
    )
    .await;
    let (status, page) = on.get("/demo/").await;
    assert_eq!(status, 200);
    assert!(page.contains("/demo/app.js"));
    for script in [
        "/demo/app.js",
        "/demo/audio.js",
        "/demo/realtime.js",
        "/demo/providers.js",
        "/demo/provider-kinds.js",
    ] {
        assert_eq!(on.get(script).await.0, 200, "{script}");
    }
    let (_, config) = on.get("/demo/config.json").await;
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["key"], "demo-k");
    assert_eq!(config["routes"][0]["path"], "/v1/listen");
}

/// The descriptor table is grown before the runtime's threads start: growing it later, with
/// threads, stalls the worker inside `socket()`/`accept()` (the set-up tail in BENCHMARKS.md).
#[tokio::test]
async fn the_descriptor_table_is_grown_for_the_session_cap_at_start() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let text = config(&up.base());
    let served = serve(
        &temp_config("fdsize", &text),
        &[("VOXRELAY_LIMITS__MAX_SESSIONS", "3000")],
    );
    let pid = served.child.id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let table: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("FDSize:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let soft: u64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap();
    // 3,000 sessions × 2 sockets + 64 spare, unless the open-file limit is lower
    let expected = 6_064.min(soft);
    assert!(
        table >= expected,
        "descriptor table {table} < {expected} (limit {soft})"
    );
    assert_eq!(served.terminate().await, Some(0));
}

/// The signal handlers are installed before the relay announces that it listens, so a SIGTERM
/// that arrives at once still drains and exits 0 instead of killing the process.
#[tokio::test]
async fn sigterm_right_after_start_drains_and_exits_zero() {
    let up = FakeUpstream::start(Behaviour::Echo).await;
    let text = config(&up.base());
    // the race is narrow (the log write to the first poll of the signal future): try it often
    for i in 0..10 {
        let served = serve(&temp_config(&format!("early-term-{i}"), &text), &[]);
        assert_eq!(served.terminate().await, Some(0));
    }
}
