//! Validating the routes: names, paths, origins, query rules, keep-alive, upstreams, models.

use crate::config::RouteKind;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::super::RouteConfig;
use super::{RESERVED_PATHS, query};
use crate::origin::OriginPattern;
use crate::provider::client_api;
use crate::rewrite::{Pattern, QueryPolicy, params};
use crate::route::Route;
use crate::upstream::Upstream;

/// `upstreams` holds the valid upstreams; `defined` names every upstream in the file, valid or
/// not, so an invalid one (already reported) is not reported again as unknown.
pub(super) fn routes(
    raw: &[RouteConfig],
    upstreams: &BTreeMap<String, Arc<Upstream>>,
    defined: &BTreeSet<&str>,
    errors: &mut Vec<String>,
) -> Vec<Arc<Route>> {
    if raw.is_empty() {
        errors.push("routes: at least one route is required".into());
    }
    let (mut names, mut paths) = (BTreeSet::new(), BTreeSet::new());
    let serves_own_paths = crate::provider::own_path_routes(raw, errors);
    let mut out = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let at = format!("routes[{i}]");
        let before = errors.len();
        if r.name.is_empty()
            || !r
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            errors.push(format!("{at}.name: letters, digits, '-' and '_' only"));
        } else if !names.insert(r.name.as_str()) {
            errors.push(format!("{at}.name: duplicate route name '{}'", r.name));
        }
        let bad_capture = r
            .path
            .split('/')
            .any(|seg| seg.contains(['{', '}']) && crate::route::capture_name(seg).is_none());
        if !r.path.starts_with('/') || r.path.contains(['?', '#', '*']) || bad_capture {
            errors.push(format!(
                "{at}.path: must be an absolute path without wildcards; a segment may be a \
                 capture such as {{voice_id}}"
            ));
        } else if RESERVED_PATHS.contains(&r.path.as_str()) {
            errors.push(format!(
                "{at}.path: {} is served by voxrelay itself",
                r.path
            ));
        } else if !paths.insert(r.path.as_str()) {
            errors.push(format!("{at}.path: duplicate path '{}'", r.path));
        }
        let mut origins = Vec::new();
        for (j, o) in r.allowed_origins.iter().enumerate() {
            match OriginPattern::parse(o) {
                Ok(p) => origins.push(p),
                Err(e) => errors.push(format!("{at}.allowed_origins[{j}]: {e}")),
            }
        }
        query::param_rules(r, &at, errors);
        if r.keepalive == Some(true)
            && let Some(why) = (client_api(r.kind).keepalive_refused)(r.kind)
        {
            errors.push(format!("{at}.keepalive: {why}"));
        }
        if r.keepalive_interval.is_zero() {
            errors.push(format!("{at}.keepalive_interval: must be positive"));
        }
        if r.max_session.is_some_and(|d| d.is_zero()) {
            errors.push(format!("{at}.max_session: must be positive"));
        }
        if r.upstreams.is_empty() {
            errors.push(format!("{at}.upstreams: at least one upstream is required"));
        }
        let mut invalid_upstream = false;
        let ups: Vec<Arc<Upstream>> = r
            .upstreams
            .iter()
            .filter_map(|name| {
                let found = upstreams.get(name).cloned();
                if found.is_none() {
                    invalid_upstream = true;
                    if !defined.contains(name.as_str()) {
                        errors.push(format!("{at}.upstreams: unknown upstream '{name}'"));
                    }
                }
                found
            })
            .collect();
        for u in &ups {
            if !u.provider.route_kinds.contains(&r.kind) {
                errors.push(format!(
                    "{at}.upstreams: upstream '{}' cannot serve a {} route",
                    u.name,
                    r.kind.as_str()
                ));
            } else if let Some(missing) = missing_capture((u.provider.path)(r.kind), &r.path) {
                errors.push(format!(
                    "{at}.path: upstream '{}' needs the segment {{{missing}}} in the path",
                    u.name
                ));
            }
        }
        generic_settings(r, &at, errors);
        let rest = crate::rest::RestRoute::of(r, &at, errors);
        let models: Vec<Pattern> = r.models.iter().map(|m| Pattern::new(m)).collect();
        if !models.iter().any(|p| p.matches(&r.default_model)) {
            errors.push(format!(
                "{at}.default_model: '{}' is not in models",
                r.default_model
            ));
        }
        if errors.len() == before && !invalid_upstream {
            out.push(Arc::new(Route {
                name: r.name.clone(),
                path: r.path.clone(),
                kind: r.kind,
                upstreams: ups,
                origins,
                allow_missing_origin: r.allow_missing_origin,
                require_auth: r.require_auth,
                keepalive: r
                    .keepalive
                    .unwrap_or((client_api(r.kind).keepalive_by_default)(r.kind))
                    .then_some(r.keepalive_interval),
                max_session: r.max_session,
                policy: QueryPolicy {
                    default_model: r.default_model.clone(),
                    models: models.into(),
                    deny_params: r.deny_params.iter().map(|p| params::normalise(p)).collect(),
                    force_params: r.force_params.clone().into_iter().collect(),
                    allow_params: r
                        .allow_params
                        .as_ref()
                        .map(|a| a.iter().map(|p| params::normalise(p)).collect()),
                    modelless_param: client_api(r.kind).modelless_param,
                    model_param: r
                        .model_param
                        .as_deref()
                        .map(|p| params::normalise(p).into())
                        .or(client_api(r.kind).model_param.map(Into::into)),
                },
                workers_ai: serves_own_paths[i],
                audio_bytes_per_second: r.audio_bytes_per_second,
                rest,
            }));
        }
    }
    out
}

/// A capture the upstream path template uses that the route's path does not capture.
fn missing_capture<'a>(template: &'a str, route_path: &str) -> Option<&'a str> {
    template
        .split('/')
        .filter_map(crate::route::capture_name)
        .find(|name| {
            !route_path
                .split('/')
                .filter_map(crate::route::capture_name)
                .any(|n| n == *name)
        })
}

/// `model_param` and `audio_bytes_per_second` belong to generic routes, and the rate must be a
/// positive number.
fn generic_settings(r: &RouteConfig, at: &str, errors: &mut Vec<String>) {
    if r.kind != RouteKind::Generic {
        for (key, set) in [
            ("model_param", r.model_param.is_some()),
            ("audio_bytes_per_second", r.audio_bytes_per_second.is_some()),
        ] {
            if set {
                errors.push(format!("{at}.{key}: only generic routes take it"));
            }
        }
    }
    if let Some(rate) = r.audio_bytes_per_second
        && !(rate.is_finite() && rate >= 1.0)
    {
        errors.push(format!(
            "{at}.audio_bytes_per_second: must be a number of at least 1"
        ));
    }
    if r.model_param
        .as_deref()
        .is_some_and(|p| params::normalise(p).is_empty())
    {
        errors.push(format!("{at}.model_param: must name a parameter"));
    }
}
