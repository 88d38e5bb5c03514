//! The REST half of Deepgram's API on the `listen` and `speak` routes' paths: `POST /v1/listen`
//! (prerecorded transcription of an uploaded file, or of `{"url": …}` when the route allows
//! it) and `POST /v1/speak` (`{"text": …}` answered with the audio), behind the same keys,
//! tokens, origin rules, limits, metering and metrics as the WebSocket sessions there.
//!
//! - An upload is streamed upstream as it arrives, never held whole; past
//!   `rest.max_body_bytes` (announced by `Content-Length` or not) it is answered 413 and the
//!   upstream request abandoned.
//! - The query is checked and rewritten as for a session (models, aliases, deny and force
//!   lists); `callback` is refused (the answer would go around voxrelay, unmetered).
//! - Fallback and breakers as for sessions: the next upstream is tried on a network error or
//!   timeout, and on a 5xx when the body can be sent again (JSON bodies; an upload is tried on
//!   the next upstream only when the connection failed before any of it was sent).
//! - The answer: a transcription's JSON as the upstream sent it (Workers AI's envelope
//!   removed), read whole (at most [`MAX_RESULT`]) for its `metadata.duration`; speech streamed
//!   back as it arrives with its headers. Upstream errors come back in Deepgram's shape, the
//!   credential scrubbed.
//! - Browsers call these with `fetch`: CORS from the route's `allowed_origins` ([`cors`]).
//! - Each request ends in one usage record (`voxrelay::usage`, `api = "rest"`) and in
//!   `voxrelay_rest_requests_total{route,upstream,outcome}`.

mod body;
pub(crate) mod cors;
mod upstream;
mod url;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use tracing::{Instrument, info_span};

use crate::auth::Access;
use crate::config::{RouteConfig, RouteKind};
use crate::error::Reject;
use crate::provider::{CLIENT_API, deepgram};
use crate::rewrite::{ClientQuery, RewriteError};
use crate::route::Route;
use crate::session::RouteState;
use crate::state::Shared;
use crate::upstream::UpstreamError;
use crate::usage::format::AudioFormat;
use body::{Finish, Upload};
use upstream::{Exchange, Payload};

/// Largest JSON body (`{"text"}`, `{"url"}`) read, in bytes.
const MAX_JSON_BODY: usize = 64 * 1024;
/// Largest transcription result read from the upstream, in bytes.
const MAX_RESULT: usize = 64 * 1024 * 1024;
/// Query parameters refused on REST calls: Deepgram would post the result elsewhere.
const REFUSED_PARAMS: [&str; 2] = ["callback", "callback_method"];

/// The REST half of a route.
#[derive(Debug)]
pub(crate) struct RestRoute {
    /// Largest upload, in bytes.
    pub(crate) max_body_bytes: u64,
    /// Longest a whole request may take.
    pub(crate) timeout: Duration,
    /// The hosts `{"url"}` bodies may name; `None` when they are refused.
    pub(crate) url_hosts: Option<Vec<url::HostPattern>>,
}

impl RestRoute {
    /// The REST half `r` configures (on by default on `listen` and `speak` routes), with its
    /// errors reported under `at`.
    pub(crate) fn of(r: &RouteConfig, at: &str, errors: &mut Vec<String>) -> Option<Self> {
        let serves = matches!(r.kind, RouteKind::Listen | RouteKind::Speak);
        let config = match &r.rest {
            None if serves => return Some(Self::of_config(&Default::default())),
            None => return None,
            Some(_) if !serves => {
                errors.push(format!(
                    "{at}.rest: only listen and speak routes have a REST half"
                ));
                return None;
            }
            Some(c) => c,
        };
        if !config.enabled {
            return None;
        }
        if config.max_body_bytes == 0 {
            errors.push(format!("{at}.rest.max_body_bytes: must be at least 1"));
        }
        if config.timeout.is_zero() {
            errors.push(format!("{at}.rest.timeout: must be positive"));
        }
        if config.allow_url && r.kind != RouteKind::Listen {
            errors.push(format!(
                "{at}.rest.allow_url: only listen routes take {{\"url\"}} bodies"
            ));
        }
        if config.allow_url && config.url_hosts.is_empty() {
            errors.push(format!(
                "{at}.rest.url_hosts: name the hosts {{\"url\"}} bodies may fetch from (\"*\" for any)"
            ));
        }
        for (i, host) in config.url_hosts.iter().enumerate() {
            if let Err(e) = url::HostPattern::parse(host) {
                errors.push(format!("{at}.rest.url_hosts[{i}]: {e}"));
            }
        }
        Some(Self::of_config(config))
    }

