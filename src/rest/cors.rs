//! CORS for the REST half: browsers call `POST /v1/listen` and `POST /v1/speak` with `fetch`,
//! sending `Authorization` (and a JSON or audio `Content-Type`), so every call is preceded by
//! a preflight. tower-http's layer answers it from the route's `allowed_origins` (the same
//! patterns as the WebSocket handshakes): an allowed origin gets
//! `Access-Control-Allow-Origin` with its own value, the request headers it asks for, and the
//! answer headers a client reads (`dg-request-id`, `dg-model-name`, …) exposed; any other
//! origin gets no CORS headers, so the browser refuses the call (and the `POST` itself, should
//! it be sent, is refused 403 by the route's origin check). No cookies are involved: the
//! credential is a header, so credentials mode stays off.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::origin::Presented;
use crate::route::Route;

/// How long a browser may cache a preflight's answer.
const MAX_AGE: Duration = Duration::from_secs(600);

/// Answer headers scripts may read: the request id, the speech answer's, the error message,
/// `retry-after`.
fn exposed() -> Vec<HeaderName> {
    let api = &crate::provider::CLIENT_API;
    let names = std::iter::once(api.request_id_header)
        .chain(crate::provider::deepgram::SPEECH_HEADERS)
        .chain(api.error_header)
        .chain(["retry-after"]);
    names.map(HeaderName::from_static).collect()
}

/// The CORS layer for `route`'s REST methods.
pub(crate) fn layer(route: Arc<Route>) -> CorsLayer {
    let allowed = move |origin: &HeaderValue, _: &axum::http::request::Parts| {
        // only asked of requests with an `Origin`: an absent one is no CORS request
        let presented = crate::origin::presented_value(origin);
        !matches!(presented, Presented::Absent) && route.origin_allowed(&presented)
    };
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(allowed))
        .allow_methods([Method::POST])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers(exposed())
        .max_age(MAX_AGE)
}
