//! `POST /v1/auth/grant`, compatible with Deepgram's: a backend trades its client key
//! (`Authorization: Token <key>`) for a short-lived JWT the browser presents as `bearer`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tracing::info;

use crate::auth::{AuthError, ClientKey};
use crate::error::Reject;
use crate::provider::{CLIENT_API, ClientApi};
use crate::state::Shared;

mod scope;

/// Route label for grant refusals in `voxrelay_handshake_rejections_total`.
pub(crate) const GRANT_ROUTE: &str = "grant";
/// Where the grant endpoint is served.
pub(crate) const GRANT_PATH: &str = "/v1/auth/grant";
/// Largest grant request body accepted (→ 413).
pub(crate) const MAX_GRANT_BODY: usize = 4096;

/// Issues a grant, or refuses in the client API's error shape. The rate limit and the credential are
/// checked from the headers before any of the body is read; the body then has
/// `server.request_body_timeout` to arrive.
pub(crate) async fn grant(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let result = match admit_request(&shared, peer, request).await {
        Ok((key, body)) => issue(&shared, &key, &body),
        Err(reject) => Err(reject),
    };
    let response = match result {
        Ok((token, ttl)) => {
            shared.metrics.grants_total.inc();
            Json(json!({"access_token": token, "expires_in": ttl.as_secs()})).into_response()
        }
        Err(reject) => refuse(&shared, &CLIENT_API, reject),
    };
    no_store(response)
}

/// The front door of every endpoint that trades a client key for a token: the caller's rate
/// and its client key from the headers, then the body, at most [`MAX_GRANT_BODY`] bytes within
/// `server.request_body_timeout`.
pub(crate) async fn admit_request(
    shared: &Shared,
    peer: SocketAddr,
    request: Request,
) -> Result<(ClientKey, Bytes), Reject> {
    let (parts, body) = request.into_parts();
    let key = admit(shared, peer, &parts.headers).await?;
    let body = read_body(shared, &parts.headers, body).await?;
    Ok((key, body))
}

/// Any other method on the grant path: 405 with `Allow: POST`.
pub(crate) async fn grant_method_not_allowed(State(shared): State<Arc<Shared>>) -> Response {
    method_not_allowed(&shared, &CLIENT_API)
}

/// Any method but POST on an endpoint that mints tokens: 405 with `Allow: POST`, in `api`'s
/// error shape.
pub(crate) fn method_not_allowed(shared: &Shared, api: &ClientApi) -> Response {
    let mut response = refuse(shared, api, Reject::GrantMethod);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    no_store(response)
}

/// Counts and answers a refusal (under the route label [`GRANT_ROUTE`]) in `api`'s error shape.
pub(crate) fn refuse(shared: &Shared, api: &ClientApi, reject: Reject) -> Response {
    let reason = reject.reason();
    info!(reason, status = reject.status().as_u16(), "grant refused");
    let labels = [GRANT_ROUTE, reason];
    shared
        .metrics
        .rejections_total
        .with_label_values(&labels)
        .inc();
    reject.into_response_in(api, &uuid::Uuid::new_v4().to_string())
}

/// Grants (and refusals) are never cached: they carry or concern credentials.
pub(crate) fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The header checks: the caller's rate, then its client key (a token cannot renew itself).
async fn admit(
    shared: &Shared,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<ClientKey, Reject> {
    let ip = shared.limits.client_ip(peer, headers);
    shared.limits.check_rate(ip).await?;
    let credential = crate::auth::credential(headers)?;
    let auth = shared.auth.load();
    let key = auth
        .clients
        .verify(&credential.token)
        .ok_or(AuthError::Invalid)?
        .clone();
    drop(auth);
    // a client revoked cluster-wide mints no more tokens
    shared.limits.check_client(&key.id).await?;
    Ok(key)
}

/// The body, at most [`MAX_GRANT_BODY`] bytes, within `server.request_body_timeout`.
async fn read_body(shared: &Shared, headers: &HeaderMap, body: Body) -> Result<Bytes, Reject> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_GRANT_BODY as u64) {
        return Err(Reject::BodyTooLarge(MAX_GRANT_BODY));
    }
    let deadline = shared.server.request_body_timeout;
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, MAX_GRANT_BODY)).await {
        Err(_) => Err(Reject::BodyTimeout),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) if is_length_limit(&e) => Err(Reject::BodyTooLarge(MAX_GRANT_BODY)),
        Ok(Err(_)) => Err(Reject::BadGrant(
            "the request body could not be read".into(),
        )),
    }
}

/// True when reading stopped at the body size limit.
pub(crate) fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

fn issue(shared: &Shared, key: &ClientKey, body: &[u8]) -> Result<(String, Duration), Reject> {
    let auth = shared.auth.load();
    let tokens = &auth.tokens;
    let object = body_object(body)?;
    let ttl = requested_ttl(&object, tokens.grant_ttl, tokens.grant_max_ttl)?;
    let names = shared.route_names.load();
    let routes: Vec<&str> = names.iter().map(String::as_str).collect();
    let scope = scope::requested(&object, key.routes.as_deref(), &routes)?;
    info!(client = %key.id, ttl_seconds = ttl.as_secs(), routes = ?scope.routes,
        providers = ?scope.providers, "grant issued");
    Ok((tokens.mint_for(&key.id, scope, ttl).0, ttl))
}

/// The request body as a JSON object (an empty body asks for nothing).
fn body_object(body: &[u8]) -> Result<Map<String, Value>, Reject> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let shape =
        || Reject::BadGrant("the body must be a JSON object like {\"ttl_seconds\": 30}".into());
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(shape()),
    }
}

/// The TTL asked for in `{"ttl_seconds": N}` (absent or null means the default).
fn requested_ttl(
    object: &Map<String, Value>,
    default: Duration,
    max: Duration,
) -> Result<Duration, Reject> {
    let bad = || {
        Reject::BadGrant(format!(
            "ttl_seconds must be a whole number from 1 to {}",
            max.as_secs()
        ))
    };
    let ttl = match object.get("ttl_seconds") {
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

    /// The TTL a raw body asks for, as the endpoint reads it.
    fn requested(body: &[u8]) -> Result<Duration, Reject> {
        requested_ttl(&body_object(body)?, D, MAX)
    }

    #[test]
    fn ttl_defaults_and_bounds() {
        assert_eq!(requested(b"").unwrap(), D);
        assert_eq!(requested(b"{}").unwrap(), D);
        assert_eq!(requested(br#"{"ttl_seconds": null}"#).unwrap(), D);
        assert_eq!(
            requested(br#"{"ttl_seconds": 120}"#).unwrap().as_secs(),
            120
        );
        assert_eq!(
            requested(br#"{"ttl_seconds": 60.0}"#).unwrap().as_secs(),
            60
        );
        for bad in [
            &br#"{"ttl_seconds": 0}"#[..],
            br#"{"ttl_seconds": 3601}"#,
            br#"{"ttl_seconds": -5}"#,
            br#"{"ttl_seconds": 1.5}"#,
            br#"{"ttl_seconds": "30"}"#,
            b"not json",
            b"[]",
            br#""x""#,
            b"5",
            b"null",
            br#"[{"ttl_seconds": 30}]"#,
        ] {
            assert!(requested(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
