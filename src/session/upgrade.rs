//! The client's WebSocket opening handshake (RFC 6455 over HTTP/1.1): an extractor that checks
//! the request as axum's `WebSocketUpgrade` does, answers with the 101, and hands over the raw
//! upgraded connection, so voxrelay chooses how frames are read and written on it.

use std::future::Future;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL,
    SEC_WEBSOCKET_VERSION, UPGRADE,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tracing::{Instrument, debug};

/// The client's connection once upgraded, as tokio I/O.
pub(crate) type ClientIo = TokioIo<Upgraded>;

/// Why a request is not a WebSocket upgrade voxrelay can complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UpgradeRejection {
    /// An HTTP/1.1 upgrade must be a `GET`.
    #[error("Request method must be `GET`")]
    MethodNotGet,
    /// `Connection` does not name `upgrade`.
    #[error("Connection header did not include 'upgrade'")]
    Connection,
    /// `Upgrade` is not `websocket`.
    #[error("`Upgrade` header did not include 'websocket'")]
    Upgrade,
    /// No `Sec-WebSocket-Key`.
    #[error("`Sec-WebSocket-Key` header missing")]
    KeyMissing,
    /// `Sec-WebSocket-Version` is not `13`.
    #[error("`Sec-WebSocket-Version` header did not include '13'")]
    Version,
    /// The connection carries no upgrade (HTTP/1.0, or not served with upgrades).
    #[error("WebSocket request couldn't be upgraded since no upgrade state was present")]
    NotUpgradable,
    /// WebSockets over HTTP/2 and later (extended CONNECT) are not served.
    #[error("WebSocket over HTTP/2 or later is not served")]
    HttpVersion,
}

impl UpgradeRejection {
    /// The status a bare refusal carries (axum's, for the same checks).
    fn status(self) -> StatusCode {
        match self {
            Self::MethodNotGet => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotUpgradable => StatusCode::UPGRADE_REQUIRED,
            Self::Connection
            | Self::Upgrade
            | Self::KeyMissing
            | Self::Version
            | Self::HttpVersion => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for UpgradeRejection {
    fn into_response(self) -> Response {
        (self.status(), self.to_string()).into_response()
    }
}

/// A checked WebSocket upgrade request: answer it with [`ClientUpgrade::on_upgrade`].
#[must_use]
#[derive(Debug)]
pub(crate) struct ClientUpgrade {
    /// `Sec-WebSocket-Accept` for the client's key.
    accept: HeaderValue,
    /// The subprotocols the client offered, in order.
    offered: Vec<String>,
    /// The subprotocol echoed on the 101.
    chosen: Option<HeaderValue>,
    on_upgrade: OnUpgrade,
}

impl ClientUpgrade {
    /// Checks an upgrade request's head and takes its pending upgrade out of the extensions.
    fn from_parts(parts: &mut Parts) -> Result<Self, UpgradeRejection> {
        if parts.version > Version::HTTP_11 {
            return Err(UpgradeRejection::HttpVersion);
        }
        if parts.method != Method::GET {
            return Err(UpgradeRejection::MethodNotGet);
        }
        let headers = &parts.headers;
        if !header_contains(headers, CONNECTION, "upgrade") {
            return Err(UpgradeRejection::Connection);
        }
        if !header_eq(headers, UPGRADE, "websocket") {
            return Err(UpgradeRejection::Upgrade);
        }
        let key = headers
            .get(SEC_WEBSOCKET_KEY)
            .ok_or(UpgradeRejection::KeyMissing)?;
        if !header_eq(headers, SEC_WEBSOCKET_VERSION, "13") {
            return Err(UpgradeRejection::Version);
        }
        // base64, so always a valid value
        let accept = HeaderValue::try_from(derive_accept_key(key.as_bytes()))
            .map_err(|_| UpgradeRejection::KeyMissing)?;
        let offered = crate::auth::offered_protocols(headers)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(UpgradeRejection::NotUpgradable)?;
        Ok(Self {
            accept,
            offered,
            chosen: None,
            on_upgrade,
        })
    }

    /// Chooses the subprotocol to echo: the first of `protocols` (in the server's order of
    /// preference) that the client offered; none when the client offered none of them.
    pub(crate) fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.chosen = protocols.into_iter().find_map(|p| {
            let p = p.as_ref();
            self.offered
                .iter()
                .any(|o| o == p)
                .then(|| HeaderValue::from_str(p).ok())
                .flatten()
        });
        self
    }

    /// The 101 that completes the handshake; `session` runs on the upgraded connection, in a
    /// task of its own in the current span, once hyper hands the connection over.
    pub(crate) fn on_upgrade<F, Fut>(self, session: F) -> Response
    where
        F: FnOnce(ClientIo) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        let task = async move {
            match on_upgrade.await {
                Ok(upgraded) => session(TokioIo::new(upgraded)).await,
                Err(e) => debug!(error = %e, "client upgrade failed"),
            }
        };
        tokio::spawn(task.instrument(tracing::Span::current()));
        switching_protocols(self.accept, self.chosen)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientUpgrade {
    type Rejection = UpgradeRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_parts(parts)
    }
}

/// `101 Switching Protocols` with the accept key and the chosen subprotocol.
fn switching_protocols(accept: HeaderValue, protocol: Option<HeaderValue>) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    if let Some(protocol) = protocol {
        headers.insert(SEC_WEBSOCKET_PROTOCOL, protocol);
    }
    response
}

/// The (first) header `key` is `value`, in any case.
fn header_eq(headers: &HeaderMap, key: HeaderName, value: &str) -> bool {
    headers
        .get(key)
        .is_some_and(|h| h.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
}

/// The (first) header `key` contains `value` (lowercase), in any case.
fn header_contains(headers: &HeaderMap, key: HeaderName, value: &str) -> bool {
    headers
        .get(key)
        .and_then(|h| std::str::from_utf8(h.as_bytes()).ok())
        .is_some_and(|h| h.to_ascii_lowercase().contains(value))
}

#[cfg(test)]
mod tests;