    fn of_config(config: &crate::config::RestConfig) -> Self {
        Self {
            max_body_bytes: config.max_body_bytes,
            timeout: config.timeout,
            url_hosts: config.allow_url.then(|| {
                (config.url_hosts.iter())
                    .filter_map(|h| url::HostPattern::parse(h).ok())
                    .collect()
            }),
        }
    }
}

/// Builds a REST call: (URL, JSON body of a speech request).
pub(crate) type RequestFn =
    fn(endpoint: &str, path: &str, query: &str, text: Option<&str>) -> (String, Option<Value>);

/// How a provider's REST calls are made (its registry entry's `rest`).
#[derive(Debug)]
pub(crate) struct RestApi {
    /// The upstream URL and, for speech, the JSON body: from the endpoint (`http(s)://`), the
    /// provider's path for the route kind, the rewritten query and the text to speak.
    pub(crate) request: RequestFn,
    /// Whether the credential also goes in `Authorization: Bearer` (besides the provider's own
    /// header).
    pub(crate) bearer_too: bool,
    /// Whether it transcribes `{"url"}` bodies (fetching the audio itself).
    pub(crate) url_bodies: bool,
    /// A transcription's answer in Deepgram's shape, from the upstream's 2xx body.
    pub(crate) result: fn(Bytes) -> Result<Bytes, String>,
    /// An upstream error body's (code, message), when the API's errors are not Deepgram's.
    pub(crate) error: fn(&[u8]) -> Option<(String, String)>,
}

/// What the client sends: the audio, a URL for the upstream to fetch, or text to speak.
enum Input {
    /// An audio upload, streamed.
    Audio(Upload),
    /// `{"url": …}` (already checked against the route's hosts), as sent.
    Url(Bytes),
    /// `{"text": …}`.
    Text(String),
}

/// Axum handler for `POST` on a `listen` or `speak` route's path.
pub(crate) async fn handle(
    State(state): State<RouteState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let span = info_span!(
        "rest",
        request_id = %request_id,
        route = %state.route.name,
        %peer,
        client = tracing::field::Empty,
        upstream = tracing::field::Empty,
    );
    async move {
        let request = Request {
            request_id: &request_id,
            peer,
            uri: &uri,
            headers: &headers,
        };
        match serve(&state, request, body).await {
            Ok(resp) => resp,
            Err(reject) => {
                crate::session::count_refusal(&state, &reject);
                reject.into_response_in(&CLIENT_API, &request_id)
            }
        }
    }
    .instrument(span)
    .await
}

/// `OPTIONS` that is no CORS preflight (the preflights are answered by [`cors::layer`]).
pub(crate) async fn options() -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = axum::http::StatusCode::NO_CONTENT;
    resp.headers_mut().insert(
        header::ALLOW,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    resp
}

/// The parts of the request the checks read.
#[derive(Clone, Copy)]
struct Request<'a> {
    request_id: &'a str,
    peer: SocketAddr,
    uri: &'a Uri,
    headers: &'a HeaderMap,
}

