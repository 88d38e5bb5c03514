//! Client authentication: find the token in the handshake, check it against the client keys,
//! and choose the subprotocol value to echo.
//!
//! Browsers cannot set headers, so they carry the token in `Sec-WebSocket-Protocol`:
//! `token, <T>` / `bearer, <T>` (Deepgram) or `cf-aig-authorization.<T>` (Cloudflare).
//! Server-side clients send `Authorization: Token <T>` / `Bearer <T>` instead.

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL};

use crate::secret::{KeyDigest, Secret};

/// Prefix of Cloudflare's browser subprotocol form.
const CF_SUBPROTOCOL_PREFIX: &str = "cf-aig-authorization.";
/// Cloudflare's header form, accepted from server-side clients too.
const CF_HEADER: &str = "cf-aig-authorization";

/// Why a handshake is refused before the upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credential in the subprotocols or headers.
    #[error(
        "no credentials: send the token as subprotocols ['token', <key>] or an Authorization header"
    )]
    Missing,
    /// A credential was found but matches no client key.
    #[error("invalid credentials")]
    Invalid,
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

/// Finds the credential: subprotocol forms first, then `Authorization`, then `cf-aig-authorization`.
pub fn credential(headers: &HeaderMap) -> Result<Credential, AuthError> {
    let offered = offered_protocols(headers);
    if let Some(c) = from_protocols(&offered)? {
        return Ok(c);
    }
    let token = header_token(headers).ok_or(AuthError::Missing)?;
    Ok(Credential {
        token,
        // nothing secret is known among them: echo the first, as a server must echo one
        echo: offered.first().map(|s| (*s).to_owned()),
    })
}

fn from_protocols(offered: &[&str]) -> Result<Option<Credential>, AuthError> {
    let scheme = offered
        .iter()
        .position(|p| p.eq_ignore_ascii_case("token") || p.eq_ignore_ascii_case("bearer"));
    if let Some(i) = scheme {
        let token = offered.get(i + 1).ok_or(AuthError::Missing)?;
        return Ok(Some(Credential {
            token: Secret::new(*token),
            echo: Some(offered[i].to_owned()),
        }));
    }
    let cf = offered.iter().find_map(|p| {
        let head = p.get(..CF_SUBPROTOCOL_PREFIX.len())?;
        head.eq_ignore_ascii_case(CF_SUBPROTOCOL_PREFIX)
            .then(|| (*p, &p[CF_SUBPROTOCOL_PREFIX.len()..]))
    });
    Ok(cf.map(|(whole, token)| Credential {
        token: Secret::new(token),
        echo: Some(whole.to_owned()),
    }))
}

fn header_token(headers: &HeaderMap) -> Option<Secret> {
    if let Some(v) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, token) = v.trim().split_once(' ')?;
        let known = scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer");
        return known.then(|| Secret::new(token.trim()));
    }
    let v = headers.get(CF_HEADER)?.to_str().ok()?.trim();
    let token = match v.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
        _ => v,
    };
    Some(Secret::new(token))
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

    /// Authenticates a handshake for `route`.
    pub fn authorize(&self, token: &Secret, route: &str) -> Result<&ClientKey, AuthError> {
        let key = self.verify(token).ok_or(AuthError::Invalid)?;
        match &key.routes {
            Some(routes) if !routes.iter().any(|r| r == route) => Err(AuthError::Forbidden),
            _ => Ok(key),
        }
    }
}

#[cfg(test)]
mod tests;
