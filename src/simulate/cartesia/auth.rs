//! Cartesia handshake checks: credential and API version, refused in Cartesia's structured error shape.

use axum::http::{HeaderMap, StatusCode};

use crate::simulate::gate::{bearer_credentials, is_key};
use crate::simulate::wire::Params;

/// Header naming the API version.
const VERSION_HEADER: &str = "cartesia-version";
/// Query parameter naming the API version (browsers).
const VERSION_QUERY: &str = "cartesia_version";
/// Query parameters that carry a browser credential.
const QUERY_CREDENTIALS: [&str; 2] = ["access_token", "api_key"];

/// A handshake refused before the upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::simulate) struct Refusal {
    /// HTTP status.
    pub(in crate::simulate) status: StatusCode,
    /// `error_code`.
    pub(in crate::simulate) code: &'static str,
    /// `title`.
    pub(in crate::simulate) title: &'static str,
    /// `message`.
    pub(in crate::simulate) message: &'static str,
}

impl Refusal {
    /// No credential at all while the simulator expects one.
    pub(in crate::simulate) const MISSING_KEY: Self = Self {
        status: StatusCode::UNAUTHORIZED,
        code: "missing_api_key",
        title: "Unauthorized",
        message: "No API key provided. Pass it as `Authorization: Bearer <key>`.",
    };
    /// A credential that is not the configured key.
    pub(in crate::simulate) const WRONG_KEY: Self = Self {
        status: StatusCode::UNAUTHORIZED,
        code: "invalid_api_key",
        title: "Unauthorized",
        message: "Invalid API key.",
    };
    /// A browser credential in the query while the simulator plays the upstream behind a relay.
    pub(in crate::simulate) const QUERY_CREDENTIAL: Self = Self {
        status: StatusCode::UNAUTHORIZED,
        code: "invalid_api_key",
        title: "Unauthorized",
        message: "Query credentials (`access_token`, `api_key`) are not accepted by this simulator while it requires a key.",
    };
    /// Neither `Cartesia-Version` nor `cartesia_version`.
    pub(in crate::simulate) const MISSING_VERSION: Self = Self {
        status: StatusCode::BAD_REQUEST,
        code: "missing_version",
        title: "Bad Request",
        message: "Pass the API version as the `Cartesia-Version` header or the `cartesia_version` query parameter (YYYY-MM-DD).",
    };
    /// A path that is not a simulated Cartesia WebSocket.
    pub(in crate::simulate) const NOT_FOUND: Self = Self {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        title: "Not Found",
        message: "Not found.",
    };
    /// The right path, but not a WebSocket upgrade request.
    pub(in crate::simulate) const NOT_UPGRADE: Self = Self {
        status: StatusCode::UPGRADE_REQUIRED,
        code: "upgrade_required",
        title: "Upgrade Required",
        message: "Expected a WebSocket upgrade request.",
    };
}

/// Accepts anything without a configured key; otherwise the Bearer header must match, no query credential may
/// be present, and an API version (header or query, `YYYY-MM-DD`) must be given.
pub(super) fn check(
    headers: &HeaderMap,
    params: &Params,
    key: Option<&str>,
) -> Result<(), Refusal> {
    let Some(key) = key else {
        return Ok(());
    };
    if QUERY_CREDENTIALS
        .iter()
        .any(|name| params.get(name).is_some())
    {
        return Err(Refusal::QUERY_CREDENTIAL);
    }
    let mut offered = bearer_credentials(headers).peekable();
    if offered.peek().is_none() {
        return Err(Refusal::MISSING_KEY);
    }
    if !offered.any(|credential| is_key(credential, key)) {
        return Err(Refusal::WRONG_KEY);
    }
    let header_version = headers
        .get_all(VERSION_HEADER)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(is_version);
    if !header_version && !params.get(VERSION_QUERY).is_some_and(is_version) {
        return Err(Refusal::MISSING_VERSION);
    }
    Ok(())
}

/// Whether `value` is shaped like an API version, `YYYY-MM-DD`.
fn is_version(value: &str) -> bool {
    let value = value.trim();
    value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::is_version;

    #[test]
    fn versions_are_dates() {
        assert!(is_version("2026-08-14"));
        assert!(is_version(" 2025-11-04 "));
        assert!(!is_version("2026-8-14"));
        assert!(!is_version("latest"));
        assert!(!is_version(""));
    }
}