/// Every check, then the upstream call and the answer.
async fn serve(state: &RouteState, request: Request<'_>, body: Body) -> Result<Response, Reject> {
    let Request {
        request_id,
        peer,
        uri,
        headers,
    } = request;
    let (shared, route) = (&state.shared, &state.route);
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"));
    // a WebSocket upgrade attempted with POST is a wrong upgrade, not a REST call
    let Some(rest) = route.rest.as_ref().filter(|_| !upgrade) else {
        return Err(Reject::MethodNotAllowed);
    };
    if shared.draining.is_cancelled() {
        return Err(Reject::Draining);
    }
    let tracked = shared.tracker.token();
    let ip = shared.limits.client_ip(peer, headers);
    shared.limits.check_rate(ip).await?;
    if !route.origin_allowed(&crate::origin::presented(headers)) {
        return Err(Reject::OriginNotAllowed);
    }
    let access = authenticate(shared, route, headers)?;
    tracing::Span::current().record("client", access.client_id.as_str());
    let query = ClientQuery::parse(uri.query(), &route.policy)?;
    for name in REFUSED_PARAMS {
        if !query.values(name, &route.policy).is_empty() {
            return Err(RewriteError::ParamDenied(name.to_owned()).into());
        }
    }
    if query.names_model() {
        crate::session::check_model_granted(&access, &query.model)?;
    }
    let input = read_input(shared, route, rest, headers, body).await?;
    let permit = shared
        .limits
        .acquire(
            &access.client_id,
            access.max_concurrent,
            access.jti.as_deref(),
            request_id,
        )
        .await?;
    let client_label = shared.metrics.client_label(&access.client_id);
    let active = (shared.metrics.rest_requests_active).with_label_values(&[&route.name]);
    active.inc();
    let (payload, upload, bytes_in, characters) = match input {
        Input::Audio(upload) => {
            let state = upload.state();
            (Payload::Stream(upload), Some(state), 0, 0)
        }
        Input::Url(json) => {
            let len = json.len() as u64;
            (Payload::Json(json), None, len, 0)
        }
        Input::Text(text) => {
            let (len, chars) = (text.len() as u64, text.chars().count() as u64);
            (Payload::Text(text), None, len, chars)
        }
    };
    let mut finish = Finish {
        shared: shared.clone(),
        route: route.clone(),
        request_id: request_id.to_owned(),
        client_id: access.client_id.clone(),
        client_label,
        upstream: None,
        model: query.model.clone(),
        started: Instant::now(),
        active,
        upload: upload.clone(),
        bytes_in,
        bytes_out: 0,
        audio_seconds: 0.0,
        characters,
        status: None,
        outcome: None,
        _permit: permit,
        _tracked: tracked,
    };
    let trying = std::sync::Mutex::new(None);
    let call = upstream::Call {
        shared,
        route,
        request_id,
        query: &query,
        providers: access.providers.as_deref(),
        headers,
        trying: &trying,
    };
    let deadline = tokio::time::Instant::now() + rest.timeout;
    let exchanged = tokio::time::timeout_at(deadline, upstream::exchange(call, payload)).await;
    let exchange = match exchanged {
        Ok(Ok(exchange)) => exchange,
        Ok(Err(failure)) => {
            finish.upstream = failure.upstream;
            // the client's side first: an upload over the limit or broken off
            let client_side = upload.as_ref().and_then(|u| u.refusal(rest.max_body_bytes));
            let reject = client_side.unwrap_or(failure.reject);
            return Ok(finish.refuse(reject));
        }
        Err(_) => {
            finish.upstream = trying.into_inner().ok().flatten();
            return Ok(finish.refuse(Reject::Upstream(UpstreamError::Timeout)));
        }
    };
    finish.upstream = Some(exchange.upstream.clone());
    tracing::Span::current().record("upstream", exchange.upstream.name.as_str());
    finish.model = exchange.model.clone();
    Ok(match route.kind {
        RouteKind::Speak => speech(exchange, finish, &query.model, deadline),
        _ => {
            let format = AudioFormat::read(&query, &route.policy).ok();
            let raw_rate = format.and_then(|f| f.rate(route.kind));
            transcription(exchange, finish, raw_rate, deadline).await
        }
    })
}

/// The client's credential (`Authorization: Token|Bearer`, or any form the route's API
/// takes in headers), checked; routes with `require_auth = false` admit everyone.
fn authenticate(shared: &Shared, route: &Route, headers: &HeaderMap) -> Result<Access, Reject> {
    if !route.require_auth {
        return Ok(crate::session::anonymous());
    }
    let credential = crate::auth::credential(headers)?;
    let access = shared
        .auth
        .load()
        .authorize(&credential.token, &route.name)?;
    Ok(access)
}

/// The request body as the route takes it: JSON (`{"text"}` on speak routes, `{"url"}` on
/// listen routes that allow it) read whole within `server.request_body_timeout`, anything else
/// on a listen route the audio, streamed.
async fn read_input(
    shared: &Shared,
    route: &Route,
    rest: &RestRoute,
    headers: &HeaderMap,
    body: Body,
) -> Result<Input, Reject> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match route.kind {
        RouteKind::Speak => {
            let value = read_json(shared, declared, body).await?;
            let text = match value.get("text") {
                Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
                _ => return Err(Reject::BadBody("the body must be {\"text\": \"…\"}".into())),
            };
            Ok(Input::Text(text))
        }
        _ if json => {
            let value = read_json(shared, declared, body).await?;
            let Some(Value::String(target)) = value.get("url") else {
                return Err(Reject::BadBody("the body must be {\"url\": \"…\"}".into()));
            };
            let Some(hosts) = &rest.url_hosts else {
                return Err(Reject::UrlNotAllowed(
                    "this route does not transcribe from URLs; send the audio as the body".into(),
                ));
            };
            url::check(target, hosts)?;
            if !route.upstreams.iter().any(|u| upstream::fetches_urls(u)) {
                return Err(Reject::UrlNotAllowed(
                    "this route's upstreams do not transcribe from URLs (Workers AI takes the \
                     audio itself); send the audio as the body"
                        .into(),
                ));
            }
            Ok(Input::Url(Bytes::from(value.to_string())))
        }
        _ => {
            if declared.is_some_and(|n| n > rest.max_body_bytes) {
                return Err(Reject::BodyTooLarge(rest.max_body_bytes as usize));
            }
            if declared == Some(0) {
                return Err(Reject::BadBody("the body holds no audio".into()));
            }
            let gap = shared.server.request_body_timeout;
            let upload = Upload::new(body, declared, rest.max_body_bytes, gap);
            Ok(Input::Audio(upload))
        }
    }
}

