//! Official Deepgram clients through the relay, with the simulator as upstream.

use std::path::Path;
use std::process::Command;

use voxrelay::simulate::SimulatorConfig;

use crate::helpers::*;
use crate::tls_server::support::{SecretDir, TestCa, https_get, tls_app};

/// The virtualenv `scripts/setup-test-deps.sh` makes.
const PYTHON: &str = ".venv-clients/bin/python";

/// The interpreter. A missing virtualenv fails the test (never a silent skip), naming the command
/// that makes it; `scripts/test.sh` runs that command first.
fn python() -> std::path::PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(PYTHON);
    assert!(
        path.exists(),
        "{PYTHON} is missing: run scripts/setup-test-deps.sh (scripts/test.sh does) to install \
         Deepgram's official Python SDK for this test"
    );
    path
}

/// Runs `deepgram_python.py` against the relay at `addr` and checks everything arrived.
async fn python_sdk_streams_everything(addr: String, tls: Option<std::path::PathBuf>) {
    let python = python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/deepgram_python.py");
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(python);
        cmd.arg(script)
            .args(["--relay", &addr, "--key", CLIENT_KEY]);
        if let Some(ca) = tls {
            // the SDK's websockets and httpx both verify against this file alone
            cmd.arg("--tls").env("SSL_CERT_FILE", ca);
        }
        cmd.output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(
        report["stt_final_transcripts"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert!(!report["stt_text"].as_str().unwrap().is_empty(), "{report}");
    assert!(report["stt_metadata"].as_bool().unwrap(), "{report}");
    assert!(report["tts_audio_bytes"].as_u64().unwrap() > 0, "{report}");
    assert!(report["tts_flushed"].as_bool().unwrap(), "{report}");
    assert!(report["flux_turn_infos"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(report["grant_expires_in"], 60, "{report}");
    assert!(
        report["grant_stt_final_transcripts"].as_u64().unwrap() >= 1,
        "{report}"
    );
}

/// The simulator on 127.0.0.1:0 accepting any credential, as `ws://addr`.
async fn simulator() -> String {
    spawn_simulator(SimulatorConfig::default()).await
}

fn assert_traffic_on_every_route(metrics: &str) {
    for route in ["listen", "speak", "flux"] {
        let needle = format!(
            "voxrelay_messages_total{{direction=\"upstream_to_client\",route=\"{route}\"}}"
        );
        assert!(
            metrics.contains(&needle),
            "no traffic on {route}:\n{metrics}"
        );
    }
}

#[tokio::test]
async fn python_deepgram_sdk_streams_stt_tts_flux_and_uses_a_grant_through_the_relay() {
    let app = TestApp::start(&config(&simulator().await)).await;
    python_sdk_streams_everything(app.addr.to_string(), None).await;
    assert_traffic_on_every_route(&app.metrics().await);
}

#[tokio::test]
async fn python_deepgram_sdk_works_over_wss_and_https_trusting_a_test_ca() {
    let ca = TestCa::new();
    let dir = SecretDir::new(&ca.leaf());
    let ca_file = dir.root.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let app = tls_app(&simulator().await, &dir, "").await;
    // the certificate names 127.0.0.1 (and localhost), so the address verifies as is
    python_sdk_streams_everything(app.addr.to_string(), Some(ca_file)).await;
    let metrics = https_get(&app, &ca.client(), "/metrics").await.1;
    assert_traffic_on_every_route(&metrics);
}
