//! The handshake answer every simulated provider shares: accept or refuse, log the refusal (status and
//! request id, never a credential), the provider's JSON error body, and its request-id header; plus the
//! credential checks the providers have in common.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use subtle::ConstantTimeEq;
use tracing::info;
use uuid::Uuid;

/// A handshake refused before the upgrade, answered in a provider's own error shape.
pub(super) trait Refuse {
    /// HTTP status of the reply.
    fn status(&self) -> StatusCode;
    /// A provider error code worth logging, if the provider has one the log should show.
    fn code(&self) -> Option<&'static str> {
        None
    }
    /// The reply: status, error body and any provider headers.
    fn into_response(self, request_id: Uuid) -> Response;
}

/// The upgrade response of `accepted`, or the logged refusal; with `request_id_header` (name, value) added.
pub(super) fn answer<R: Refuse>(
    provider: &'static str,
    request_id: Uuid,
    accepted: Result<Response, R>,
    request_id_header: Option<(&'static str, String)>,
) -> Response {
    let mut response = match accepted {
        Ok(response) => response,
        Err(refusal) => {
            let status = refusal.status().as_u16();
            match refusal.code() {
                Some(code) => info!(provider, status, code, %request_id, "handshake refused"),
                None => info!(provider, status, %request_id, "handshake refused"),
            }
            refusal.into_response(request_id)
        }
    };
    if let Some((name, value)) = request_id_header
        && let Ok(value) = HeaderValue::from_str(&value)
    {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
    response
}

/// `status` with `body` as `application/json`.
pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    let content_type = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )];
    (status, content_type, body.to_string()).into_response()
}

/// The credentials of every `Authorization: Bearer <k>` header (scheme in any case).
pub(super) fn bearer_credentials(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(bearer)
}

/// The credential of `Bearer <k>` (scheme in any case).
pub(super) fn bearer(value: &str) -> Option<&str> {
    let (scheme, credential) = value.trim().split_once(char::is_whitespace)?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credential.trim())
}

/// Whether `credential` is `key`, compared in constant time.
pub(super) fn is_key(credential: impl AsRef<[u8]>, key: &str) -> bool {
    bool::from(credential.as_ref().ct_eq(key.as_bytes()))
}
