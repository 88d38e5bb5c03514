//! `wss://` upstreams: real TLS with rustls, trusting an extra CA file from config.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

/// A private CA and a `wss://localhost` echo server whose certificate it signed.
async fn tls_echo_upstream() -> (String, std::path::PathBuf) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let ca_file =
        std::env::temp_dir().join(format!("voxrelay-test-ca-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else {
                    return;
                };
                while let Some(Ok(m)) = ws.next().await {
                    if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("wss://localhost:{port}"), ca_file)
}

#[tokio::test]
async fn wss_upstream_signed_by_the_extra_ca_relays() {
    let (base, ca_file) = tls_echo_upstream().await;
    let toml = config(&base).replace(
        "[server]\n",
        &format!("[server]\nextra_ca_file = \"{}\"\n", ca_file.display()),
    );
    let app = TestApp::start(&toml).await;
    let (mut ws, _) = connect_ok(&app.ws("/v1/listen")).await;
    ws.send(Message::Text("over tls".into())).await.unwrap();
    assert_eq!(
        recv_data(&mut ws).await,
        Some(Message::Text("over tls".into()))
    );
}

#[tokio::test]
async fn wss_upstream_with_an_untrusted_certificate_is_502() {
    let (base, _) = tls_echo_upstream().await;
    let app = TestApp::start(&config(&base)).await;
    let offer = format!("token, {CLIENT_KEY}");
    let (status, body) = refused(&app.ws("/v1/listen"), Some(&offer), &[]).await;
    assert_eq!(status, 502, "{body}");
}
