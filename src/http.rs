//! The HTTP surface: health, readiness, metrics (here or on their own listener), the grant
//! endpoint, one WebSocket handler per route, JSON 404.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, any, get, on, post};
use axum::{Json, Router};
use serde_json::json;
use tower_http::trace::TraceLayer;

use crate::config::DemoConfig;
use crate::error::Reject;
use crate::grant::{GRANT_PATH, grant, grant_method_not_allowed};
use crate::route::Route;
use crate::session::{RouteState, handle};
use crate::state::Shared;

/// Route label for requests that match no route.
pub(crate) const NO_ROUTE: &str = "none";

/// Builds the router for `routes`; `/metrics` is on it only when `with_metrics` (no separate
/// metrics listener).
pub(crate) fn router(
    shared: Arc<Shared>,
    routes: &[Arc<Route>],
    demo: &DemoConfig,
    with_metrics: bool,
) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz).with_state(shared.clone()))
        .route(
            GRANT_PATH,
            post(grant)
                .fallback(grant_method_not_allowed)
                .with_state(shared.clone()),
        );
    if with_metrics {
        router = router.route("/metrics", get(metrics).with_state(shared.clone()));
    }
    for route in routes {
        let state = RouteState {
            shared: shared.clone(),
            route: route.clone(),
        };
        let methods = match &route.rest {
            // the REST half beside the upgrades: POST and its CORS preflight; any other
            // method is the upgrade handler's JSON 405 as before
            Some(_) => on(MethodFilter::GET, handle)
                .fallback(handle)
                .merge(
                    post(crate::rest::handle)
                        .options(crate::rest::options)
                        .layer(crate::rest::cors::layer(route.clone())),
                )
                .with_state(state),
            None => any(handle).with_state(state),
        };
        router = router.route(&route.path, methods);
    }
    router = router.merge(crate::provider::paths(&shared, routes));
    // spans carry method and path only: a query may hold a token
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
        tracing::debug_span!("http", method = %req.method(), path = %req.uri().path())
    });
    router
        .merge(crate::demo::router(demo, routes))
        .fallback(not_found)
        .with_state(shared)
        .layer(trace)
}

/// The separate metrics listener's router: `/metrics`, and JSON 404 for anything else.
pub(crate) fn metrics_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(shared)
}

async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if shared.draining.is_cancelled() {
        let body = json!({"status": "draining"});
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    } else if shared.limits.cluster().is_some_and(|c| !c.ready()) {
        // fail_closed and Redis does not answer: this replica would refuse every session
        let body = json!({"status": "cluster_unavailable"});
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    } else {
        Json(json!({"status": "ready"})).into_response()
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let content_type = [(
        header::CONTENT_TYPE,
        "text/plain; version=0.0.4; charset=utf-8",
    )];
    (content_type, shared.metrics.render()).into_response()
}

async fn not_found(State(shared): State<Arc<Shared>>) -> Response {
    let reject = Reject::NotFound;
    shared
        .metrics
        .rejections_total
        .with_label_values(&[NO_ROUTE, reject.reason()])
        .inc();
    reject.into_response_with_id(&uuid::Uuid::new_v4().to_string())
}
