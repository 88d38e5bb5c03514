//! A REST call upstream: the route's upstreams in order (breakers, fallback), each over its
//! own HTTP/1.1 connection (TCP and TLS as for the WebSocket upstreams, within the attempt's
//! connect deadline), the request built from the provider's REST entry, its error answers
//! read (bounded), scrubbed of the credential and put in Deepgram's shape.

use std::sync::Arc;
use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, Uri, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio_tungstenite::tungstenite::stream::Mode;
use tracing::{debug, warn};

use super::RestApi;
use super::body::Upload;
use crate::error::Reject;
use crate::rewrite::ClientQuery;
use crate::route::Route;
use crate::session::connect::{candidates, record_attempt};
use crate::state::Shared;
use crate::upstream::refusal::Scrubber;
use crate::upstream::{Upstream, UpstreamError};

/// Largest upstream error body read, in bytes.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// The body sent upstream.
type RequestBody = Either<Full<Bytes>, Upload>;

/// What the client sends, as it goes upstream.
pub(super) enum Payload {
    /// The audio, streamed: sent to one upstream at most.
    Stream(Upload),
    /// `{"url"}` as sent.
    Json(Bytes),
    /// The text to speak (each provider wraps it in its own body).
    Text(String),
}

/// What a call needs besides the body.
#[derive(Clone, Copy)]
pub(super) struct Call<'a> {
    pub(super) shared: &'a Shared,
    pub(super) route: &'a Route,
    pub(super) request_id: &'a str,
    pub(super) query: &'a ClientQuery<'a>,
    pub(super) providers: Option<&'a [String]>,
    pub(super) headers: &'a HeaderMap,
    /// The upstream being tried, readable should the call be cut short (its deadline).
    pub(super) trying: &'a std::sync::Mutex<Option<Arc<Upstream>>>,
}

/// An upstream's 2xx answer, its body still to be read.
pub(super) struct Exchange {
    pub(super) upstream: Arc<Upstream>,
    /// The model as sent to it.
    pub(super) model: String,
    pub(super) response: Response<Incoming>,
    pub(super) api: &'static RestApi,
}

/// A call that got no 2xx: why, and the last upstream tried.
pub(super) struct Failure {
    pub(super) upstream: Option<Arc<Upstream>>,
    pub(super) reject: Reject,
}

impl From<Reject> for Failure {
    fn from(reject: Reject) -> Self {
        Self {
            upstream: None,
            reject,
        }
    }
}

