//! Handshake refusals: one place maps each to its HTTP status, JSON body (in the client API's
//! error shape) and fixed metrics reason.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::AuthError;
use crate::provider::{CLIENT_API, ClientApi};
use crate::rewrite::RewriteError;
use crate::upstream::UpstreamError;

/// Why a handshake was refused before the upgrade.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Reject {
    /// No route at this path.
    #[error("no route at this path")]
    NotFound,
    /// Not a WebSocket upgrade request.
    #[error("this endpoint only accepts WebSocket upgrades")]
    NotWebSocket,
    /// Upgrade attempted with a method other than GET.
    #[error("WebSocket upgrades must use GET")]
    MethodNotAllowed,
    /// The relay is shutting down.
    #[error("voxrelay is shutting down; retry on another instance")]
    Draining,
    /// Too many handshakes from this IP; retry after the duration.
    #[error("too many requests; retry later")]
    RateLimited(std::time::Duration),
    /// The browser's `Origin` is not allowed on this route.
    #[error("origin not allowed on this route")]
    OriginNotAllowed,
    /// The replica relays its maximum number of sessions.
    #[error("voxrelay is at its session limit; retry on another instance")]
    GlobalSessionLimit,
    /// The client already has as many sessions as it may.
    #[error("client session limit of {0} concurrent sessions reached")]
    ClientSessionLimit(u32),
    /// The token does not grant this model.
    #[error("model '{0}' is not granted to this token")]
    ModelNotGranted(String),
    /// The token grants none of the providers serving this route.
    #[error("this token is not granted any provider serving this route")]
    ProviderNotGranted,
    /// A request on a path where the model picks the route, whose model selects none.
    #[error("{0}")]
    UnknownModel(String),
    /// The handshake asks for a variant of the route's API that cannot be relayed.
    #[error("{}", .0.message)]
    Unsupported(crate::provider::Unsupported),
    /// A grant request with a bad body.
    #[error("{0}")]
    BadGrant(String),
    /// The grant endpoint was called with a method other than POST.
    #[error("the grant endpoint only accepts POST")]
    GrantMethod,
    /// The request body did not arrive within `server.request_body_timeout`.
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    /// The request body is larger than the endpoint accepts.
    #[error("the request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    /// A REST request's body is not what the endpoint takes.
    #[error("{0}")]
    BadBody(String),
    /// A `{"url"}` body names a URL the route does not let the upstream fetch.
    #[error("{0}")]
    UrlNotAllowed(String),
    /// Redis does not answer and `cluster.failure_mode = "fail_closed"`.
    #[error("cluster-wide limits cannot be checked right now; retry shortly")]
    ClusterUnavailable,
    /// The token was revoked (`voxrelay revoke --jti`).
    #[error("this token has been revoked")]
    TokenRevoked,
    /// The client was revoked (`voxrelay revoke --client`).
    #[error("this client has been revoked")]
    ClientRevoked,
    /// The client IP already holds `limits.max_connections_per_ip` open connections.
    #[error("too many open connections from this address (limits.max_connections_per_ip = {0})")]
    ConnectionLimit(u32),
    /// Authentication failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The query or model is not acceptable.
    #[error(transparent)]
    Rewrite(#[from] RewriteError),
    /// The upstream could not be opened.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

impl From<crate::limits::LimitError> for Reject {
    fn from(e: crate::limits::LimitError) -> Self {
        use crate::limits::LimitError;
        match e {
            LimitError::Global => Self::GlobalSessionLimit,
            LimitError::Client(n) => Self::ClientSessionLimit(n),
            LimitError::Rate(wait) => Self::RateLimited(wait),
            LimitError::ClusterUnavailable => Self::ClusterUnavailable,
            LimitError::ClientRevoked => Self::ClientRevoked,
            LimitError::TokenRevoked => Self::TokenRevoked,
        }
    }
}

impl Reject {
    /// HTTP status sent to the client.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::NotWebSocket => StatusCode::UPGRADE_REQUIRED,
            Self::MethodNotAllowed | Self::GrantMethod => StatusCode::METHOD_NOT_ALLOWED,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ConnectionLimit(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Draining | Self::GlobalSessionLimit | Self::ClusterUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::RateLimited(_) | Self::ClientSessionLimit(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::TokenRevoked => StatusCode::UNAUTHORIZED,
            Self::ClientRevoked => StatusCode::FORBIDDEN,
            Self::OriginNotAllowed | Self::ModelNotGranted(_) | Self::ProviderNotGranted => {
                StatusCode::FORBIDDEN
            }
            Self::BadGrant(_) | Self::UnknownModel(_) | Self::Unsupported(_) | Self::BadBody(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::UrlNotAllowed(_) => StatusCode::FORBIDDEN,
            Self::Auth(AuthError::Forbidden) => StatusCode::FORBIDDEN,
            Self::Auth(_) => StatusCode::UNAUTHORIZED,
            Self::Rewrite(_) => StatusCode::BAD_REQUEST,
            Self::Upstream(UpstreamError::Rejected { status, .. }) if status.is_client_error() => {
                *status
            }
            Self::Upstream(UpstreamError::Timeout) => StatusCode::GATEWAY_TIMEOUT,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// Fixed label for `voxrelay_handshake_rejections_total{reason}`.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::NotWebSocket => "not_websocket",
            Self::MethodNotAllowed | Self::GrantMethod => "method_not_allowed",
            Self::BodyTimeout => "body_timeout",
            Self::BodyTooLarge(_) => "body_too_large",
            Self::ConnectionLimit(_) => "connection_limit",
            Self::Draining => "draining",
            Self::ClusterUnavailable => "cluster_unavailable",
            Self::TokenRevoked => "token_revoked",
            Self::ClientRevoked => "client_revoked",
            Self::RateLimited(_) => "rate_limited",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::GlobalSessionLimit => "session_limit",
            Self::ClientSessionLimit(_) => "client_session_limit",
            Self::ModelNotGranted(_) => "model_not_granted",
            Self::ProviderNotGranted => "provider_not_granted",
            Self::BadGrant(_) => "bad_grant_request",
            Self::BadBody(_) => "bad_body",
            Self::UrlNotAllowed(_) => "url_not_allowed",
            Self::UnknownModel(_) => "unknown_model",
            Self::Unsupported(_) => "unsupported",
            Self::Auth(AuthError::Missing) => "missing_credentials",
            Self::Auth(AuthError::Invalid) => "invalid_credentials",
            Self::Auth(AuthError::Expired) => "token_expired",
            Self::Auth(AuthError::NotYetValid) => "token_not_yet_valid",
            Self::Auth(AuthError::Forbidden) => "route_not_allowed",
            Self::Rewrite(RewriteError::ModelNotAllowed(_)) => "model_not_allowed",
            Self::Rewrite(RewriteError::ParamDenied(_)) => "param_denied",
            Self::Rewrite(RewriteError::DuplicateModel | RewriteError::MappingParam(_)) => {
                "bad_request"
            }
            Self::Rewrite(RewriteError::ParamNotAllowed(_)) => "param_not_allowed",
            Self::Rewrite(RewriteError::DuplicateParam(_)) => "param_duplicate",
            Self::Rewrite(RewriteError::InvalidParam { .. }) => "param_invalid",
            Self::Rewrite(RewriteError::InvalidPathSegment(_)) => "path_invalid",
            Self::Upstream(UpstreamError::Rejected { .. }) => "upstream_rejected",
            Self::Upstream(UpstreamError::Unreachable(_)) => "upstream_unreachable",
            Self::Upstream(UpstreamError::Timeout) => "upstream_timeout",
        }
    }

    pub(crate) fn err_code(&self) -> &'static str {
        match self {
            Self::NotFound => "NOT_FOUND",
            Self::NotWebSocket => "UPGRADE_REQUIRED",
            Self::MethodNotAllowed | Self::GrantMethod => "METHOD_NOT_ALLOWED",
            Self::BodyTimeout => "REQUEST_TIMEOUT",
            Self::BodyTooLarge(_) => "PAYLOAD_TOO_LARGE",
            Self::ConnectionLimit(_) => "TOO_MANY_REQUESTS",
            Self::Draining | Self::GlobalSessionLimit => "SERVICE_UNAVAILABLE",
            Self::ClusterUnavailable => "CLUSTER_UNAVAILABLE",
            Self::RateLimited(_) | Self::ClientSessionLimit(_) => "TOO_MANY_REQUESTS",
            Self::TokenRevoked => "TOKEN_REVOKED",
            Self::ClientRevoked => "CLIENT_REVOKED",
            Self::OriginNotAllowed => "ORIGIN_NOT_ALLOWED",
            Self::ModelNotGranted(_) | Self::ProviderNotGranted => "INSUFFICIENT_PERMISSIONS",
            Self::BadGrant(_) | Self::UnknownModel(_) | Self::BadBody(_) => "BAD_REQUEST",
            Self::UrlNotAllowed(_) => "URL_NOT_ALLOWED",
            Self::Unsupported(u) => u.code,
            Self::Auth(AuthError::Forbidden) => "INSUFFICIENT_PERMISSIONS",
            Self::Auth(_) => "INVALID_AUTH",
            Self::Rewrite(_) => "BAD_REQUEST",
            Self::Upstream(UpstreamError::Timeout) => "UPSTREAM_TIMEOUT",
            Self::Upstream(_) => "UPSTREAM_UNAVAILABLE",
        }
    }

    /// The refusal's message, in the body (and the API's error header).
    pub(crate) fn message(&self) -> String {
        match self {
            Self::Upstream(UpstreamError::Unreachable(_)) => "upstream unreachable".to_owned(),
            other => other.to_string(),
        }
    }

    /// The JSON body in the default client API's error shape ([`CLIENT_API`], for paths
    /// without a route of another API).
    pub(crate) fn body(&self, request_id: &str) -> serde_json::Value {
        (CLIENT_API.error_body)(self.err_code(), &self.message(), request_id)
    }

    /// The response in the default client API's error shape, with the session id as
    /// `request_id`.
    pub(crate) fn into_response_with_id(self, request_id: &str) -> Response {
        self.into_response_in(&CLIENT_API, request_id)
    }

    /// The response in `api`'s error shape (the route's), with the session id as `request_id`.
    pub(crate) fn into_response_in(self, api: &ClientApi, request_id: &str) -> Response {
        let status = self.status();
        if let Self::Upstream(UpstreamError::Rejected { body, .. }) = &self
            && status.is_client_error()
        {
            // the upstream's own 4xx (scrubbed when it arrived): same status, always JSON
            let body = crate::upstream::refusal::client_body(api, status, body, request_id);
            return (status, Json(body)).into_response();
        }
        let msg = self.message();
        let body = (api.error_body)(self.err_code(), &msg, request_id);
        let mut resp = (status, Json(body)).into_response();
        if let (Some(name), Ok(v)) = (api.error_header, HeaderValue::from_str(&msg)) {
            resp.headers_mut().insert(name, v);
        }
        if let Self::RateLimited(wait) = self {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        resp
    }
}
