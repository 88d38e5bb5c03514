//! Upstreams: where a session goes (a configured upstream of some provider), how its URL and
//! headers are built, and the connect with TLS and a deadline.

pub(crate) mod breaker;
pub(crate) mod handshake;
pub(crate) mod refusal;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use bytes::Bytes;
use rustls::ClientConfig;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::config::RouteKind;
use crate::provider::{ClientApi, Provider};
use crate::relay::socket::{Io, Limits, Role, WsSocket};
use crate::rewrite::AliasTable;
use crate::secret::Secret;
use handshake::Opened;

/// `base_url` value that points an upstream at the built-in simulator, wherever it binds.
pub(crate) const SIMULATOR_BASE: &str = "simulator";
/// Largest upstream error body passed back to the browser.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// An open upstream WebSocket.
pub type UpstreamSocket = WsSocket;

/// Why the upstream connect failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream answered the handshake with an HTTP error.
    #[error("upstream answered {status}")]
    Rejected {
        /// Its status.
        status: StatusCode,
        /// Its `content-type`, if any.
        content_type: Option<HeaderValue>,
        /// Its body, truncated.
        body: Bytes,
    },
    /// Network, TLS or protocol failure before a response.
    #[error("upstream unreachable: {0}")]
    Unreachable(String),
    /// The whole connect did not finish in time.
    #[error("upstream connect timed out")]
    Timeout,
}

/// A configured upstream, ready to build requests.
#[derive(Debug)]
pub(crate) struct Upstream {
    /// Name from config (metrics label).
    pub name: String,
    /// The API it speaks (its registry entry).
    pub provider: &'static Provider,
    /// Its `kind` as written in config, which token grants name.
    pub kind: String,
    /// Base URL without trailing `/`, plus what the provider adds. For an upstream
    /// on the built-in simulator it starts with [`SIMULATOR_BASE`], replaced once it is bound.
    pub endpoint: String,
    /// The built-in simulator's `ws://addr`, once bound (only for `base_url = "simulator"`).
    pub simulator: std::sync::OnceLock<String>,
    /// Header carrying the credential and its full value.
    pub credential: Option<(HeaderName, Secret)>,
    /// Query parameter carrying the credential instead (generic upstreams that say so).
    pub credential_query: Option<(String, Secret)>,
    /// Extra headers for every handshake.
    pub extra_headers: Vec<(HeaderName, HeaderValue)>,
    /// Model aliases.
    pub aliases: AliasTable,
    /// Skips this upstream after repeated connect failures.
    pub breaker: breaker::Breaker,
    /// Prices for cost estimates.
    pub prices: crate::config::PricesConfig,
    /// The provider's list prices per model, used over `prices` for the models it knows
    /// (only when the config sets no `prices`).
    pub model_prices: Option<crate::provider::ModelPricesFn>,
    /// The drain its config names (`drain_message`, generic upstreams only), over the client
    /// API's.
    pub finalize: Option<&'static crate::relay::Finalize>,
}

impl UpstreamError {
    /// Whether the next upstream should be tried: network errors, timeouts and 5xx, never a 4xx.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            Self::Rejected { status, .. } => status.is_server_error(),
            _ => true,
        }
    }

    /// Fixed label for `voxrelay_upstream_handshakes_total{status_class}`.
    pub(crate) fn status_class(&self) -> &'static str {
        match self {
            Self::Rejected { status, .. } => match status.as_u16() {
                100..=199 => "1xx",
                200..=299 => "2xx",
                300..=399 => "3xx",
                400..=499 => "4xx",
                _ => "5xx",
            },
            Self::Unreachable(_) => "network_error",
            Self::Timeout => "timeout",
        }
    }

    /// Fixed label for `voxrelay_upstream_attempts_total{outcome}`.
    pub(crate) fn outcome(&self) -> &'static str {
        match self {
            Self::Rejected { status, .. } if status.is_server_error() => "server_error",
            Self::Rejected { .. } => "rejected",
            Self::Unreachable(_) => "unreachable",
            Self::Timeout => "timeout",
        }
    }
}

