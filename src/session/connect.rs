//! Connecting a session upstream: fallback in route order within one deadline, breakers,
//! and the per-attempt metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};
use tracing::{debug, warn};

use crate::error::Reject;
use crate::rewrite::{ClientQuery, MappedModel};
use crate::route::Route;
use crate::state::Shared;
use crate::upstream::{Upstream, UpstreamError, UpstreamSocket};

/// An open upstream session.
pub(super) struct Connected {
    /// The upstream that answered.
    pub(super) upstream: Arc<Upstream>,
    /// Its socket.
    pub(super) socket: UpstreamSocket,
    /// Its request id (the client API's request-id header).
    pub(super) request_id: Option<HeaderValue>,
    /// The model as sent to it.
    pub(super) model: String,
}

/// Connects to the route's upstreams in order within one overall deadline: a network error,
/// timeout or 5xx moves on to the next; a 4xx is final; an open breaker skips an upstream
/// (unless every breaker is open). The model is mapped for every upstream first, so a request
/// one of them cannot take is refused (400) whichever upstream would have served it.
pub(super) async fn connect_upstream(
    shared: &Shared,
    route: &Route,
    request: Request<'_>,
) -> Result<Connected, Reject> {
    let Request {
        query, providers, ..
    } = request;
    let candidates = candidates(shared, route, query, providers)?;
    let deadline = Instant::now() + shared.connector.timeout();
    let metrics = &shared.metrics;
    let mut last = UpstreamError::Timeout;
    for (upstream, mapped) in &candidates {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        let attempt = remaining.min(shared.server.upstream_attempt_timeout);
        let target = Target {
            upstream,
            mapped,
            request,
        };
        match attempt_upstream(shared, route, target, attempt).await {
            Ok((socket, request_id)) => {
                if !Arc::ptr_eq(upstream, route.primary()) {
                    metrics
                        .fallbacks_total
                        .with_label_values(&[&route.name, &upstream.name])
                        .inc();
                }
                return Ok(Connected {
                    upstream: upstream.clone(),
                    socket,
                    request_id,
                    model: mapped.model.clone(),
                });
            }
            Err(e) if e.is_retryable() => last = e,
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.into())
}

/// The upstreams a request on `route` may go to, in order, each with the model mapped for it:
/// those the credential is granted whose breaker lets a request through (all granted ones
/// when every breaker is open; the skipped ones counted). The model is mapped for every
/// granted upstream first, so a request one of them cannot take is refused (400) whichever
/// upstream would have served it.
pub(crate) fn candidates(
    shared: &Shared,
    route: &Route,
    query: &ClientQuery<'_>,
    providers: Option<&[String]>,
) -> Result<Vec<(Arc<Upstream>, MappedModel)>, Reject> {
    let granted: Vec<&Arc<Upstream>> = route
        .upstreams
        .iter()
        .filter(|u| providers.is_none_or(|p| p.iter().any(|k| *k == u.kind)))
        .collect();
    if granted.is_empty() {
        return Err(Reject::ProviderNotGranted);
    }
    let mapped: Vec<MappedModel> = granted
        .iter()
        .map(|u| query.mapped(&u.aliases, &route.policy))
        .collect::<Result<_, _>>()?;
    let now = Instant::now();
    let all: Vec<(Arc<Upstream>, MappedModel, bool)> = granted
        .iter()
        .zip(mapped)
        .map(|(u, m)| ((*u).clone(), m, u.breaker.allows(now)))
        .collect();
    if !all.iter().any(|(_, _, allowed)| *allowed) {
        return Ok(all.into_iter().map(|(u, m, _)| (u, m)).collect());
    }
    let (candidates, skipped): (Vec<_>, Vec<_>) = all.into_iter().partition(|(_, _, a)| *a);
    for (skipped, _, _) in skipped {
        debug!(upstream = %skipped.name, "circuit open; skipped");
        shared
            .metrics
            .upstream_attempts_total
            .with_label_values(&[&skipped.name, "skipped"])
            .inc();
    }
    Ok(candidates.into_iter().map(|(u, m, _)| (u, m)).collect())
}

/// Counts one attempt on `upstream` that took `seconds` and answered `result` (its status
/// class, or why it failed), and keeps its breaker: network errors, timeouts and 5xx count
/// against it, anything else closes it.
pub(crate) fn record_attempt(
    shared: &Shared,
    upstream: &Upstream,
    seconds: f64,
    result: Result<&str, &UpstreamError>,
) {
    let metrics = &shared.metrics;
    crate::usage::guard::observe(
        &metrics
            .upstream_connect_seconds
            .with_label_values(&[&upstream.name]),
        seconds,
    );
    let outcome = result.err().map_or("ok", UpstreamError::outcome);
    metrics
        .upstream_attempts_total
        .with_label_values(&[&upstream.name, outcome])
        .inc();
    let class = result.unwrap_or_else(|e| e.status_class());
    metrics
        .upstream_handshakes_total
        .with_label_values(&[&upstream.name, class])
        .inc();
    let circuit = metrics.circuit_open.with_label_values(&[&upstream.name]);
    match result {
        Err(e) if e.is_retryable() => {
            if upstream.breaker.record_failure(Instant::now()) {
                circuit.set(1);
            }
        }
        _ => {
            upstream.breaker.record_success();
            circuit.set(0);
        }
    }
}

/// What the client asked for: its query, the route's path captures, its headers.
#[derive(Clone, Copy)]
pub(super) struct Request<'a> {
    pub(super) query: &'a ClientQuery<'a>,
    pub(super) captures: &'a [(&'a str, &'a str)],
    pub(super) headers: &'a HeaderMap,
    /// The upstream kinds the credential is granted, if it narrows them.
    pub(super) providers: Option<&'a [String]>,
}

/// Where one attempt goes: the upstream, the model mapped for it, the client's request.
#[derive(Clone, Copy)]
struct Target<'a> {
    upstream: &'a Upstream,
    mapped: &'a MappedModel,
    request: Request<'a>,
}

/// One connect attempt, with its metrics and breaker bookkeeping.
async fn attempt_upstream(
    shared: &Shared,
    route: &Route,
    target: Target<'_>,
    timeout: Duration,
) -> Result<(UpstreamSocket, Option<HeaderValue>), UpstreamError> {
    let Target {
        upstream,
        mapped,
        request,
    } = target;
    let Request {
        query,
        captures,
        headers,
        ..
    } = request;
    let url = upstream.url(route.kind, captures, &query.render(mapped, &route.policy));
    let api = crate::provider::client_api(route.kind);
    let request = upstream.request(&url, headers, api)?;
    let started = Instant::now();
    let connected = (shared.connector.connect(request, timeout).await)
        .map_err(|e| crate::upstream::refusal::scrub(e, upstream));
    let seconds = started.elapsed().as_secs_f64();
    record_attempt(shared, upstream, seconds, connected.as_ref().map(|_| "101"));
    match connected {
        Ok((socket, response)) => {
            debug!(upstream = %upstream.name, model = %mapped.model, "upstream connected");
            Ok((
                socket,
                response.headers().get(api.request_id_header).cloned(),
            ))
        }
        Err(e) => {
            warn!(upstream = %upstream.name, error = %e, "upstream connect failed");
            Err(e)
        }
    }
}
