//! Client authentication: find the token in the handshake, check it against the client keys,
//! and choose the subprotocol value to echo.
//!
//! Browsers cannot set headers, so they carry the token in `Sec-WebSocket-Protocol`;
//! server-side clients send a header instead. Where each provider's SDKs put it is that
//! provider's credential form (`crate::provider`); this module tries them all.

use axum::http::HeaderMap;
use axum::http::header::SEC_WEBSOCKET_PROTOCOL;

use std::time::Duration;

use crate::rewrite::Pattern;
use crate::secret::{KeyDigest, Secret};
use crate::token::{TokenError, Tokens, looks_like_jwt};

/// Why a handshake is refused before the upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credential in the subprotocols or headers.
    #[error(
        "no credentials: send the token as subprotocols ['token', <key>] or an Authorization header"
    )]
    Missing,
    /// A credential was found but matches no client key and no valid token.
    #[error("invalid credentials")]
    Invalid,
    /// A correctly signed token past its expiry.
    #[error("token expired")]
    Expired,
    /// A correctly signed token not valid yet.
    #[error("token not valid yet")]
    NotYetValid,
    /// The key is valid but not granted this route.
    #[error("this key is not allowed on this route")]
    Forbidden,
}

/// A credential found in a handshake.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The presented token.
    pub token: Secret,
    /// The subprotocol value to echo on the 101, if the client offered any.
    pub echo: Option<String>,
}

/// The offered subprotocols, in the order sent, across repeated headers.
pub fn offered_protocols(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

/// Finds the credential: every provider's subprotocol form first, then every provider's header
/// form, in registry order.
pub fn credential(headers: &HeaderMap) -> Result<Credential, AuthError> {
    let offered = offered_protocols(headers);
    for form in crate::provider::credential_forms() {
        if let Some(c) = (form.from_protocols)(&offered)? {
            return Ok(c);
        }
    }
    let token = crate::provider::credential_forms()
        .find_map(|form| (form.from_headers)(headers).transpose())
        .unwrap_or(Err(AuthError::Missing))?;
    Ok(Credential {
        token,
        // nothing secret is known among them: echo the first, as a server must echo one
        echo: offered.first().map(|s| (*s).to_owned()),
    })
}

/// A client key: its id and digest, and the routes it may use.
#[derive(Debug, Clone)]
pub struct ClientKey {
    /// Id used in logs and metrics.
    pub id: String,
    /// SHA-256 of the key.
    pub digest: KeyDigest,
    /// Route names allowed; `None` means every route.
    pub routes: Option<Vec<String>>,
    /// Concurrent-session cap for this client.
    pub max_concurrent_sessions: Option<u32>,
}

/// All configured client keys.
#[derive(Debug, Clone, Default)]
pub struct ClientKeys(pub Vec<ClientKey>);

impl ClientKeys {
    /// The key matching `token`; compares against every key in constant time.
    pub fn verify(&self, token: &Secret) -> Option<&ClientKey> {
        let presented = KeyDigest::of(token.expose());
        let mut found = None;
        for key in &self.0 {
            if key.digest.ct_eq(&presented) && found.is_none() {
                found = Some(key);
            }
        }
        found
    }

    /// The key with this id.
    pub fn by_id(&self, id: &str) -> Option<&ClientKey> {
        self.0.iter().find(|k| k.id == id)
    }
}

/// What an authenticated client may do on this handshake.
#[derive(Debug, Clone)]
pub struct Access {
    /// Client id (a configured key's id).
    pub client_id: String,
    /// Models the token narrows to, if any.
    pub models: Option<Vec<Pattern>>,
    /// Session length limit from the token.
    pub max_session: Option<Duration>,
    /// Concurrent-session cap: the tighter of the key's and the token's.
    pub max_concurrent: Option<u32>,
    /// Upstream kinds the token's sessions may be served by, if it narrows them.
    pub providers: Option<Vec<String>>,
    /// The token's id (`jti`), by which it can be revoked; `None` for a client key.
    pub jti: Option<String>,
}

/// Client keys and tokens: everything that authenticates a client.
#[derive(Debug)]
pub struct Authenticator {
    /// Static client keys.
    pub clients: ClientKeys,
    /// JWT verification and minting.
    pub tokens: Tokens,
}

fn tighter(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn route_allowed(grant: &Option<Vec<String>>, route: &str) -> bool {
    grant
        .as_ref()
        .is_none_or(|routes| routes.iter().any(|r| r == route))
}

impl Authenticator {
    /// Authenticates `token` (a client key or a JWT) for `route`.
    pub fn authorize(&self, token: &Secret, route: &str) -> Result<Access, AuthError> {
        if let Some(key) = self.clients.verify(token) {
            if !route_allowed(&key.routes, route) {
                return Err(AuthError::Forbidden);
            }
            return Ok(Access {
                client_id: key.id.clone(),
                models: None,
                max_session: None,
                max_concurrent: key.max_concurrent_sessions,
                providers: None,
                jti: None,
            });
        }
        // a provider's SDKs may need a prefix on short-lived credentials; only a voxrelay
        // token may follow it
        let jwt = crate::provider::bare_token(token.expose());
        if !looks_like_jwt(jwt) {
            return Err(AuthError::Invalid);
        }
        let claims = self.tokens.verify(jwt).map_err(|e| match e {
            TokenError::Expired => AuthError::Expired,
            TokenError::NotYetValid => AuthError::NotYetValid,
            TokenError::Invalid => AuthError::Invalid,
        })?;
        // a token only narrows what its client key allows
        let key = self.clients.by_id(&claims.sub).ok_or(AuthError::Invalid)?;
        if !route_allowed(&key.routes, route) || !route_allowed(&claims.routes, route) {
            return Err(AuthError::Forbidden);
        }
        Ok(Access {
            client_id: key.id.clone(),
            models: claims
                .models
                .map(|m| m.iter().map(|p| Pattern::new(p)).collect()),
            max_session: claims.max_session_seconds.map(Duration::from_secs),
            max_concurrent: tighter(key.max_concurrent_sessions, claims.max_concurrent_sessions),
            providers: claims.providers,
            jti: claims.jti,
        })
    }
}

pub(crate) mod message;
#[cfg(test)]
mod tests;
