//! OpenAI's ephemeral-key endpoint, `POST <realtime route>/client_secrets`: a backend using the
//! OpenAI SDK's own mint call (`client.realtime.clientSecrets.create(…)`, base URL pointed at
//! voxrelay) trades its voxrelay client key for a voxrelay token the browser presents as its
//! OpenAI key.
//!
//! The SDKs build both URLs from one base (`<base>/realtime` for the socket,
//! `<base>/realtime/client_secrets` for the mint), so every `realtime` route serves the endpoint
//! at its own path plus `/client_secrets`. The front door (rate, client key, body deadline and
//! size) is the grant endpoint's; refusals take OpenAI's error shape. The token is narrowed to
//! that route and the session's model, and carries [`TOKEN_PREFIX`], which the SDKs' browser
//! gate looks for; authentication removes it again and accepts only voxrelay's signed format
//! after it, so a real OpenAI `ek_` key is refused as invalid.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use tracing::info;

use super::CLIENT_API;
use crate::auth::{AuthError, ClientKey};
use crate::config::{RouteConfig, RouteKind};
use crate::error::Reject;
use crate::grant::{admit_request, method_not_allowed, no_store, refuse};
use crate::rewrite::{Pattern, RewriteError};
use crate::route::Route;
use crate::state::Shared;

/// Prefix of the tokens this endpoint mints (OpenAI's ephemeral keys look the same).
pub(crate) const TOKEN_PREFIX: &str = "ek_";

/// Shortest and longest `expires_after.seconds` OpenAI accepts, and its default.
const MIN_SECONDS: u64 = 10;
const MAX_SECONDS: u64 = 7200;
const DEFAULT_SECONDS: u64 = 600;

/// The session types OpenAI's client secrets are minted for.
const SESSION_TYPES: [&str; 2] = ["realtime", "transcription"];

/// Where a route at `route_path` serves the endpoint.
fn path_for(route_path: &str) -> String {
    format!("{}/client_secrets", route_path.trim_end_matches('/'))
}

/// The route an endpoint mints for, and the shared state.
#[derive(Clone, Debug)]
struct Mount {
    shared: Arc<Shared>,
    route: Arc<Route>,
}

/// The endpoint under every `realtime` route; `None` when there is none.
pub(super) fn router(shared: Arc<Shared>, routes: &[Arc<Route>]) -> Option<Router<Arc<Shared>>> {
    let mut router = None;
    for route in routes.iter().filter(|r| r.kind == RouteKind::Realtime) {
        let mount = Mount {
            shared: shared.clone(),
            route: route.clone(),
        };
        let methods = post(mint)
            .fallback(
                |State(m): State<Mount>| async move { method_not_allowed(&m.shared, &CLIENT_API) },
            )
            .with_state(mount);
        router = Some(
            router
                .unwrap_or_else(Router::new)
                .route(&path_for(&route.path), methods),
        );
    }
    router
}

/// No setting picks these routes (every `realtime` route serves its own endpoint): only a
/// route whose path one of them would take is reported.
pub(super) fn own_path_routes(routes: &[RouteConfig], errors: &mut Vec<String>) -> Vec<bool> {
    for (j, realtime) in routes
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind == RouteKind::Realtime)
    {
        let taken = path_for(&realtime.path);
        for (i, _) in routes.iter().enumerate().filter(|(_, r)| r.path == taken) {
            errors.push(format!(
                "routes[{i}].path: routes[{j}] (realtime) serves its client-secret endpoint at {taken}"
            ));
        }
    }
    vec![false; routes.len()]
}

/// Mints a client secret, or refuses in OpenAI's error shape.
async fn mint(
    State(at): State<Mount>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let result = match admit_request(&at.shared, peer, request).await {
        Ok((key, body)) => issue(&at, &key, &body),
        Err(reject) => Err(reject),
    };
    let response = match result {
        Ok(secret) => {
            at.shared.metrics.grants_total.inc();
            Json(secret).into_response()
        }
        Err(reject) => refuse(&at.shared, &CLIENT_API, reject),
    };
    no_store(response)
}

/// What a request asks for.
#[derive(Debug, PartialEq)]
struct Ask {
    /// Lifetime asked for.
    seconds: u64,
    /// The requested session, with `type` and `model` filled in.
    session: Map<String, Value>,
    /// The model to grant: the conversation model, or a transcription session's transcription
    /// model; `None` (a transcription session naming none) leaves the route's allowlist alone.
    model: Option<String>,
}

