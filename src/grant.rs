//! `POST /v1/auth/grant`, compatible with Deepgram's: a backend trades its client key
//! (`Authorization: Token <key>`) for a short-lived JWT the browser presents as `bearer`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tracing::info;

use crate::app::Shared;
use crate::auth::AuthError;
use crate::error::Reject;

/// Route label for grant refusals in `voxrelay_handshake_rejections_total`.
pub const GRANT_ROUTE: &str = "grant";
/// Largest grant request body accepted.
pub const MAX_GRANT_BODY: usize = 4096;

/// Issues a grant, or refuses with Deepgram-shaped JSON.
pub async fn grant(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    match issue(&shared, peer, &headers, &body) {
        Ok((token, ttl)) => {
            shared.metrics.grants_total.inc();
            Json(json!({"access_token": token, "expires_in": ttl.as_secs()})).into_response()
        }
        Err(reject) => {
            let reason = reject.reason();
            info!(reason, status = reject.status().as_u16(), "grant refused");
            let labels = [GRANT_ROUTE, reason];
            shared
                .metrics
                .rejections_total
                .with_label_values(&labels)
                .inc();
            reject.into_response_with_id(&request_id)
        }
    }
}

fn issue(
    shared: &Shared,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, Duration), Reject> {
    let ip = shared.limits.client_ip(peer, headers);
    shared.limits.check_rate(ip).map_err(Reject::RateLimited)?;
    let credential = crate::auth::credential(headers)?;
    // only a client key may mint: a token cannot renew itself
    let key = shared
        .auth
        .clients
        .verify(&credential.token)
        .ok_or(AuthError::Invalid)?;
    let tokens = &shared.auth.tokens;
    let ttl = requested_ttl(body, tokens.grant_ttl, tokens.grant_max_ttl)?;
    info!(client = %key.id, ttl_seconds = ttl.as_secs(), "grant issued");
    Ok((tokens.mint(&key.id, key.routes.clone(), ttl), ttl))
}

/// The TTL asked for in `{"ttl_seconds": N}` (an empty body means the default).
fn requested_ttl(body: &[u8], default: Duration, max: Duration) -> Result<Duration, Reject> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(default);
    }
    let bad = || {
        Reject::BadGrant(format!(
            "ttl_seconds must be a whole number from 1 to {}",
            max.as_secs()
        ))
    };
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| Reject::BadGrant("the body must be JSON like {\"ttl_seconds\": 30}".into()))?;
    let ttl = match value.get("ttl_seconds") {
        None | Some(Value::Null) => return Ok(default),
        Some(ttl) => ttl,
    };
    let secs = ttl
        .as_u64()
        .or_else(|| {
            ttl.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        })
        .ok_or_else(bad)?;
    if secs == 0 || secs > max.as_secs() {
        return Err(bad());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Duration = Duration::from_secs(30);
    const MAX: Duration = Duration::from_secs(3600);

    #[test]
    fn ttl_defaults_and_bounds() {
        assert_eq!(requested_ttl(b"", D, MAX).unwrap(), D);
        assert_eq!(requested_ttl(b"{}", D, MAX).unwrap(), D);
        assert_eq!(
            requested_ttl(br#"{"ttl_seconds": null}"#, D, MAX).unwrap(),
            D
        );
        assert_eq!(
            requested_ttl(br#"{"ttl_seconds": 120}"#, D, MAX)
                .unwrap()
                .as_secs(),
            120
        );
        assert_eq!(
            requested_ttl(br#"{"ttl_seconds": 60.0}"#, D, MAX)
                .unwrap()
                .as_secs(),
            60
        );
        for bad in [
            &br#"{"ttl_seconds": 0}"#[..],
            br#"{"ttl_seconds": 3601}"#,
            br#"{"ttl_seconds": -5}"#,
            br#"{"ttl_seconds": 1.5}"#,
            br#"{"ttl_seconds": "30"}"#,
            b"not json",
        ] {
            assert!(
                requested_ttl(bad, D, MAX).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
