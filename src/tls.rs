//! The listener's own TLS (`[server.tls]`): the certificate pair read from PEM files, a resolver
//! that swaps it when the files change, and the per-connection handshake the accept loop runs.
//!
//! Plain TCP stays the default; with TLS every connection is wrapped before HTTP sees it, so
//! `https://` and `wss://` share the listener and ALPN offers only `http/1.1` (WebSocket upgrades
//! are HTTP/1.1).

mod pair;
mod probe;
mod reload;
mod resolver;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;
use tracing::debug;

use crate::config::ServerTlsConfig;
use crate::http::NO_ROUTE;
use crate::metrics::Metrics;

pub(crate) use pair::{Identity, PairError, PairFiles};
pub(crate) use probe::pinned_client;
pub(crate) use reload::watch;
pub(crate) use resolver::CertResolver;

/// Rejection reason counted when a client's TLS handshake fails or does not finish in time.
pub(crate) const HANDSHAKE_FAILED_REASON: &str = "tls_handshake_failed";

/// The one ALPN protocol offered: WebSocket upgrades need HTTP/1.1.
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// A connection as the HTTP server sees it: TLS or plain TCP.
pub(crate) type Stream<IO = TcpStream> = Either<TlsStream<IO>, IO>;

/// Validated listener TLS: where the pair lives and the resolver holding the current one.
#[derive(Debug, Clone)]
pub(crate) struct ServerTls {
    /// As configured.
    pub config: ServerTlsConfig,
    /// The pair handed to every new handshake; replaced on reload.
    pub resolver: Arc<CertResolver>,
    server: Arc<ServerConfig>,
}

impl ServerTls {
    /// A TLS server with the `ring` provider, safe default versions and ALPN `http/1.1`.
    pub(crate) fn new(config: ServerTlsConfig, identity: Identity) -> Result<Self, rustls::Error> {
        let resolver = Arc::new(CertResolver::new(identity));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        server.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        Ok(Self {
            config,
            resolver,
            server: Arc::new(server),
        })
    }

    /// A client configuration trusting exactly the certificate served now (for the probe).
    pub(crate) fn probe_client(&self) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
        let leaf = self.resolver.current().key.cert.first().cloned();
        pinned_client(leaf.ok_or(rustls::Error::NoCertificatesPresented)?)
    }

    /// The acceptor the serve loop wraps connections with.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.server.clone())
    }
}

/// Wraps `tcp` in TLS when `tls` is set, within `deadline`. A failed or slow handshake is
/// logged at debug, counted as a `tls_handshake_failed` rejection, and yields `None`.
pub(crate) async fn accept<IO: AsyncRead + AsyncWrite + Unpin>(
    tls: Option<TlsAcceptor>,
    tcp: IO,
    peer: SocketAddr,
    deadline: Duration,
    metrics: &Metrics,
) -> Option<Stream<IO>> {
    let Some(acceptor) = tls else {
        return Some(Either::Right(tcp));
    };
    let error = match tokio::time::timeout(deadline, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => return Some(Either::Left(stream)),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "handshake not finished in time".to_owned(),
    };
    debug!(%peer, %error, "tls handshake failed");
    let labels = [NO_ROUTE, HANDSHAKE_FAILED_REASON];
    metrics.rejections_total.with_label_values(&labels).inc();
    None
}

#[cfg(test)]
mod tests;

/// A private CA and a leaf certificate it signed, for tests that need a TLS peer only that CA
/// vouches for (a `wss` upstream, a `rediss` Redis).
#[cfg(test)]
pub(crate) struct TestCa {
    /// The CA (its certificate is what clients are told to trust).
    pub ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    /// The leaf certificate, for the names asked for.
    pub leaf: rcgen::Certificate,
    /// The leaf's key.
    pub leaf_key: rcgen::KeyPair,
}

#[cfg(test)]
impl TestCa {
    /// A fresh CA and a leaf for `names` (DNS names or IP addresses).
    pub(crate) fn new(names: &[&str]) -> Self {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let names = names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        let leaf = CertificateParams::new(names)
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        Self { ca, leaf, leaf_key }
    }
}
