//! The listener's own TLS: `wss://` and `https://` with a test CA, rejection counting, and
//! certificate rotation (symlink swap and rename) under live sessions.

pub(crate) mod support;

use std::process::Command;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;
use support::*;

#[tokio::test]
async fn wss_and_https_work_through_a_tls_listener_with_alpn_http11() {
    let upstream = FakeUpstream::start(Behaviour::Echo).await;
    let ca = TestCa::new();
    let trust = ca.client();
    let dir = SecretDir::new(&ca.leaf());
    let app = tls_app(&upstream.base(), &dir, "").await;
    let mut ws = wss_connect(&app, &trust, "/v1/listen").await;
    echoes(&mut ws, "over wss").await;
    let tls = tls_connect(&app, &trust).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    // a client that speaks only HTTP/2 finds no common protocol
    let mut h2_only = (*trust).clone();
    h2_only.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(app.addr).await.unwrap();
    let name = ServerName::IpAddress(app.addr.ip().into());
    let h2 = TlsConnector::from(Arc::new(h2_only))
        .connect(name, tcp)
        .await;
    assert!(h2.is_err(), "no ALPN overlap is refused");
    assert_eq!(https_get(&app, &trust, "/healthz").await.0, 200);
    let metrics = https_get(&app, &trust, "/metrics").await.1;
    assert!(
        metrics.contains("voxrelay_tls_certificate_not_after_seconds "),
        "{metrics}"
    );
}

