//! A route at runtime: the path a browser connects to, its API kind, upstreams and query rules.

use std::sync::Arc;

use crate::config::RouteKind;
use crate::rewrite::QueryPolicy;
use crate::upstream::Upstream;

/// A validated route.
#[derive(Debug)]
pub struct Route {
    /// Name used in metrics, logs and key grants.
    pub name: String,
    /// Path served, e.g. `/v1/listen`.
    pub path: String,
    /// API spoken.
    pub kind: RouteKind,
    /// Upstreams in order of preference (never empty).
    pub upstreams: Vec<Arc<Upstream>>,
    /// Model and query rules.
    pub policy: QueryPolicy,
}

impl Route {
    /// The upstream sessions use now: the first in the list.
    pub fn primary(&self) -> &Arc<Upstream> {
        &self.upstreams[0]
    }
}
