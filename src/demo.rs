//! The demo page (`/demo/`): plain HTML/JS compiled into the binary, plus the public settings it
//! reads (routes and the demo key it trades for grants).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use serde_json::json;

use crate::config::DemoConfig;
use crate::route::Route;

const INDEX: &str = include_str!("../demo/index.html");
const APP: &str = include_str!("../demo/app.js");
const AUDIO: &str = include_str!("../demo/audio.js");
const REALTIME: &str = include_str!("../demo/realtime.js");
const PROVIDERS: &str = include_str!("../demo/providers.js");
const PROVIDER_KINDS: &str = include_str!("../demo/provider-kinds.js");

/// A script of the page.
fn script(body: &'static str) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        body,
    )
}

/// Routes serving the page; empty when the demo is disabled.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(
    demo: &DemoConfig,
    routes: &[Arc<Route>],
) -> Router<S> {
    if !demo.enabled {
        return Router::new();
    }
    let config = json!({
        "key": demo.public_key,
        "routes": routes.iter().map(|r| json!({
            "name": r.name,
            "path": r.path,
            "kind": r.kind.as_str(),
            "model": r.policy.default_model,
        })).collect::<Vec<_>>(),
    });
    Router::new()
        .route("/demo", get(|| async { Redirect::permanent("/demo/") }))
        .route(
            "/demo/",
            get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX) }),
        )
        .route("/demo/app.js", get(|| async { script(APP) }))
        .route("/demo/audio.js", get(|| async { script(AUDIO) }))
        .route("/demo/realtime.js", get(|| async { script(REALTIME) }))
        .route("/demo/providers.js", get(|| async { script(PROVIDERS) }))
        .route(
            "/demo/provider-kinds.js",
            get(|| async { script(PROVIDER_KINDS) }),
        )
        .route(
            "/demo/config.json",
            get(move || async move { Json(config).into_response() }),
        )
}