#[tokio::test]
async fn failed_and_stalled_tls_handshakes_are_counted_and_do_not_block_others() {
    let upstream = FakeUpstream::start(Behaviour::Echo).await;
    let ca = TestCa::new();
    let trust = ca.client();
    let dir = SecretDir::new(&ca.leaf());
    let app = tls_app(&upstream.base(), &dir, "handshake_timeout = \"300ms\"\n").await;
    // a client that connects and never says anything
    let _stalled = TcpStream::connect(app.addr).await.unwrap();
    // plain HTTP on the TLS port
    let mut plain = TcpStream::connect(app.addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut ignored = Vec::new();
    let _ = tokio::time::timeout(WAIT, plain.read_to_end(&mut ignored)).await;
    // the stalled one does not hold up others
    let mut ws = wss_connect(&app, &trust, "/v1/listen").await;
    echoes(&mut ws, "still served").await;
    let needle = "reason=\"tls_handshake_failed\",route=\"none\"} 2";
    https_metric_eventually(&app, &trust, needle).await;
}

#[tokio::test]
async fn a_rotated_pair_reaches_new_connections_while_live_sessions_keep_relaying() {
    let upstream = FakeUpstream::start(Behaviour::Echo).await;
    let (old_ca, new_ca) = (TestCa::new(), TestCa::new());
    let (old_only, new_only) = (old_ca.client(), new_ca.client());
    let either = trusting(&[&old_ca, &new_ca]);
    let old = old_ca.leaf();
    let mut dir = SecretDir::new(&old);
    let app = tls_app(&upstream.base(), &dir, "").await;
    let mut live = wss_connect(&app, &old_only, "/v1/listen").await;
    echoes(&mut live, "before").await;
    assert_eq!(presented(&app, &old_only).await, old.der);

    let new = new_ca.leaf();
    dir.swap_in(&new.cert_pem, &new.key_pem);
    https_metric_eventually(&app, &either, "voxrelay_tls_reloads_total{result=\"ok\"} 1").await;

    echoes(&mut live, "after the swap").await;
    assert_eq!(presented(&app, &new_only).await, new.der);
    let mut fresh = wss_connect(&app, &new_only, "/v1/listen").await;
    echoes(&mut fresh, "new certificate").await;
    echoes(&mut live, "both live").await;
}

#[tokio::test]
async fn a_bad_replacement_keeps_the_current_certificate_until_a_good_one_arrives() {
    let upstream = FakeUpstream::start(Behaviour::Echo).await;
    let ca = TestCa::new();
    let trust = ca.client();
    let first = ca.leaf();
    let mut dir = SecretDir::new(&first);
    let app = tls_app(&upstream.base(), &dir, "").await;
    let mut live = wss_connect(&app, &trust, "/v1/listen").await;

    // a new certificate with the wrong key, as when a rotation lands half-way
    let (second, stray) = (ca.leaf(), ca.leaf());
    dir.swap_in(&second.cert_pem, &stray.key_pem);
    let bad = "voxrelay_tls_reloads_total{result=\"error\"} 1";
    https_metric_eventually(&app, &trust, bad).await;
    assert_eq!(presented(&app, &trust).await, first.der);
    echoes(&mut live, "unaffected").await;
    assert!(
        logs().contains("not a usable pair"),
        "the refusal is logged"
    );
    assert!(!logs().contains(stray.key_pem.lines().nth(1).unwrap()));

    // the rest of the rotation: a plain rename of new files over the link targets
    std::fs::write(dir.root.join("next.crt"), &second.cert_pem).unwrap();
    std::fs::write(dir.root.join("next.key"), &second.key_pem).unwrap();
    let target = std::fs::canonicalize(dir.root.join("tls.key")).unwrap();
    std::fs::rename(dir.root.join("next.key"), &target).unwrap();
    let target = std::fs::canonicalize(dir.root.join("tls.crt")).unwrap();
    std::fs::rename(dir.root.join("next.crt"), &target).unwrap();
    https_metric_eventually(&app, &trust, "voxrelay_tls_reloads_total{result=\"ok\"} 1").await;
    assert_eq!(presented(&app, &trust).await, second.der);
    echoes(&mut live, "still live").await;
}

#[test]
fn check_config_names_the_setting_of_each_bad_pair() {
    let ca = TestCa::new();
    let (leaf, other) = (ca.leaf(), ca.leaf());
    let mut dir = SecretDir::new(&leaf);
    let local =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/local.toml")).unwrap();
    let path = dir.root.join("voxrelay.toml");
    let check = |path: &std::path::Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_voxrelay"))
            .args(["check-config", "--config"])
            .arg(path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), stderr)
    };
    std::fs::write(&path, format!("{local}{}", dir.section())).unwrap();
    assert_eq!(check(&path).0, Some(0), "{}", check(&path).1);

    dir.swap_in(&leaf.cert_pem, &other.key_pem);
    let (code, stderr) = check(&path);
    assert_eq!(code, Some(64));
    assert!(
        stderr.contains("server.tls.key_file: the private key does not match the certificate in server.tls.cert_file"),
        "{stderr}"
    );
    assert!(!stderr.contains(other.key_pem.lines().nth(1).unwrap()));

    dir.swap_in(&other.key_pem, &other.key_pem);
    let (_, stderr) = check(&path);
    assert!(
        stderr.contains("server.tls.cert_file: no PEM certificate"),
        "{stderr}"
    );

    dir.swap_in(&leaf.cert_pem, "");
    let (_, stderr) = check(&path);
    assert!(
        stderr.contains("server.tls.key_file: no PEM private key"),
        "{stderr}"
    );

    std::fs::remove_dir_all(dir.root.join("..data")).ok();
    std::fs::remove_file(dir.root.join("..data")).ok();
    let (_, stderr) = check(&path);
    assert!(
        stderr.contains("server.tls.cert_file: cannot read"),
        "{stderr}"
    );
}

#[tokio::test]
async fn healthcheck_speaks_tls_to_a_tls_listener_and_trusts_only_its_own_certificate() {
    let upstream = FakeUpstream::start(Behaviour::Echo).await;
    let ca = TestCa::new();
    let dir = SecretDir::new(&ca.leaf());
    let toml = tls_config(&upstream.base(), &dir, "");
    let app = TestApp::start(&toml).await;
    let probe = |toml: String| {
        let path = dir
            .root
            .join(format!("probe-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(&path, toml).unwrap();
        let addr = app.addr.to_string();
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_voxrelay"))
                .arg("--config")
                .arg(path)
                .args(["healthcheck", "--addr", &addr])
                .output()
                .unwrap()
        })
    };
    let out = probe(toml).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // a config naming another certificate does not trust this listener
    let other = SecretDir::new(&TestCa::new().leaf());
    let out = probe(tls_config(&upstream.base(), &other, ""))
        .await
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn an_expired_certificate_still_loads_with_a_warning() {
    let upstream = FakeUpstream::start(Behaviour::Echo).await;
    let ca = TestCa::new();
    let dir = SecretDir::new(&ca.expired_leaf());
    let _app = tls_app(&upstream.base(), &dir, "").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !logs().contains("the tls certificate has expired") {
        assert!(tokio::time::Instant::now() < deadline, "no expiry warning");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