impl Upstream {
    /// How a session of `kind` on this upstream drains: the config's finalize, else its
    /// client API's.
    pub(crate) fn finalize(&self, kind: RouteKind) -> Option<&'static crate::relay::Finalize> {
        self.finalize
            .or_else(|| (crate::provider::client_api(kind).finalize)(kind))
    }

    /// The prices a session on `model` (as sent upstream) is estimated at.
    pub(crate) fn prices_for(&self, model: &str) -> crate::config::PricesConfig {
        self.model_prices
            .and_then(|prices| prices(model))
            .unwrap_or(self.prices)
    }

    /// The endpoint, with the built-in simulator's address in place of [`SIMULATOR_BASE`].
    pub(crate) fn resolved_endpoint(&self) -> String {
        match (
            self.endpoint.strip_prefix(SIMULATOR_BASE),
            self.simulator.get(),
        ) {
            (Some(rest), Some(base)) => format!("{base}{rest}"),
            _ => self.endpoint.clone(),
        }
    }

    /// The upstream URL for a route kind, the route's path captures and an already-rewritten
    /// query.
    pub(crate) fn url(&self, kind: RouteKind, captures: &[(&str, &str)], query: &str) -> String {
        let path = (self.provider.path)(kind);
        let endpoint = self.resolved_endpoint();
        let url = crate::route::fill(&format!("{endpoint}{path}"), captures);
        match &self.credential_query {
            None => format!("{url}?{query}"),
            Some((name, secret)) => {
                // the upstream reads its credential here: no client value under that name
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|p| {
                        let key = p.split_once('=').map_or(*p, |(k, _)| k);
                        !p.is_empty() && crate::rewrite::params::name(key) != name.to_lowercase()
                    })
                    .collect();
                let value =
                    percent_encoding::utf8_percent_encode(secret.expose(), crate::rewrite::VALUE);
                let sep = if kept.is_empty() { "" } else { "&" };
                format!("{url}?{}{sep}{name}={value}", kept.join("&"))
            }
        }
    }

    /// Sets on `headers` the client headers `api` forwards, the extra headers and the
    /// credential.
    pub(crate) fn apply_headers(
        &self,
        headers: &mut HeaderMap,
        client_headers: &HeaderMap,
        api: &ClientApi,
    ) -> Result<(), UpstreamError> {
        for &name in api.forwarded_headers {
            if let Some(v) = client_headers.get(name) {
                headers.insert(name, v.clone());
            }
        }
        // extra headers are defaults for the headers the client API forwards (an API version)
        for (name, value) in &self.extra_headers {
            if !api.forwarded_headers.contains(&name.as_str()) || !headers.contains_key(name) {
                headers.insert(name, value.clone());
            }
        }
        if let Some((name, secret)) = &self.credential {
            let mut value = HeaderValue::from_str(secret.expose()).map_err(|_| {
                UpstreamError::Unreachable("credential is not a valid header".into())
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Ok(())
    }

    /// The handshake request: URL, the client headers `api` forwards, extra headers,
    /// credential.
    pub(crate) fn request(
        &self,
        url: &str,
        client_headers: &HeaderMap,
        api: &ClientApi,
    ) -> Result<Request, UpstreamError> {
        let mut req = url
            .into_client_request()
            .map_err(|e| UpstreamError::Unreachable(format!("bad upstream url: {e}")))?;
        self.apply_headers(req.headers_mut(), client_headers, api)?;
        Ok(req)
    }
}

/// Connects to upstreams with one TLS setup, WebSocket limits and deadline.
#[derive(Clone)]
pub struct UpstreamConnector {
    tls: Arc<ClientConfig>,
    ws: WebSocketConfig,
    timeout: Duration,
}

impl std::fmt::Debug for UpstreamConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamConnector")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl UpstreamConnector {
    /// A connector trusting `tls`'s roots, applying `ws` limits, giving up after `timeout`.
    pub fn new(tls: Arc<ClientConfig>, ws: WebSocketConfig, timeout: Duration) -> Self {
        Self { tls, ws, timeout }
    }

    /// The configured deadline for one whole connect.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The TLS setup upstream connections use.
    pub(crate) fn tls(&self) -> &Arc<ClientConfig> {
        &self.tls
    }

    /// Opens the upstream WebSocket: DNS, TCP, TLS and handshake within `timeout`.
    pub async fn connect(
        &self,
        req: Request,
        timeout: Duration,
    ) -> Result<(UpstreamSocket, Response), UpstreamError> {
        let Opened {
            stream,
            leftover,
            response,
        } = self.connect_raw(req, timeout).await?;
        let io: Box<dyn Io> = match stream {
            MaybeTlsStream::Rustls(tls) => Box::new(tls),
            MaybeTlsStream::Plain(tcp) => Box::new(tcp),
            other => Box::new(other),
        };
        let socket = WsSocket::boxed(io, Role::Client, leftover, Limits::of(&self.ws));
        Ok((socket, response))
    }

    /// The upstream's raw connection after its `101`, the bytes it sent after that head, and
    /// the head: DNS, TCP, TLS and handshake within `timeout`.
    pub(crate) async fn connect_raw(
        &self,
        req: Request,
        timeout: Duration,
    ) -> Result<Opened, UpstreamError> {
        match tokio::time::timeout(timeout, handshake::open(req, &self.tls)).await {
            Err(_) => Err(UpstreamError::Timeout),
            Ok(Ok(opened)) => Ok(opened),
            Ok(Err(e)) => Err(classify(e)),
        }
    }
}

fn classify(e: tokio_tungstenite::tungstenite::Error) -> UpstreamError {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Http(resp) => {
            let (parts, body) = resp.into_parts();
            let mut body = body.unwrap_or_default();
            body.truncate(MAX_ERROR_BODY);
            UpstreamError::Rejected {
                status: parts.status,
                content_type: parts.headers.get("content-type").cloned(),
                body: Bytes::from(body),
            }
        }
        other => UpstreamError::Unreachable(other.to_string()),
    }
}

/// Why the TLS setup could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The extra CA file could not be read or parsed.
    #[error("extra_ca_file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the protocol setup.
    #[error("tls setup: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Client TLS trusting the webpki roots plus every certificate in `extra_ca` (PEM).
pub fn tls_config(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        let ca_err = |reason: String| TlsError::CaFile {
            path: path.display().to_string(),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| ca_err(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ca_err(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca_err("no certificates found".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