/// A JSON object body of at most [`MAX_JSON_BODY`] bytes.
async fn read_json(shared: &Shared, declared: Option<u64>, body: Body) -> Result<Value, Reject> {
    if declared.is_some_and(|n| n > MAX_JSON_BODY as u64) {
        return Err(Reject::BodyTooLarge(MAX_JSON_BODY));
    }
    let deadline = shared.server.request_body_timeout;
    let bytes =
        match tokio::time::timeout(deadline, axum::body::to_bytes(body, MAX_JSON_BODY)).await {
            Err(_) => return Err(Reject::BodyTimeout),
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) if crate::grant::is_length_limit(&e) => {
                return Err(Reject::BodyTooLarge(MAX_JSON_BODY));
            }
            Ok(Err(_)) => return Err(Reject::BadBody("the body could not be read".into())),
        };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(Reject::BadBody("the body is not a JSON object".into())),
    }
}

/// A transcription's answer: read whole (bounded), metered by its `metadata.duration` times
/// its channels, sent in Deepgram's shape.
/// `raw_rate`: the upload's bytes per second when the query names a raw format.
async fn transcription(
    exchange: Exchange,
    mut finish: Finish,
    raw_rate: Option<f64>,
    deadline: tokio::time::Instant,
) -> Response {
    let Exchange {
        upstream,
        response,
        api,
        ..
    } = exchange;
    let (parts, incoming) = response.into_parts();
    let read = tokio::time::timeout_at(
        deadline,
        axum::body::to_bytes(Body::new(incoming), MAX_RESULT),
    )
    .await;
    let unreadable = |why: &str| Reject::Upstream(UpstreamError::Unreachable(why.to_owned()));
    let raw = match read {
        Ok(Ok(raw)) => raw,
        Ok(Err(_)) => {
            return finish.refuse(unreadable(
                "the upstream's answer broke off or was too large",
            ));
        }
        Err(_) => return finish.refuse(Reject::Upstream(UpstreamError::Timeout)),
    };
    let body = match (api.result)(raw) {
        Ok(body) => body,
        Err(why) => {
            tracing::warn!(upstream = %upstream.name, why, "upstream answer not understood");
            return finish.refuse(unreadable("the upstream's answer could not be read"));
        }
    };
    let uploaded = (finish.upload.as_ref().map(|u| u.bytes())).zip(raw_rate);
    let (seconds, has_metadata) = audio_seconds(&body, uploaded);
    finish.audio_seconds = seconds;
    // the result is read whole once more only when it lacks `metadata`
    let body = if has_metadata {
        body
    } else {
        with_metadata(body, &finish.request_id, seconds)
    };
    finish.bytes_out = body.len() as u64;
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = parts.status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    copy_request_id(&parts.headers, headers, &finish.request_id);
    finish.done(parts.status, "ok");
    resp
}

