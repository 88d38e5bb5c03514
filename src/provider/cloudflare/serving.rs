//! Which route serves each kind's models on Cloudflare's `/workers-ai` path: the routes'
//! `workers_ai` setting.

use crate::config::{RouteConfig, RouteKind};

/// For each route, whether it serves the Workers AI path: per kind, the route that sets
/// `workers_ai = true`, else the first that does not set it to `false`. Two routes of one kind
/// setting `true` is an error.
pub(in crate::provider) fn serving(routes: &[RouteConfig], errors: &mut Vec<String>) -> Vec<bool> {
    let mut out = vec![false; routes.len()];
    for kind in [RouteKind::Listen, RouteKind::Speak, RouteKind::Flux] {
        let of_kind = || routes.iter().enumerate().filter(|(_, r)| r.kind == kind);
        let explicit: Vec<usize> = of_kind()
            .filter(|(_, r)| r.workers_ai == Some(true))
            .map(|(i, _)| i)
            .collect();
        if let [first, rest @ ..] = explicit.as_slice() {
            for i in rest {
                errors.push(format!(
                    "routes[{i}].workers_ai: routes[{first}] already serves this kind's models \
                     on the workers-ai path (at most one route per kind)"
                ));
            }
            out[*first] = true;
        } else if let Some((i, _)) = of_kind().find(|(_, r)| r.workers_ai != Some(false)) {
            out[i] = true;
        }
    }
    out
}
