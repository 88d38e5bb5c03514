//! Test CA, Kubernetes-style secret directory and TLS clients for the listener TLS tests.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::SinkExt;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair,
};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::Connector;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::*;

/// A private CA.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate for `127.0.0.1` and `localhost`, as PEM and DER.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

impl TestCa {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // distinct names: OpenSSL takes a leaf whose issuer is its own subject for self-signed
        let name = format!("voxrelay test CA {}", uuid::Uuid::new_v4());
        params.distinguished_name.push(DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    pub fn leaf(&self) -> Leaf {
        self.leaf_with(|_| {})
    }

    /// A leaf whose validity ended in 2001.
    pub fn expired_leaf(&self) -> Leaf {
        self.leaf_with(|p| {
            p.not_before = rcgen::date_time_ymd(2000, 1, 1);
            p.not_after = rcgen::date_time_ymd(2001, 1, 1);
        })
    }

    fn leaf_with(&self, adjust: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        let mut params = CertificateParams::new(names).unwrap();
        adjust(&mut params);
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    /// The CA certificate as PEM (what SDKs are told to trust).
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A client configuration trusting only this CA (ALPN as a browser offers it).
    pub fn client(&self) -> Trust {
        trusting(&[self])
    }
}

/// A client configuration for the test apps.
pub type Trust = Arc<rustls::ClientConfig>;

/// A client configuration trusting these CAs (ALPN as a browser offers it), no resumption.
pub fn trusting(cas: &[&TestCa]) -> Trust {
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        roots.add(ca.issuer.der().clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // every connection a full handshake, so each sees the certificate served at that moment
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// A directory laid out like a Kubernetes secret volume: `tls.crt` and `tls.key` are links
/// through `..data`, a link to the current timestamped directory.
pub struct SecretDir {
    pub root: PathBuf,
    version: u32,
}

impl SecretDir {
    pub fn new(leaf: &Leaf) -> Self {
        let root = std::env::temp_dir().join(format!("voxrelay-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&root).unwrap();
        let mut dir = Self { root, version: 0 };
        dir.swap_in(&leaf.cert_pem, &leaf.key_pem);
        for name in ["tls.crt", "tls.key"] {
            std::os::unix::fs::symlink(format!("..data/{name}"), dir.root.join(name)).unwrap();
        }
        dir
    }

    /// Writes a new version and swaps `..data` to it atomically (rename over the link).
    pub fn swap_in(&mut self, cert_pem: &str, key_pem: &str) {
        self.version += 1;
        let version = format!("..v{}", self.version);
        let dir = self.root.join(&version);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("tls.crt"), cert_pem).unwrap();
        std::fs::write(dir.join("tls.key"), key_pem).unwrap();
        let tmp = self.root.join("..data_tmp");
        std::os::unix::fs::symlink(&version, &tmp).unwrap();
        std::fs::rename(&tmp, self.root.join("..data")).unwrap();
    }

    /// The `[server.tls]` section for these files.
    pub fn section(&self) -> String {
        format!(
            "\n[server.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\nreload_interval = \"50ms\"\n",
            self.root.join("tls.crt").display(),
            self.root.join("tls.key").display()
        )
    }
}

impl Drop for SecretDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The standard test config against `base`, served over TLS from `dir`.
pub fn tls_config(base: &str, dir: &SecretDir, server_extra: &str) -> String {
    let toml = config(base).replace("[server]\n", &format!("[server]\n{server_extra}"));
    format!("{toml}{}", dir.section())
}

/// An app running [`tls_config`].
pub async fn tls_app(base: &str, dir: &SecretDir, server_extra: &str) -> TestApp {
    TestApp::start(&tls_config(base, dir, server_extra)).await
}

/// A TLS connection to the app trusting `ca`.
pub async fn tls_connect(app: &TestApp, trust: &Trust) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(app.addr).await.unwrap();
    let name = ServerName::IpAddress(app.addr.ip().into());
    let connect = TlsConnector::from(trust.clone()).connect(name, tcp);
    tokio::time::timeout(WAIT, connect)
        .await
        .expect("tls handshake in time")
        .expect("tls handshake succeeds")
}

/// The leaf certificate the app presents to a new connection.
pub async fn presented(app: &TestApp, trust: &Trust) -> CertificateDer<'static> {
    let tls = tls_connect(app, trust).await;
    tls.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// GET over HTTPS; returns the status and body.
pub async fn https_get(app: &TestApp, trust: &Trust, path: &str) -> (u16, String) {
    let mut tls = tls_connect(app, trust).await;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, tls.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .unwrap();
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head[9..12].parse().unwrap(), body.to_owned())
}

/// Polls `/metrics` over HTTPS until it contains `needle`.
pub async fn https_metric_eventually(app: &TestApp, trust: &Trust, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut metrics = String::new();
    while tokio::time::Instant::now() < deadline {
        metrics = https_get(app, trust, "/metrics").await.1;
        if metrics.contains(needle) {
            return metrics;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("/metrics never showed {needle}:\n{metrics}");
}

/// Opens `wss://127.0.0.1:port{path}` with the client key, trusting `ca`.
pub async fn wss_connect(app: &TestApp, trust: &Trust, path: &str) -> Client {
    let url = format!("wss://{}{path}", app.addr);
    let mut req = url.into_client_request().unwrap();
    let offer = HeaderValue::from_str(&format!("token, {CLIENT_KEY}")).unwrap();
    req.headers_mut().insert("sec-websocket-protocol", offer);
    let connector = Some(Connector::Rustls(trust.clone()));
    let connect = tokio_tungstenite::connect_async_tls_with_config(req, None, false, connector);
    let (ws, resp) = tokio::time::timeout(WAIT, connect)
        .await
        .expect("connect finishes")
        .expect("relay accepts over wss");
    assert_eq!(resp.status(), 101);
    ws
}

/// Sends `text` and expects the fake upstream's echo.
pub async fn echoes(ws: &mut Client, text: &str) {
    ws.send(Message::Text(text.into())).await.unwrap();
    assert_eq!(recv_data(ws).await, Some(Message::Text(text.into())));
}