/// Audio seconds a prerecorded result bills: its `metadata.duration` times
/// `metadata.channels`. A result without them (Workers AI documents only `results`) is metered
/// from the upload instead: its bytes at the query's raw format (`encoding`, `sample_rate`,
/// `channels`), else the end of the last word transcribed in each channel. Also says whether
/// the result has a `metadata` object.
fn audio_seconds(body: &[u8], uploaded: Option<(u64, f64)>) -> (f64, bool) {
    #[derive(serde::Deserialize)]
    struct Answer {
        metadata: Option<Metadata>,
        results: Option<Results>,
    }
    #[derive(serde::Deserialize)]
    struct Metadata {
        duration: Option<f64>,
        channels: Option<u32>,
    }
    #[derive(serde::Deserialize)]
    struct Results {
        #[serde(default)]
        channels: Vec<Channel>,
    }
    #[derive(serde::Deserialize)]
    struct Channel {
        #[serde(default)]
        alternatives: Vec<Alternative>,
    }
    #[derive(serde::Deserialize)]
    struct Alternative {
        #[serde(default)]
        words: Vec<Word>,
    }
    #[derive(serde::Deserialize)]
    struct Word {
        end: Option<f64>,
    }
    let answer = serde_json::from_slice::<Answer>(body).ok();
    let has_metadata = answer.as_ref().is_some_and(|a| a.metadata.is_some());
    let usable = |d: f64| d.is_finite() && d >= 0.0;
    if let Some(Metadata {
        duration: Some(d),
        channels,
    }) = answer.as_ref().and_then(|a| a.metadata.as_ref())
        && usable(*d)
    {
        return (d * f64::from(channels.unwrap_or(1).max(1)), has_metadata);
    }
    if let Some((bytes, rate)) = uploaded
        && rate > 0.0
    {
        return (bytes as f64 / rate, has_metadata);
    }
    let last_words = answer
        .and_then(|a| a.results)
        .map(|r| {
            (r.channels.iter())
                .filter_map(|c| c.alternatives.first()?.words.last()?.end)
                .filter(|e| usable(*e))
                .sum::<f64>()
        })
        .unwrap_or(0.0);
    if last_words == 0.0 {
        tracing::warn!("the transcription has no duration and no words; metered as 0 s");
    }
    (last_words, has_metadata)
}

/// `body` with a `metadata` object when it has none (Workers AI documents only `results`), so
/// Deepgram's clients find the fields they read there (`request_id`, `duration`, `channels`):
/// voxrelay's request id and the audio seconds it metered, spread over the channels. A body that
/// has one, or is no JSON object, is passed as is.
fn with_metadata(body: Bytes, request_id: &str, audio_seconds: f64) -> Bytes {
    let Ok(Value::Object(mut answer)) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    if answer.contains_key("metadata") {
        return body;
    }
    let channels = answer
        .get("results")
        .and_then(|r| r.get("channels"))
        .and_then(Value::as_array)
        .map_or(1, |c| c.len().max(1));
    let metadata = serde_json::json!({
        "request_id": request_id,
        "duration": audio_seconds / channels as f64,
        "channels": channels,
        "models": [],
        "model_info": {},
    });
    answer.insert("metadata".into(), metadata);
    Bytes::from(Value::Object(answer).to_string())
}

/// Speech: the upstream's audio streamed to the client as it arrives, with its headers.
/// `asked` is the model as the client named it.
fn speech(
    exchange: Exchange,
    finish: Finish,
    asked: &str,
    deadline: tokio::time::Instant,
) -> Response {
    let (parts, incoming) = exchange.response.into_parts();
    let request_id = finish.request_id.clone();
    let characters = finish.characters;
    let mut resp = Response::new(Body::new(body::Metered::new(incoming, finish, deadline)));
    *resp.status_mut() = parts.status;
    let headers = resp.headers_mut();
    let passed = [
        header::CONTENT_TYPE.as_str(),
        header::CONTENT_LENGTH.as_str(),
    ];
    for name in passed.into_iter().chain(deepgram::SPEECH_HEADERS) {
        if let Some(v) = parts.headers.get(name) {
            headers.insert(name, v.clone());
        }
    }
    // Workers AI sends neither: the character count voxrelay bills, the model the client named
    if !headers.contains_key(deepgram::CHAR_COUNT_HEADER) {
        headers.insert(deepgram::CHAR_COUNT_HEADER, HeaderValue::from(characters));
    }
    if !headers.contains_key(deepgram::MODEL_NAME_HEADER)
        && let Ok(model) = HeaderValue::from_str(asked)
    {
        headers.insert(deepgram::MODEL_NAME_HEADER, model);
    }
    copy_request_id(&parts.headers, headers, &request_id);
    resp
}

/// The request id (`dg-request-id`): the upstream's, else voxrelay's own.
fn copy_request_id(from: &HeaderMap, to: &mut HeaderMap, request_id: &str) {
    let name = CLIENT_API.request_id_header;
    let id = (from.get(name).cloned()).or_else(|| HeaderValue::from_str(request_id).ok());
    if let Some(id) = id {
        to.insert(name, id);
    }
}

#[cfg(test)]
mod tests;