/// Calls the route's upstreams in order until one answers 2xx: a connection that fails (or
/// does not open within the attempt's deadline) moves on to the next; so does a 5xx or a
/// broken exchange when the body can be sent again (not an upload already under way); a 4xx
/// is final.
pub(super) async fn exchange(call: Call<'_>, payload: Payload) -> Result<Exchange, Failure> {
    let Call {
        shared,
        route,
        query,
        providers,
        ..
    } = call;
    let candidates = candidates(shared, route, query, providers)?;
    let deadline = Instant::now() + shared.connector.timeout();
    let (mut upload, replayable) = match payload {
        Payload::Stream(upload) => (Some(upload), None),
        Payload::Json(json) => (None, Some(Replayable::Json(json))),
        Payload::Text(text) => (None, Some(Replayable::Text(text))),
    };
    let upload_state = upload.as_ref().map(Upload::state);
    let url_body = matches!(replayable, Some(Replayable::Json(_)));
    if url_body && !candidates.iter().any(|(u, _)| fetches_urls(u)) {
        return Err(Reject::UrlNotAllowed(
            "this route's upstreams do not transcribe from URLs; send the audio as the body".into(),
        )
        .into());
    }
    let mut last = Failure::from(Reject::Upstream(UpstreamError::Timeout));
    for (upstream, mapped) in &candidates {
        let Some(api) = upstream.provider.rest else {
            continue;
        };
        if url_body && !api.url_bodies {
            continue;
        }
        if let Ok(mut trying) = call.trying.lock() {
            *trying = Some(upstream.clone());
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        let attempt = remaining.min(shared.server.upstream_attempt_timeout);
        let rendered = query.render(mapped, &route.policy);
        let endpoint = http_endpoint(&upstream.resolved_endpoint());
        let text = match &replayable {
            Some(Replayable::Text(t)) => Some(t.as_str()),
            _ => None,
        };
        let (url, json) = (api.request)(
            &endpoint,
            (upstream.provider.path)(route.kind),
            &rendered,
            text,
        );
        let failed = |e: UpstreamError| Failure {
            upstream: Some(upstream.clone()),
            reject: Reject::Upstream(e),
        };
        let started = Instant::now();
        let opened = tokio::time::timeout(attempt, open(shared, &url)).await;
        let connect_seconds = started.elapsed().as_secs_f64();
        let mut sender = match opened {
            Ok(Ok(sender)) => sender,
            not_open => {
                let e = not_open.unwrap_or(Err(UpstreamError::Timeout)).err();
                let e = e.unwrap_or(UpstreamError::Timeout);
                record_attempt(shared, upstream, connect_seconds, Err(&e));
                warn!(upstream = %upstream.name, error = %e, "upstream connect failed");
                last = failed(e);
                continue;
            }
        };
        let body = match (&replayable, json) {
            (_, Some(json)) => Either::Left(Full::new(Bytes::from(json.to_string()))),
            (Some(Replayable::Json(bytes)), None) => Either::Left(Full::new(bytes.clone())),
            (Some(Replayable::Text(t)), None) => {
                Either::Left(Full::new(Bytes::from(json!({ "text": t }).to_string())))
            }
            (None, None) => match upload.take() {
                Some(upload) => Either::Right(upload),
                // the upload went to an upstream already
                None => break,
            },
        };
        let request = build(call, upstream, api, &url, body).map_err(failed)?;
        let sent = sender.send_request(request).await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                let e = UpstreamError::Unreachable(format!("the exchange broke off: {e}"));
                if upload_state.as_ref().is_some_and(|u| u.client_failed()) {
                    // the client's upload failed (too large, stalled, broken off): no fault of
                    // the upstream's, so nothing counts against it
                    last = failed(e);
                    break;
                }
                record_attempt(shared, upstream, connect_seconds, Err(&e));
                warn!(upstream = %upstream.name, error = %e, "upstream request failed");
                last = failed(e);
                if replayable.is_some() {
                    continue;
                }
                break;
            }
        };
        let status = response.status();
        if status.is_success() {
            record_attempt(shared, upstream, connect_seconds, Ok("2xx"));
            if !Arc::ptr_eq(upstream, route.primary()) {
                (shared.metrics.fallbacks_total)
                    .with_label_values(&[&route.name, &upstream.name])
                    .inc();
            }
            debug!(upstream = %upstream.name, model = %mapped.model, %status, "upstream answered");
            return Ok(Exchange {
                upstream: upstream.clone(),
                model: mapped.model.clone(),
                response,
                api,
            });
        }
        let e = refusal(call, upstream, api, response).await;
        record_attempt(shared, upstream, connect_seconds, Err(&e));
        warn!(upstream = %upstream.name, %status, "upstream refused the request");
        let retry = status.is_server_error() && replayable.is_some();
        last = failed(e);
        if !retry {
            break;
        }
    }
    Err(last)
}

/// Whether `upstream` transcribes `{"url"}` bodies.
pub(super) fn fetches_urls(upstream: &Upstream) -> bool {
    upstream.provider.rest.is_some_and(|api| api.url_bodies)
}

/// A body that can be sent to another upstream.
enum Replayable {
    Json(Bytes),
    Text(String),
}

/// `ws://` → `http://`, `wss://` → `https://`: the upstreams' endpoints are written for their
/// WebSockets.
fn http_endpoint(endpoint: &str) -> String {
    if let Some(rest) = endpoint.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = endpoint.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        endpoint.to_owned()
    }
}

