//! Cloudflare AI Gateway's own client-facing path,
//! `/v1/<account>/<gateway>/workers-ai?model=@cf/deepgram/…`.
//!
//! A client written against the gateway switches to voxrelay by changing the host alone. The
//! gateway has no per-API path: the model picks the protocol, so this path hands the request to
//! the route of the model's kind (`nova-*` → listen, `flux` → flux, `aura-*` → speak), which
//! then checks and relays it exactly as on its own path. `<account>` and `<gateway>` may be
//! anything: voxrelay's upstreams carry the real ones.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::any;
use tracing::info;

use super::MODEL_PREFIX;
use crate::config::RouteKind;
use crate::error::Reject;
use crate::http::NO_ROUTE;
use crate::route::Route;
use crate::session::upgrade::{ClientUpgrade, UpgradeRejection};
use crate::session::{RouteState, serve};
use crate::state::Shared;

/// The path served (axum syntax).
pub(crate) const PATH: &str = "/v1/{account}/{gateway}/workers-ai";

/// The routes serving the Workers AI path, one per kind at most.
#[derive(Clone, Debug)]
pub(crate) struct WorkersAi {
    shared: Arc<Shared>,
    listen: Option<Arc<Route>>,
    speak: Option<Arc<Route>>,
    flux: Option<Arc<Route>>,
}

impl WorkersAi {
    /// The table for `routes`; `None` when no route serves the path.
    pub(crate) fn new(shared: Arc<Shared>, routes: &[Arc<Route>]) -> Option<Self> {
        let of = |kind| {
            routes
                .iter()
                .find(|r| r.kind == kind && r.workers_ai)
                .cloned()
        };
        let table = Self {
            shared,
            listen: of(RouteKind::Listen),
            speak: of(RouteKind::Speak),
            flux: of(RouteKind::Flux),
        };
        let any = table.listen.is_some() || table.speak.is_some() || table.flux.is_some();
        any.then_some(table)
    }

    fn route(&self, kind: RouteKind) -> Option<&Arc<Route>> {
        match kind {
            RouteKind::Listen => self.listen.as_ref(),
            RouteKind::Speak => self.speak.as_ref(),
            RouteKind::Flux => self.flux.as_ref(),
            // no Workers AI model speaks the other APIs
            _ => None,
        }
    }
}

/// The router for [`PATH`], when a route serves it.
pub(super) fn router(shared: Arc<Shared>, routes: &[Arc<Route>]) -> Option<Router<Arc<Shared>>> {
    let table = WorkersAi::new(shared, routes)?;
    Some(Router::new().route(PATH, any(handle).with_state(table)))
}

/// The API a Deepgram model speaks, from its bare or `@cf/deepgram/` name.
pub(crate) fn kind_of(model: &str) -> Option<RouteKind> {
    let bare = model.strip_prefix(MODEL_PREFIX).unwrap_or(model);
    if bare.starts_with("nova-") {
        Some(RouteKind::Listen)
    } else if bare == "flux" || bare.starts_with("flux-") {
        Some(RouteKind::Flux)
    } else if bare.starts_with("aura-") {
        Some(RouteKind::Speak)
    } else {
        None
    }
}

/// The first `model` in a raw query, decoded.
fn model_of(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "model")
        .map(|(_, v)| v.into_owned())
}

/// Picks the route for the request's model, or says why none fits.
fn choose(table: &WorkersAi, query: Option<&str>) -> Result<Arc<Route>, Reject> {
    let Some(model) = model_of(query) else {
        return Err(Reject::UnknownModel(
            "query parameter 'model' is required on this path, e.g. model=@cf/deepgram/nova-3"
                .into(),
        ));
    };
    let quoted: String = model.chars().take(64).collect();
    let Some(kind) = kind_of(&model) else {
        return Err(Reject::UnknownModel(format!(
            "model '{quoted}' is not a Deepgram model served here (nova-*, flux, aura-*)"
        )));
    };
    table.route(kind).cloned().ok_or_else(|| {
        Reject::UnknownModel(format!(
            "model '{quoted}' is not served on this path: no route of its kind"
        ))
    })
}

/// Axum handler for [`PATH`].
pub(crate) async fn handle(
    State(table): State<WorkersAi>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    ws: Result<ClientUpgrade, UpgradeRejection>,
) -> Response {
    match choose(&table, uri.query()) {
        Ok(route) => {
            let state = RouteState {
                shared: table.shared.clone(),
                route,
            };
            serve(state, peer, uri, headers, ws).await
        }
        Err(reject) => {
            let reason = reject.reason();
            info!(reason, %peer, "workers-ai handshake refused");
            table
                .shared
                .metrics
                .rejections_total
                .with_label_values(&[NO_ROUTE, reason])
                .inc();
            reject.into_response_with_id(&uuid::Uuid::new_v4().to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_select_their_kind() {
        for (model, kind) in [
            ("@cf/deepgram/nova-3", Some(RouteKind::Listen)),
            ("nova-2", Some(RouteKind::Listen)),
            ("@cf/deepgram/flux", Some(RouteKind::Flux)),
            ("flux-general-en", Some(RouteKind::Flux)),
            ("@cf/deepgram/aura-1", Some(RouteKind::Speak)),
            ("aura-2-thalia-en", Some(RouteKind::Speak)),
            ("@cf/openai/whisper", None),
            ("fluxx", None),
            ("", None),
        ] {
            assert_eq!(kind_of(model), kind, "{model}");
        }
    }

    #[test]
    fn the_model_is_read_decoded() {
        assert_eq!(
            model_of(Some("encoding=linear16&model=%40cf%2Fdeepgram%2Fnova-3")).as_deref(),
            Some("@cf/deepgram/nova-3")
        );
        assert_eq!(model_of(Some("a=1")), None);
        assert_eq!(model_of(None), None);
    }
}