fn issue(at: &Mount, key: &ClientKey, body: &[u8]) -> Result<Value, Reject> {
    let route = &at.route;
    let ask = parse(body, &route.policy.default_model)?;
    if !key
        .routes
        .as_ref()
        .is_none_or(|routes| routes.contains(&route.name))
    {
        return Err(AuthError::Forbidden.into());
    }
    if let Some(model) = &ask.model
        && !Pattern::any_matches_model(&route.policy.models, model)
    {
        let quoted = model.chars().take(64).collect();
        return Err(RewriteError::ModelNotAllowed(quoted).into());
    }
    let auth = at.shared.auth.load();
    let tokens = &auth.tokens;
    // the operator's longest grant bounds it too; `expires_at` says when it really ends
    let ttl = Duration::from_secs(ask.seconds).min(tokens.grant_max_ttl);
    let scope = crate::token::Scope {
        routes: Some(vec![route.name.clone()]),
        models: ask.model.clone().map(|m| vec![m]),
        providers: None,
    };
    let (token, expires_at) = tokens.mint_for(&key.id, scope, ttl);
    info!(client = %key.id, route = %route.name, model = ask.model.as_deref().unwrap_or("-"),
        ttl_seconds = ttl.as_secs(), "client secret issued");
    Ok(json!({
        "value": format!("{TOKEN_PREFIX}{token}"),
        "expires_at": expires_at,
        "session": ask.session,
    }))
}

fn bad(message: impl Into<String>) -> Reject {
    Reject::BadGrant(message.into())
}

/// Reads `{"expires_after":{"anchor":"created_at","seconds":N},"session":{"type":…,"model":…}}`;
/// every part is optional (an empty body too), as in OpenAI's API.
fn parse(body: &[u8], default_model: &str) -> Result<Ask, Reject> {
    let mut object = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice(body) {
            Ok(Value::Object(object)) => object,
            _ => return Err(bad("the body must be a JSON object")),
        }
    };
    let seconds = match object.remove("expires_after") {
        None | Some(Value::Null) => DEFAULT_SECONDS,
        Some(Value::Object(expires)) => expires_after(&expires)?,
        Some(_) => return Err(bad("expires_after must be an object")),
    };
    let mut session = match object.remove("session") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(session)) => session,
        Some(_) => return Err(bad("session must be an object")),
    };
    let kind = match session.get("type") {
        None | Some(Value::Null) => SESSION_TYPES[0],
        Some(Value::String(t)) if SESSION_TYPES.contains(&t.as_str()) => t.as_str(),
        Some(_) => return Err(bad("session.type must be 'realtime' or 'transcription'")),
    }
    .to_owned();
    // a transcription session has no conversation model: its grant is its transcription model
    let model = if kind == "transcription" {
        let transcription = session
            .get("audio")
            .and_then(|a| a.get("input"))
            .and_then(|i| i.get("transcription"))
            .and_then(|t| t.get("model"));
        match transcription {
            None | Some(Value::Null) => None,
            Some(m) => Some(model_name(m, "session.audio.input.transcription.model")?),
        }
    } else {
        let model = match session.get("model") {
            None | Some(Value::Null) => default_model.to_owned(),
            Some(m) => model_name(m, "session.model")?,
        };
        session.insert("model".into(), Value::String(model.clone()));
        Some(model)
    };
    session.insert("type".into(), Value::String(kind));
    Ok(Ask {
        seconds,
        session,
        model,
    })
}

/// A model name to grant: a non-empty string without `*` (which would make the grant a pattern).
fn model_name(value: &Value, at: &str) -> Result<String, Reject> {
    match value {
        Value::String(m) if !m.is_empty() && !m.contains('*') => Ok(m.clone()),
        _ => Err(bad(format!("{at} must be a model name"))),
    }
}

/// `expires_after`: `anchor` is `created_at` (the only one OpenAI has), `seconds` a whole
/// number from 10 to 7200.
fn expires_after(expires: &Map<String, Value>) -> Result<u64, Reject> {
    match expires.get("anchor") {
        None | Some(Value::Null) => {}
        Some(Value::String(a)) if a == "created_at" => {}
        Some(_) => return Err(bad("expires_after.anchor must be 'created_at'")),
    }
    let seconds = match expires.get("seconds") {
        None | Some(Value::Null) => return Ok(DEFAULT_SECONDS),
        Some(s) => s.as_u64().or_else(|| {
            s.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= MAX_SECONDS as f64)
                .map(|f| f as u64)
        }),
    };
    seconds
        .filter(|s| (MIN_SECONDS..=MAX_SECONDS).contains(s))
        .ok_or_else(|| {
            bad(format!(
                "expires_after.seconds must be a whole number from {MIN_SECONDS} to {MAX_SECONDS}"
            ))
        })
}

#[cfg(test)]
mod tests;