/// An HTTP/1.1 connection to `url`'s host, ready for one request.
async fn open(
    shared: &Shared,
    url: &str,
) -> Result<hyper::client::conn::http1::SendRequest<RequestBody>, UpstreamError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| UpstreamError::Unreachable("bad upstream url".into()))?;
    let (mode, default_port) = match uri.scheme_str() {
        Some("https") => (Mode::Tls, 443),
        Some("http") => (Mode::Plain, 80),
        _ => return Err(UpstreamError::Unreachable("bad upstream url".into())),
    };
    let host = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .filter(|h| !h.is_empty())
        .ok_or_else(|| UpstreamError::Unreachable("bad upstream url".into()))?;
    let port = uri.port_u16().unwrap_or(default_port);
    let stream = crate::upstream::handshake::connect(host, port, mode, shared.connector.tls())
        .await
        .map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| UpstreamError::Unreachable(format!("{host}:{port}: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            debug!(error = %e, "upstream connection ended");
        }
    });
    Ok(sender)
}

/// The request: `POST` to `url`'s path and query, its `Host`, the body's type, the client
/// headers the API forwards, the upstream's extra headers and credential (also as
/// `Authorization: Bearer` where the provider's REST API reads that).
fn build(
    call: Call<'_>,
    upstream: &Upstream,
    api: &RestApi,
    url: &str,
    body: RequestBody,
) -> Result<Request<RequestBody>, UpstreamError> {
    let bad = || UpstreamError::Unreachable("bad upstream url".into());
    let uri: Uri = url.parse().map_err(|_| bad())?;
    let authority = uri.authority().ok_or_else(bad)?.clone();
    let target: Uri = uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(|_| bad())?;
    let content_type = match &body {
        Either::Left(_) => HeaderValue::from_static("application/json"),
        Either::Right(_) => (call.headers.get(header::CONTENT_TYPE).cloned())
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    };
    let mut request = Request::new(body);
    *request.method_mut() = Method::POST;
    *request.uri_mut() = target;
    let headers = request.headers_mut();
    headers.insert(
        header::HOST,
        HeaderValue::from_str(authority.as_str()).map_err(|_| bad())?,
    );
    headers.insert(header::CONTENT_TYPE, content_type);
    let client_api = crate::provider::client_api(call.route.kind);
    upstream.apply_headers(headers, call.headers, client_api)?;
    if api.bearer_too
        && let Some((name, secret)) = &upstream.credential
        && *name != header::AUTHORIZATION
    {
        let raw = secret.expose();
        let key = match raw.split_once(' ') {
            Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => key.trim(),
            _ => raw,
        };
        let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
            .map_err(|_| UpstreamError::Unreachable("credential is not a valid header".into()))?;
        value.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, value);
    }
    Ok(request)
}

/// An upstream's non-2xx answer as a refusal: its body (bounded) scrubbed of the credential,
/// and in Deepgram's shape when the provider's errors are not.
async fn refusal(
    call: Call<'_>,
    upstream: &Upstream,
    api: &RestApi,
    response: Response<Incoming>,
) -> UpstreamError {
    let (parts, mut incoming) = response.into_parts();
    let mut body = Vec::new();
    let read = async {
        while let Some(Ok(frame)) = incoming.frame().await {
            if let Some(data) = frame.data_ref() {
                let room = MAX_ERROR_BODY - body.len();
                body.extend_from_slice(&data[..data.len().min(room)]);
                if body.len() == MAX_ERROR_BODY {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(call.shared.server.upstream_attempt_timeout, read).await;
    let mut scrubbed = Scrubber::for_upstream(upstream).scrub_body(&body);
    if let Some((code, message)) = (api.error)(&scrubbed) {
        let shaped = json!({ "err_code": code, "err_msg": message, "request_id": call.request_id });
        scrubbed = Bytes::from(shaped.to_string());
    }
    UpstreamError::Rejected {
        status: parts.status,
        content_type: parts.headers.get(header::CONTENT_TYPE).cloned(),
        body: scrubbed,
    }
}
